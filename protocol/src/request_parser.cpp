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
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      const char c = peek(p);
      if (in_double) {
        if (c == '\\' && peek(p + 1) == 'x' && is_hex_digit(peek(p + 2)) &&
            is_hex_digit(peek(p + 3))) {
          *w++ = static_cast<char>(hex_value(p[2]) * 16 + hex_value(p[3]));
          p += 3;
        } else if (c == '\\' && peek(p + 1) != '\0') {
          ++p;
          switch (*p) {
            case 'n':
              *w++ = '\n';
              break;
            case 'r':
              *w++ = '\r';
              break;
            case 't':
              *w++ = '\t';
              break;
            case 'b':
              *w++ = '\b';
              break;
            case 'a':
              *w++ = '\a';
              break;
            default:
              *w++ = *p;
              break;
          }
        } else if (c == '"') {
          if (peek(p + 1) != '\0' && !is_c_space(p[1])) return false;
          done = true;
        } else if (c == '\0') {
          return false;
        } else {
          *w++ = c;
        }
      } else if (in_single) {
        if (c == '\\' && peek(p + 1) == '\'') {
          ++p;
          *w++ = '\'';
        } else if (c == '\'') {
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
            in_double = true;
            break;
          case '\'':
            in_single = true;
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
      buf_(std::move(other.buf_)),
      cap_(std::exchange(other.cap_, 0)),
      cmd_start_(std::exchange(other.cmd_start_, 0)),
      pos_(std::exchange(other.pos_, 0)),
      end_(std::exchange(other.end_, 0)),
      scan_(std::exchange(other.scan_, 0)),
      bulk_len_(std::exchange(other.bulk_len_, 0)),
      remaining_(std::exchange(other.remaining_, 0)),
      peak_(std::exchange(other.peak_, 0)),
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
    buf_ = std::move(other.buf_);
    cap_ = std::exchange(other.cap_, 0);
    cmd_start_ = std::exchange(other.cmd_start_, 0);
    pos_ = std::exchange(other.pos_, 0);
    end_ = std::exchange(other.end_, 0);
    scan_ = std::exchange(other.scan_, 0);
    bulk_len_ = std::exchange(other.bulk_len_, 0);
    remaining_ = std::exchange(other.remaining_, 0);
    peak_ = std::exchange(other.peak_, 0);
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
  if (min_size > kMaxReadSize) throw std::length_error("RequestParser::prepare: read too large");
  min_size = std::max<std::size_t>(min_size, 1);
  const std::size_t pending = end_ - cmd_start_;
  if (pending == 0) {
    // Nothing to keep: start over at the front. Give back a big buffer that the last round of
    // reads did not need (peak_ covers the reads since the previous idle point).
    cmd_start_ = pos_ = end_ = scan_ = 0;
    if (cap_ > kShrinkAbove && peak_ <= cap_ / 4 && min_size <= kShrinkAbove) {
      buf_.reset();
      cap_ = 0;
    }
    peak_ = 0;
  }
  const std::size_t need = pending + min_size;  // capacity needed, counted from cmd_start_
  peak_ = std::max(peak_, need);
  if (cmd_start_ + need <= cap_) {
    // Fits as it is. Compact anyway when that moves no more than what was consumed since the last
    // move: amortised O(1) per byte, and the buffer's hot front stays in use.
    if (cmd_start_ != 0 && pending <= cmd_start_) relocate(cap_);
  } else if (need <= cap_) {
    relocate(cap_);
  } else {
    // Grow to at most twice what is buffered (plus the read), so a client gets memory only in
    // proportion to the bytes it actually sent. A pending bulk caps the step at its own end.
    std::size_t grown = std::max(need, 2 * pending);
    if (state_ == State::kBulkData) {
      const std::size_t bulk_end = (pos_ - cmd_start_) + bulk_len_ + 2;
      grown = std::max(need, std::min(grown, bulk_end));
    }
    grown = std::max(grown, kDefaultReadSize);
    relocate(grown);
  }
  return {buf_.get() + end_, cap_ - end_};
}

void RequestParser::trim() noexcept {
  if (end_ == cmd_start_ && cap_ > kShrinkAbove) {
    buf_.reset();
    cap_ = 0;
    cmd_start_ = pos_ = end_ = scan_ = 0;
    peak_ = 0;
  }
}

void RequestParser::relocate(std::size_t new_cap) {
  const std::size_t keep = cmd_start_;
  const std::size_t pending = end_ - keep;
  if (new_cap == cap_) {
    if (pending != 0) std::memmove(buf_.get(), buf_.get() + keep, pending);
  } else {
    auto fresh = std::make_unique_for_overwrite<char[]>(new_cap);
    if (pending != 0) std::memcpy(fresh.get(), buf_.get() + keep, pending);
    buf_ = std::move(fresh);
    cap_ = new_cap;
  }
  cmd_start_ = 0;
  pos_ -= keep;
  end_ -= keep;
  scan_ -= keep;
}

void RequestParser::commit(std::size_t n) {
  if (n > cap_ - end_) throw std::length_error("RequestParser::commit: more than prepare() gave");
  end_ += n;
}

void RequestParser::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  const std::span<char> space = prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
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
  const std::size_t avail = end_ - pos_;
  const std::size_t window = limits_.max_inline_len < avail ? limits_.max_inline_len + 1 : avail;
  const std::size_t stop = pos_ + window;
  if (scan_ < stop) {
    const char* const base = buf_.get();
    const void* hit = std::memchr(base + scan_, '\r', stop - scan_);
    if (hit != nullptr) {
      cr = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
      scan_ = cr;
      return cr + 1 < end_;
    }
    scan_ = stop;
  }
  if (window > limits_.max_inline_len) fail(too_big);
  return false;
}

