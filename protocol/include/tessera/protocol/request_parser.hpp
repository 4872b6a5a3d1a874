// RequestParser: the server side of RESP2. Bytes in, commands (argument vectors) out.
//
// Design. The parser owns one contiguous input buffer (InputBuffer, shared with the client's
// ReplyReader); the socket reads straight into it (prepare() + commit()), and next() yields every
// complete command as string_views into that buffer, so a command costs no allocation and no copy
// in steady state:
//
//   0          cmd_start_      pos_          end_              cap_
//   |  consumed  | current cmd   | unparsed    | free (prepare)  |
//   | (returned  | (args parsed  |             |                 |
//   |  commands) |  so far)      |             |                 |
//
// It is a resumable state machine (kStart -> kCount -> (kBulkLen -> kBulkData)* for multibulk,
// kStart -> kInline for inline requests): a command may arrive split at any byte, and the parser
// keeps where it stopped scanning, so no consumed byte is looked at twice. Header lines are found
// with memchr; bulk data is never scanned, only counted (it is binary). Arguments of a command
// still in flight are kept as offsets from cmd_start_, so prepare() may move the buffer.
//
// Redis 7.0 compatibility (networking.c processInlineBuffer / processMultibulkBuffer): the same
// grammar, the same limits and the same error texts. Two deliberate, deterministic differences:
// a limit is judged on the line itself, not on how much happened to be buffered (so the verdict
// never depends on how the input was split), and a NUL byte in a header line is just an invalid
// character instead of hiding the terminator (Redis's strchr would wait for 64 KB).
//
// Memory. Nothing the client declares is allocated before it arrives: argument slots grow as
// bulks arrive (never reserved for a hostile `*N`), and a pending large bulk grows the buffer in
// steps of at most twice what is buffered (never 512 MB for a bare `$536870912` header).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/input_buffer.hpp"
#include "tessera/protocol/limits.hpp"

namespace tessera::protocol {

struct ParserLimits {
  std::size_t max_bulk_len = kMaxBulkLen;
  std::size_t max_inline_len = kMaxInlineLen;
  std::size_t max_args = 1024 * 1024;  // configurable cap on arguments per command
};

// The exact protocol-error texts (Redis 7.0), without the leading '-' and the CRLF.
namespace errors {
inline constexpr std::string_view kInvalidMultibulkLength =
    "ERR Protocol error: invalid multibulk length";
inline constexpr std::string_view kInvalidBulkLength = "ERR Protocol error: invalid bulk length";
inline constexpr std::string_view kUnbalancedQuotes =
    "ERR Protocol error: unbalanced quotes in request";
inline constexpr std::string_view kTooBigInline = "ERR Protocol error: too big inline request";
inline constexpr std::string_view kTooBigMbulkCount =
    "ERR Protocol error: too big mbulk count string";
inline constexpr std::string_view kTooBigBulkCount =
    "ERR Protocol error: too big bulk count string";
// While a password is required and the client has not authenticated (set_unauthenticated):
// a multibulk of more than 10 arguments, a bulk of more than 16384 bytes.
inline constexpr std::string_view kUnauthenticatedMultibulkLength =
    "ERR Protocol error: unauthenticated multibulk length";
inline constexpr std::string_view kUnauthenticatedBulkLength =
    "ERR Protocol error: unauthenticated bulk length";
// Followed by the offending byte and a closing quote: "... expected '$', got 'f'".
inline constexpr std::string_view kExpectedDollarPrefix = "ERR Protocol error: expected '$', got '";
}  // namespace errors

// Server-side request parser. Not thread-safe; one per connection.
class RequestParser {
 public:
  enum class Status { kNeedMore, kCommand, kError };

  explicit RequestParser(ParserLimits limits = {});
  // A moved-from parser is empty and usable, as if just constructed with the same limits.
  RequestParser(RequestParser&& other) noexcept;
  RequestParser& operator=(RequestParser&& other) noexcept;
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Writable space (>= min_size bytes) for the next read. When a large bulk is pending, the space
  // reaches toward the end of the bulk (growing in bounded steps), so the rest of the bulk is read
  // straight into its final place. Invalidates the argument views of every command returned so
  // far (it may compact or move the buffer). Throws std::bad_alloc (the parser is then unchanged),
  // or std::length_error for a min_size above 1 TB.
  std::span<char> prepare(std::size_t min_size = kDefaultReadSize);

