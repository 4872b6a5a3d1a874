// RequestParser: see the design note in request_parser.hpp. This file keeps Redis 7.0's parsing
// rules (networking.c processInlineBuffer, processMultibulkBuffer, sds.c sdssplitargs) next to
// the code that implements them.
#include "tessera/protocol/request_parser.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "tessera/protocol/numbers.hpp"

namespace tessera::protocol {
namespace {

// isspace() in the "C" locale, which is what sdssplitargs uses to skip blanks between words.
constexpr bool is_c_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

constexpr bool is_hex_digit(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The byte a backslash escape stands for inside "...": \n \r \t \b \a, any other byte itself.
constexpr char unescape(char c) noexcept {
  constexpr std::string_view kEscape = "nrtba";
  constexpr std::string_view kByte = "\n\r\t\b\a";
  const std::size_t i = kEscape.find(c);
  return i == std::string_view::npos ? c : kByte[i];
}

// sdssplitargs (Redis 7.0 sds.c), in place. Redis runs it on a C string, so a NUL byte ends the
// line: peek() returns '\0' both past the end and on a NUL byte, which reproduces that exactly.
//
// Words are separated by blanks; "..." understands \xHH, \n, \r, \t, \b, \a and \<any> escapes;
// '...' understands only \'. A quote may open in the middle of a word (foo"bar" is foobar), but a
// closing quote must be followed by a blank or the end of the line, otherwise (like an unclosed
// quote) the request is "unbalanced quotes".
//
// Unescaping writes each output byte at w, and every output byte consumes at least one input byte
// at p, so w <= p always holds: the write never overtakes what is still to be read, and the words
// end up as views into the line itself.
bool split_inline(char* line, std::size_t len, std::vector<std::string_view>& argv) {
  const char* const end = line + len;
  auto peek = [end](const char* q) noexcept -> char { return q < end ? *q : '\0'; };
  const char* p = line;
  char* w = line;
  for (;;) {
    while (peek(p) != '\0' && is_c_space(*p)) ++p;
    if (peek(p) == '\0') return true;
    char* const word = w;
    char quote = '\0';  // '"' or '\'' inside a quoted part of the word
    bool done = false;
    while (!done) {
      const char c = peek(p);
      if (quote != '\0') {
        if (quote == '"' && c == '\\' && peek(p + 1) == 'x' && is_hex_digit(peek(p + 2)) &&
            is_hex_digit(peek(p + 3))) {
          *w++ = static_cast<char>(hex_value(p[2]) * 16 + hex_value(p[3]));
          p += 3;
        } else if (quote == '"' && c == '\\' && peek(p + 1) != '\0') {
          ++p;
          *w++ = unescape(*p);
        } else if (quote == '\'' && c == '\\' && peek(p + 1) == '\'') {
          ++p;
          *w++ = '\'';
        } else if (c == quote) {
          if (peek(p + 1) != '\0' && !is_c_space(p[1])) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          *w++ = c;
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
          case '\'':
            quote = c;
            break;
          default:
            *w++ = c;
            break;
        }
      }
      if (peek(p) != '\0') ++p;
    }
    argv.emplace_back(word, static_cast<std::size_t>(w - word));
  }
}

}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

RequestParser::RequestParser(RequestParser&& other) noexcept
    : limits_(other.limits_),
      input_(std::move(other.input_)),
      cmd_start_(std::exchange(other.cmd_start_, 0)),
      pos_(std::exchange(other.pos_, 0)),
      scan_(std::exchange(other.scan_, 0)),
      bulk_len_(std::exchange(other.bulk_len_, 0)),
      remaining_(std::exchange(other.remaining_, 0)),
      state_(std::exchange(other.state_, State::kStart)),
      unauthenticated_(std::exchange(other.unauthenticated_, false)),
      args_(std::move(other.args_)),
      error_(std::move(other.error_)) {
  other.args_.clear();
  other.error_.clear();
}

RequestParser& RequestParser::operator=(RequestParser&& other) noexcept {
  if (this != &other) {
    limits_ = other.limits_;
    input_ = std::move(other.input_);
    cmd_start_ = std::exchange(other.cmd_start_, 0);
    pos_ = std::exchange(other.pos_, 0);
    scan_ = std::exchange(other.scan_, 0);
    bulk_len_ = std::exchange(other.bulk_len_, 0);
    remaining_ = std::exchange(other.remaining_, 0);
    state_ = std::exchange(other.state_, State::kStart);
    unauthenticated_ = std::exchange(other.unauthenticated_, false);
    args_ = std::move(other.args_);
    error_ = std::move(other.error_);
    other.args_.clear();
    other.error_.clear();
  }
  return *this;
}

std::span<char> RequestParser::prepare(std::size_t min_size) {
  // A pending bulk caps a growth step at its own end, so the rest of it is read straight into its
  // final place and no more is allocated than it needs.
  const std::size_t bulk_end = state_ == State::kBulkData ? (pos_ - cmd_start_) + bulk_len_ + 2 : 0;
  const std::size_t shift = input_.prepare(cmd_start_, min_size, bulk_end);
  cmd_start_ -= shift;
  pos_ -= shift;
  scan_ -= shift;
  return input_.writable();
}

void RequestParser::trim() noexcept {
  if (input_.trim(cmd_start_)) cmd_start_ = pos_ = scan_ = 0;
}

void RequestParser::commit(std::size_t n) { input_.commit(n); }

void RequestParser::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  prepare(bytes.size());
  input_.append(bytes);
}

RequestParser::Status RequestParser::fail(std::string_view text) {
  state_ = State::kError;
  error_.assign(text);
  return Status::kError;
}

// Redis finds a header's end with strchr(..., '\r') and then only requires one more byte (it
// skips the '\n' without checking it). "Too big" is judged on the line: more than max_inline_len
// bytes before the '\r'. The search never goes past that window, so a hostile header costs at
// most one scan of max_inline_len bytes, and resumes where it stopped.
bool RequestParser::find_header_end(std::size_t& cr, std::string_view too_big) {
  switch (input_.find('\r', pos_, limits_.max_inline_len, scan_, cr)) {
    case InputBuffer::Search::kFound:
      return cr + 1 < input_.end();
    case InputBuffer::Search::kTooLong:
      fail(too_big);
      return false;
    case InputBuffer::Search::kNeedMore:
      return false;
  }
  return false;
}

RequestParser::Status RequestParser::next(std::vector<std::string_view>& argv) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        cmd_start_ = pos_;
        if (pos_ == input_.end()) return Status::kNeedMore;
        scan_ = pos_;
        state_ = input_.data()[pos_] == '*' ? State::kCount : State::kInline;
        break;
      }
      case State::kCount: {
        std::size_t cr = 0;
        if (!find_header_end(cr, errors::kTooBigMbulkCount)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        std::int64_t n = 0;
        if (!parse_int64({input_.data() + pos_ + 1, cr - pos_ - 1}, n) || n > INT_MAX ||
            (n > 0 && static_cast<std::uint64_t>(n) > limits_.max_args)) {
          return fail(errors::kInvalidMultibulkLength);
        }
        if (unauthenticated_ && n > kUnauthenticatedMaxArgs) {
          return fail(errors::kUnauthenticatedMultibulkLength);
        }
        pos_ = cr + 2;
        if (n <= 0) {  // *0 and *-N: nothing to run, no reply
          state_ = State::kStart;
          break;
        }
        args_.clear();
        remaining_ = static_cast<std::size_t>(n);
        scan_ = pos_;
        state_ = State::kBulkLen;
        break;
      }
      case State::kBulkLen: {
        std::size_t cr = 0;
        if (!find_header_end(cr, errors::kTooBigBulkCount)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        const char first = input_.data()[pos_];
        if (first != '$') {
          // Redis's reply mapper turns CR and LF into spaces.
          const char shown = (first == '\r' || first == '\n') ? ' ' : first;
          std::string text(errors::kExpectedDollarPrefix);
          text.push_back(shown);
          text.push_back('\'');
          return fail(text);
        }
        std::int64_t len = 0;
        if (!parse_int64({input_.data() + pos_ + 1, cr - pos_ - 1}, len) || len < 0 ||
            static_cast<std::uint64_t>(len) > limits_.max_bulk_len) {
          return fail(errors::kInvalidBulkLength);
        }
        if (unauthenticated_ && len > kUnauthenticatedMaxBulk) {
          return fail(errors::kUnauthenticatedBulkLength);
        }
        pos_ = cr + 2;
        bulk_len_ = static_cast<std::size_t>(len);
        state_ = State::kBulkData;
        [[fallthrough]];
      }
      case State::kBulkData: {
        // Counted, never scanned: the data is binary. The two bytes after it are skipped
        // unchecked, as Redis does.
        const std::size_t avail = input_.end() - pos_;
        if (avail < bulk_len_ || avail - bulk_len_ < 2) return Status::kNeedMore;
        args_.push_back({pos_ - cmd_start_, bulk_len_});
        pos_ += bulk_len_ + 2;
        scan_ = pos_;
        if (--remaining_ != 0) {
          state_ = State::kBulkLen;
          break;
        }
        argv.clear();
        const char* const base = input_.data() + cmd_start_;
        for (const ArgRef& a : args_) argv.emplace_back(base + a.offset, a.size);
        state_ = State::kStart;
        cmd_start_ = pos_;
        return Status::kCommand;
      }
      case State::kInline: {
        const Status s = parse_inline(argv);
        if (s != Status::kCommand || !argv.empty()) return s;
        break;  // an empty or blank line: no command, go on
      }
      case State::kError:
        return Status::kError;
    }
  }
}

// Redis looks for '\n' and drops one '\r' before it. "Too big" is judged on the line: more than
// max_inline_len bytes before the '\n'. Returns kCommand with an empty argv for a blank line.
RequestParser::Status RequestParser::parse_inline(std::vector<std::string_view>& argv) {
  std::size_t newline = 0;
  switch (input_.find('\n', pos_, limits_.max_inline_len, scan_, newline)) {
    case InputBuffer::Search::kFound:
      break;
    case InputBuffer::Search::kTooLong:
      return fail(errors::kTooBigInline);
    case InputBuffer::Search::kNeedMore:
      return Status::kNeedMore;
  }
  char* const base = input_.data();
  std::size_t line_end = newline;
  if (line_end > pos_ && base[line_end - 1] == '\r') --line_end;
  argv.clear();
  if (!split_inline(base + pos_, line_end - pos_, argv)) {
    argv.clear();
    return fail(errors::kUnbalancedQuotes);
  }
  if (argv.size() > limits_.max_args) {
    argv.clear();
    return fail(errors::kInvalidMultibulkLength);
  }
  pos_ = scan_ = newline + 1;
  state_ = State::kStart;
  cmd_start_ = pos_;
  return Status::kCommand;
}

}  // namespace tessera::protocol