RequestParser::Status RequestParser::next(std::vector<std::string_view>& argv) {
  for (;;) {
    switch (state_) {
      case State::kStart: {
        cmd_start_ = pos_;
        if (pos_ == end_) return Status::kNeedMore;
        scan_ = pos_;
        state_ = buf_[pos_] == '*' ? State::kCount : State::kInline;
        break;
      }
      case State::kCount: {
        std::size_t cr = 0;
        if (!find_header_end(cr, errors::kTooBigMbulkCount)) {
          return state_ == State::kError ? Status::kError : Status::kNeedMore;
        }
        std::int64_t n = 0;
        if (!parse_int64({buf_.get() + pos_ + 1, cr - pos_ - 1}, n) || n > INT_MAX ||
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
        const char first = buf_[pos_];
        if (first != '$') {
          // Redis's reply mapper turns CR and LF into spaces.
          const char shown = (first == '\r' || first == '\n') ? ' ' : first;
          std::string text(errors::kExpectedDollarPrefix);
          text.push_back(shown);
          text.push_back('\'');
          return fail(text);
        }
        std::int64_t len = 0;
        if (!parse_int64({buf_.get() + pos_ + 1, cr - pos_ - 1}, len) || len < 0 ||
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
        const std::size_t avail = end_ - pos_;
        if (avail < bulk_len_ || avail - bulk_len_ < 2) return Status::kNeedMore;
        args_.push_back({pos_ - cmd_start_, bulk_len_});
        pos_ += bulk_len_ + 2;
        if (--remaining_ != 0) {
          scan_ = pos_;
          state_ = State::kBulkLen;
          break;
        }
        argv.clear();
        const char* const base = buf_.get() + cmd_start_;
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
  const std::size_t avail = end_ - pos_;
  const std::size_t window = limits_.max_inline_len < avail ? limits_.max_inline_len + 1 : avail;
  const std::size_t stop = pos_ + window;
  char* const base = buf_.get();
  const void* hit = scan_ < stop ? std::memchr(base + scan_, '\n', stop - scan_) : nullptr;
  if (hit == nullptr) {
    scan_ = stop;
    if (window > limits_.max_inline_len) return fail(errors::kTooBigInline);
    return Status::kNeedMore;
  }
  const auto newline = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
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
  pos_ = newline + 1;
  state_ = State::kStart;
  cmd_start_ = pos_;
  return Status::kCommand;
}

}  // namespace tessera::protocol
