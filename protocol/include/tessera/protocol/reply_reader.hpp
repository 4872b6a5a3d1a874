// ReplyReader: the client side of RESP2. A resumable parser for every RESP2 reply type, nested
// arrays included, kept apart from the server's RequestParser (the grammars differ).
//
// Design. Bytes go into a small owned buffer (InputBuffer, shared with the server's RequestParser;
// prepare/commit, or feed). next() parses as far as it
// can and keeps its place: the reply under construction lives in the reader, with a stack of the
// arrays still being filled, so a reply may arrive split at any byte. Lines (+, -, :, and the $ and
// * headers) must end in CRLF and be at most max_line bytes; bulk data is counted, never scanned,
// and is copied into the reply as it arrives, so the buffer stays small however big the bulk.
// Nothing a server declares is allocated before it arrives: an array of N elements grows as they
// come, and a bulk grows its string in proportion to the bytes received.
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
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray, kNullArray };
  Type type = Type::kNull;
  std::string str;              // simple, error (without '-'), bulk
  std::int64_t integer = 0;     // integer
  std::vector<Reply> elements;  // array

  friend bool operator==(const Reply&, const Reply&) = default;
};

struct ReaderLimits {
  std::size_t max_bulk_len = kMaxBulkLen;
  std::size_t max_elements = 1024 * 1024 * 64;  // per array
  std::size_t max_depth = 64;                   // arrays nested in arrays
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
    Reply* array;           // the array being filled
    std::size_t remaining;  // elements not yet complete
  };

  Reply* start_value();  // where the next value goes: the root or a new element of the top array
  bool finish_value();   // a value is complete; true when that completes the whole reply
  Status fail(std::string_view why);

  ReaderLimits limits_;
  InputBuffer input_;
  std::size_t begin_ = 0;  // next unparsed byte (everything before it is consumed)
  std::size_t scan_ = 0;   // the current line was searched for '\r' up to here
  State state_ = State::kValue;
  Reply root_;
  std::vector<Frame> stack_;
  Reply* bulk_ = nullptr;  // kBulkData: the bulk being filled
  std::size_t bulk_left_ = 0;
  std::string error_;
};

}  // namespace tessera::protocol
