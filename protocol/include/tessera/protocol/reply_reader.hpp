// ReplyReader: the client side of RESP2 and RESP3. A resumable parser for every reply type, nested
// aggregates included, kept apart from the server's RequestParser (the grammars differ).
//
// Design. Bytes go into a small owned buffer (InputBuffer, shared with the server's RequestParser;
// prepare/commit, or feed). next() parses as far as it can and keeps its place: the reply under
// construction lives in the reader, with a stack of the aggregates still being filled, so a reply
// may arrive split at any byte. Lines (every type byte but the blob data) must end in CRLF and be
// at most max_line bytes; blob data ($ ! = and streamed-string chunks) is counted, never scanned,
// and is copied into the reply as it arrives, so the buffer stays small however big the blob.
// Nothing a server declares is allocated before it arrives: an aggregate of N elements grows as
// they come, and a blob grows its string in proportion to the bytes received.
//
// RESP3 (what a server sends after HELLO 3): null `_`, double `,`, boolean `#`, big number `(`,
// blob error `!`, verbatim string `=`, map `%`, set `~`, push `>`, attribute `|`, and the streamed
// forms `$?` (chunks `;n`, ending `;0`) and `*?` `%?` `~?` `>?` `|?` (ending `.`). An attribute is
// not a value of its own: it is attached to the value that follows it (Reply::attributes), at any
// depth. The RESP2 types read as before, so one reader serves a connection that switches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/input_buffer.hpp"
#include "tessera/protocol/limits.hpp"

namespace tessera::protocol {

struct Reply {
  enum class Type {
    // RESP2 (and RESP3).
    kSimple,     // +text
    kError,      // -text, or RESP3's blob error !len
    kInteger,    // :n
    kBulk,       // $len (or a streamed string $? ;n ... ;0)
    kNull,       // $-1, or RESP3's _
    kArray,      // *n
    kNullArray,  // *-1
    // RESP3.
    kDouble,     // ,text: `number` holds the value, `str` the text as sent ("1.5", "inf", "-nan")
    kBoolean,    // #t / #f: `integer` is 1 or 0
    kBigNumber,  // (digits: `str` holds the digits (with their sign)
    kVerbatim,   // =len fmt:text: `format` holds fmt ("txt", "mkd"), `str` the text
    kMap,        // %n: `elements` holds key, value, key, value...
    kSet,        // ~n
    kPush,       // >n (out-of-band data: pub/sub messages, invalidations)
    kAttribute,  // |n: only ever seen inside the reader; next() attaches it to the next value
  };
  Type type = Type::kNull;
  std::string str;              // simple, error (without '-'), bulk, double, big number, verbatim
  std::int64_t integer = 0;     // integer; boolean (1 or 0)
  double number = 0;            // double
  std::string format;           // verbatim
  std::vector<Reply> elements;  // array, set, push; map: key, value, key, value, ...
  // The RESP3 attribute that preceded this value (key, value, ...); empty when there was none.
  std::vector<Reply> attributes;

  bool is_aggregate() const noexcept {
    return type == Type::kArray || type == Type::kMap || type == Type::kSet ||
           type == Type::kPush || type == Type::kAttribute;
  }
  // Member-wise, except that two NaN doubles are equal (the same reply read twice compares equal).
  friend bool operator==(const Reply& a, const Reply& b);
};

struct ReaderLimits {
  std::size_t max_bulk_len = kMaxBulkLen;
  std::size_t max_elements = 1024 * 1024 * 64;  // per aggregate (a map of n pairs holds 2n)
  std::size_t max_depth = 64;                   // aggregates nested in aggregates
  std::size_t max_line = kMaxInlineLen;         // bytes before a line's CRLF, type byte included
};

// Client-side resumable reply parser. Not thread-safe; one per connection.
class ReplyReader {
 public:
  enum class Status { kNeedMore, kReply, kError };

  explicit ReplyReader(ReaderLimits limits = {});
  // A moved-from reader is empty and usable, as if just constructed with the same limits.
  ReplyReader(ReplyReader&& other) noexcept;
  ReplyReader& operator=(ReplyReader&& other) noexcept;
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  // Writable space (>= min_size bytes) for the next read; commit(n) after writing n bytes there.
  std::span<char> prepare(std::size_t min_size = kDefaultReadSize);
  // Throws std::length_error if n is larger than the span from the last prepare().
  void commit(std::size_t n);
  void feed(std::string_view bytes);  // convenience: prepare + copy + commit

  // kReply: `out` is replaced by the next complete reply. kNeedMore: nothing complete yet.
  // kError: malformed stream, error() says why; the stream is unusable (the error is sticky).
  Status next(Reply& out);
  std::string_view error() const noexcept { return error_; }

  // Bytes received and not yet parsed.
  std::size_t buffered() const noexcept { return input_.end() - begin_; }
  // Size of the input buffer allocation (for tests and memory accounting).
  std::size_t capacity() const noexcept { return input_.capacity(); }

 private:
  enum class State : std::uint8_t { kValue, kBulkData, kBulkEnd, kError };
  struct Frame {
    Reply* aggregate;       // the aggregate being filled
    std::size_t remaining;  // elements not yet complete (unused when streamed)
    bool streamed;          // *? %? ...: ends at a '.' line instead of a count
  };

  // Where the next value goes: the root or a new element of the top aggregate; a pending
  // attribute in that place becomes the new value's `attributes`. nullptr: a streamed aggregate
  // would pass max_elements.
  Reply* start_value();
  // A value is complete in the top frame (or at the root): counts it, closing every aggregate it
  // completes. True when that completes the whole reply.
  bool finish_value();
  // The aggregate of the top frame is complete (its count reached, or its '.'): pops it and counts
  // it in its parent. An attribute counts nothing: it waits for the value it belongs to.
  bool finish_aggregate();
  Status line_value(char type, std::string_view text);
  Status blob_complete();
  Status complete_reply(Reply& out);
  Status fail(std::string_view why);

  ReaderLimits limits_;
  InputBuffer input_;
  std::size_t begin_ = 0;  // next unparsed byte (everything before it is consumed)
  std::size_t scan_ = 0;   // the current line was searched for '\r' up to here
  State state_ = State::kValue;
  Reply root_;
  std::vector<Frame> stack_;
  Reply* bulk_ = nullptr;  // kBulkData: the blob being filled (also between streamed chunks)
  std::size_t bulk_left_ = 0;
  bool chunked_ = false;  // bulk_ is a streamed string ($?): the next line is a ';' chunk header
  bool done_ = false;     // line_value() / blob_complete() completed the whole reply
  std::string error_;
};

}  // namespace tessera::protocol