  // n bytes were written at the start of the span from the last prepare(). Throws
  // std::length_error if n is larger than that span.
  void commit(std::size_t n);

  // Convenience for tests and tools: prepare(bytes.size()), copy, commit.
  void feed(std::string_view bytes);

  // Parses the next complete command from what was committed. kCommand: `argv` is cleared and
  // filled with views into the parser's buffer, valid until the next prepare(). kNeedMore: nothing
  // complete (never re-scans consumed bytes). kError: error() holds the exact reply text without
  // the leading '-' and the CRLF, e.g. "ERR Protocol error: invalid multibulk length"; the caller
  // writes it and closes the connection. The error is sticky. Empty lines, *0 and *-N produce no
  // command (they are skipped, as in Redis).
  Status next(std::vector<std::string_view>& argv);

  std::string_view error() const noexcept { return error_; }

  // Bytes held in the buffer that are not yet returned as commands (the partial command and
  // anything after it): what the server's query-buffer limit should count.
  std::size_t buffered() const noexcept { return input_.end() - cmd_start_; }

  // Size of the buffer allocation (for tests and memory accounting).
  std::size_t capacity() const noexcept { return input_.capacity(); }
  // Everything the parser holds on the heap: the buffer plus its per-command bookkeeping.
  std::size_t memory_bytes() const noexcept {
    return input_.capacity() + args_.capacity() * sizeof(ArgRef) + error_.capacity();
  }

  const ParserLimits& limits() const noexcept { return limits_; }

  // Redis's pre-authentication limits (networking.c, authRequired()): while on, a multibulk
  // header of more than 10 arguments and a bulk header of more than 16384 bytes are protocol
  // errors ("unauthenticated multibulk length" / "unauthenticated bulk length"). Inline requests
  // are not limited further, as in Redis. The server turns it on for a connection that must AUTH
  // and off once it has; it applies to headers parsed after the call.
  void set_unauthenticated(bool on) noexcept { unauthenticated_ = on; }
  static constexpr std::int64_t kUnauthenticatedMaxArgs = 10;
  static constexpr std::int64_t kUnauthenticatedMaxBulk = 16384;

  // Gives back a buffer larger than 1 MB when nothing is pending (a large bulk otherwise keeps
  // its buffer until the connection's next small read). For the server's idle timer; cheap.
  void trim() noexcept;

 private:
  enum class State : std::uint8_t { kStart, kCount, kBulkLen, kBulkData, kInline, kError };
  struct ArgRef {
    std::size_t offset;  // from cmd_start_, so the buffer may move under a partial command
    std::size_t size;
  };
  // Looks for the '\r' that ends the header line at pos_ and for the byte after it. Returns true
  // with `cr` set when the whole line is there; false when more input is needed or on error
  // (state_ is then kError).
  bool find_header_end(std::size_t& cr, std::string_view too_big);
  Status parse_inline(std::vector<std::string_view>& argv);
  Status fail(std::string_view text);

  // Offsets into input_: cmd_start_ <= pos_ <= input_.end() and cmd_start_ <= scan_ (prepare()
  // moves all three by the same distance).
  ParserLimits limits_;
  InputBuffer input_;
  std::size_t cmd_start_ = 0;  // first byte still needed (start of the current command)
  std::size_t pos_ = 0;        // next byte to parse: the current line or bulk starts here
  std::size_t scan_ = 0;       // the current line was searched for its terminator up to here
  std::size_t bulk_len_ = 0;   // kBulkData: length of the pending bulk (without its CRLF)
  std::size_t remaining_ = 0;  // bulks still expected by the current multibulk
  State state_ = State::kStart;
  bool unauthenticated_ = false;
  std::vector<ArgRef> args_;
  std::string error_;
};

}  // namespace tessera::protocol
