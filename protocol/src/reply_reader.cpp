// ReplyReader: see the design note in reply_reader.hpp.
//
// Pointer stability: stack_[i].aggregate points at an element of stack_[i-1].aggregate->elements
// (or at root_). Elements are only appended to the top aggregate, and only when no deeper frame
// exists and no blob is pending, so a growing vector never invalidates a pointer still in use. A
// pending attribute is an element of its own (type kAttribute) in the place of the value it
// describes; starting that value reuses the element in place (no append).
#include "tessera/protocol/reply_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "tessera/protocol/numbers.hpp"

namespace tessera::protocol {
namespace {

// Up-front reservations are capped: a header's count or length is a claim, not bytes received.
constexpr std::size_t kMaxReserveElements = 1024;
constexpr std::size_t kMaxReserveBytes = 64 * 1024;

// A bulk length or an element count: -1 (null) up to `max`, in string2ll's grammar.
bool parse_length(std::string_view text, std::size_t max, std::int64_t& n) {
  return parse_int64(text, n) && n >= -1 && (n < 0 || static_cast<std::uint64_t>(n) <= max);
}

// RESP3 big number: an optional sign, then digits.
bool is_big_number(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// RESP3 double: a decimal or exponent form, "inf", "-inf", "nan" or "-nan" (what glibc's "%.17g"
// writes, and so Redis). The whole text must be the number.
bool parse_double(std::string_view text, double& value) {
  if (text.empty()) return false;
  const char* const end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

Reply::Type aggregate_type(char type) {
  switch (type) {
    case '%':
      return Reply::Type::kMap;
    case '~':
      return Reply::Type::kSet;
    case '>':
      return Reply::Type::kPush;
    case '|':
      return Reply::Type::kAttribute;
    default:
      return Reply::Type::kArray;
  }
}

std::string describe_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  constexpr char kHex[] = "0123456789abcdef";
  return std::string{'\\', 'x', kHex[u >> 4], kHex[u & 15]};
}

}  // namespace

bool operator==(const Reply& a, const Reply& b) {
  const bool same_number = a.number == b.number || (std::isnan(a.number) && std::isnan(b.number));
  return a.type == b.type && a.str == b.str && a.integer == b.integer && same_number &&
         a.format == b.format && a.elements == b.elements && a.attributes == b.attributes;
}

ReplyReader::ReplyReader(ReaderLimits limits) : limits_(limits) {}

ReplyReader::ReplyReader(ReplyReader&& other) noexcept : limits_(other.limits_) {
  *this = std::move(other);
}

// stack_[0].array and bulk_ may point at other.root_ itself (everything deeper lives in heap
// vectors that move along), so those two are re-pointed at this->root_.
ReplyReader& ReplyReader::operator=(ReplyReader&& other) noexcept {
  if (this == &other) return *this;
  Reply* const old_root = &other.root_;
  limits_ = other.limits_;
  input_ = std::move(other.input_);
  begin_ = std::exchange(other.begin_, 0);
  scan_ = std::exchange(other.scan_, 0);
  state_ = std::exchange(other.state_, State::kValue);
  root_ = std::move(other.root_);
  stack_ = std::move(other.stack_);
  bulk_ = std::exchange(other.bulk_, nullptr);
  bulk_left_ = std::exchange(other.bulk_left_, 0);
  chunked_ = std::exchange(other.chunked_, false);
  done_ = std::exchange(other.done_, false);
  error_ = std::move(other.error_);
  if (!stack_.empty() && stack_.front().aggregate == old_root) stack_.front().aggregate = &root_;
  if (bulk_ == old_root) bulk_ = &root_;
  other.root_ = Reply{};
  other.stack_.clear();
  other.error_.clear();
  return *this;
}

std::span<char> ReplyReader::prepare(std::size_t min_size) {
  // No growth cap: bulk data is copied out as it arrives, so only lines are ever kept.
  const std::size_t shift = input_.prepare(begin_, min_size);
  begin_ -= shift;
  scan_ -= shift;
  return input_.writable();
}

void ReplyReader::commit(std::size_t n) { input_.commit(n); }

void ReplyReader::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  prepare(bytes.size());
  input_.append(bytes);
}

ReplyReader::Status ReplyReader::fail(std::string_view why) {
  state_ = State::kError;
  error_.assign(why);
  return Status::kError;
}

Reply* ReplyReader::start_value() {
  Reply* slot = nullptr;
  if (stack_.empty()) {
    slot = &root_;
  } else {
    std::vector<Reply>& elements = stack_.back().aggregate->elements;
    if (!elements.empty() && elements.back().type == Reply::Type::kAttribute) {
      slot = &elements.back();
    } else {
      if (stack_.back().streamed && elements.size() >= limits_.max_elements) return nullptr;
      return &elements.emplace_back();
    }
  }
  // The root, or a pending attribute's place: the attribute moves into the new value.
  if (slot->type != Reply::Type::kAttribute) return slot;
  std::vector<Reply> attributes = std::move(slot->elements);
  *slot = Reply{};
  slot->attributes = std::move(attributes);
  return slot;
}

bool ReplyReader::finish_value() {
  while (!stack_.empty()) {
    Frame& top = stack_.back();
    if (top.streamed || --top.remaining != 0) return false;
    if (!finish_aggregate()) return false;
  }
  return true;
}

bool ReplyReader::finish_aggregate() {
  const bool attribute = stack_.back().aggregate->type == Reply::Type::kAttribute;
  stack_.pop_back();
  if (attribute) return false;  // it waits, in place, for the value it describes
  return stack_.empty() || finish_value();
}

ReplyReader::Status ReplyReader::complete_reply(Reply& out) {
  done_ = false;
  out = std::move(root_);
  root_ = Reply{};
  return Status::kReply;
}

// One line, its type byte and its text (without CRLF), already consumed. Sets done_ when the line
// completes the whole reply; kNeedMore means "go on" (a blob's data or more values follow).
ReplyReader::Status ReplyReader::line_value(char type, std::string_view text) {
  std::int64_t n = 0;
  if (chunked_) {  // inside $?: only ';n' chunk headers, ';0' ends the string
    if (type != ';') return fail("Protocol error: expected a ';' chunk in a streamed string");
    if (!parse_length(text, limits_.max_bulk_len - bulk_->str.size(), n) || n < 0) {
      return fail("Protocol error: invalid chunk length");
    }
    if (n == 0) {
      chunked_ = false;
      bulk_ = nullptr;
      done_ = finish_value();
      return Status::kNeedMore;
    }
    bulk_left_ = static_cast<std::size_t>(n);
    state_ = State::kBulkData;
    return Status::kNeedMore;
  }
  if (type == '.') {  // the end of a streamed aggregate
    if (!text.empty() || stack_.empty() || !stack_.back().streamed) {
      return fail("Protocol error: unexpected '.'");
    }
    const Reply& aggregate = *stack_.back().aggregate;
    const std::vector<Reply>& elements = aggregate.elements;
    if (!elements.empty() && elements.back().type == Reply::Type::kAttribute) {
      return fail("Protocol error: an attribute without a value");
    }
    if ((aggregate.type == Reply::Type::kMap || aggregate.type == Reply::Type::kAttribute) &&
        elements.size() % 2 != 0) {
      return fail("Protocol error: a map with a key and no value");
    }
    done_ = finish_aggregate();
    return Status::kNeedMore;
  }
  const bool aggregate = type == '*' || type == '%' || type == '~' || type == '>' || type == '|';
  const bool streamed = text == "?" && (aggregate || type == '$');
  // Validate before start_value(), so a refused line leaves no half-made value behind.
  switch (type) {
    case '+':
    case '-':
    case '(':
    case '#':
    case ',':
    case '_':
    case ':':
      break;
    case '$':
      if (!streamed && !parse_length(text, limits_.max_bulk_len, n)) {
        return fail("Protocol error: invalid bulk length");
      }
      break;
    case '!':
    case '=':
      if (!parse_length(text, limits_.max_bulk_len, n) || n < 0) {
        return fail("Protocol error: invalid blob length");
      }
      if (type == '=' && n < 4) return fail("Protocol error: verbatim string without a format");
      break;
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
      if (!streamed) {
        const bool pairs = type == '%' || type == '|';
        if (!parse_length(text, pairs ? limits_.max_elements / 2 : limits_.max_elements, n) ||
            (n < 0 && type != '*')) {
          return fail(type == '*' ? "Protocol error: invalid multibulk length"
                                  : "Protocol error: invalid aggregate length");
        }
        if (pairs) n *= 2;
      }
      if ((streamed || n > 0) && stack_.size() >= limits_.max_depth) {
        return fail("Protocol error: aggregates nested too deep");
      }
      break;
    }
    default:
      return fail("Protocol error: unexpected reply type byte '" + describe_byte(type) + "'");
  }
  Reply* r = start_value();
  if (r == nullptr) return fail("Protocol error: too many elements in a streamed aggregate");
  switch (type) {
    case '+':
      r->type = Reply::Type::kSimple;
      r->str.assign(text);
      break;
    case '-':
      r->type = Reply::Type::kError;
      r->str.assign(text);
      break;
    case ':':
      if (!parse_int64(text, r->integer)) return fail("Protocol error: invalid integer");
      r->type = Reply::Type::kInteger;
      break;
    case '_':
      if (!text.empty()) return fail("Protocol error: invalid null");
      r->type = Reply::Type::kNull;
      break;
    case '#':
      if (text != "t" && text != "f") return fail("Protocol error: invalid boolean");
      r->type = Reply::Type::kBoolean;
      r->integer = text == "t" ? 1 : 0;
      break;
    case ',':
      if (!parse_double(text, r->number)) return fail("Protocol error: invalid double");
      r->type = Reply::Type::kDouble;
      r->str.assign(text);
      break;
    case '(':
      if (!is_big_number(text)) return fail("Protocol error: invalid big number");
      r->type = Reply::Type::kBigNumber;
      r->str.assign(text);
      break;
    case '$':
    case '!':
    case '=':
      if (n == -1) {
        r->type = Reply::Type::kNull;
        break;
      }
      r->type = type == '$'   ? Reply::Type::kBulk
                : type == '!' ? Reply::Type::kError
                              : Reply::Type::kVerbatim;
      bulk_ = r;
      if (streamed) {
        chunked_ = true;
        return Status::kNeedMore;
      }
      bulk_left_ = static_cast<std::size_t>(n);
      r->str.reserve(std::min(bulk_left_, kMaxReserveBytes));
      state_ = State::kBulkData;
      return Status::kNeedMore;
    default: {  // an aggregate
      if (n == -1) {
        r->type = Reply::Type::kNullArray;
        break;
      }
      r->type = aggregate_type(type);
      if (streamed) {
        stack_.push_back({r, 0, true});
        return Status::kNeedMore;
      }
      if (n == 0) {
        // An empty attribute waits for its value like any other; an empty aggregate is a value.
        if (r->type != Reply::Type::kAttribute) done_ = finish_value();
        return Status::kNeedMore;
      }
      r->elements.reserve(std::min(static_cast<std::size_t>(n), kMaxReserveElements));
      stack_.push_back({r, static_cast<std::size_t>(n), false});
      return Status::kNeedMore;
    }
  }
  done_ = finish_value();
  return Status::kNeedMore;
}

// A blob's data and its CRLF are in: a streamed string waits for its next chunk; a verbatim
// string splits off its format.
ReplyReader::Status ReplyReader::blob_complete() {
  state_ = State::kValue;
  if (chunked_) return Status::kNeedMore;
  Reply* const r = std::exchange(bulk_, nullptr);
  if (r->type == Reply::Type::kVerbatim) {
    if (r->str[3] != ':') return fail("Protocol error: verbatim string without a format");
    r->format.assign(r->str, 0, 3);
    r->str.erase(0, 4);
  }
  done_ = finish_value();
  return Status::kNeedMore;
}

ReplyReader::Status ReplyReader::next(Reply& out) {
  for (;;) {
    switch (state_) {
      case State::kError:
        return Status::kError;
      case State::kValue: {
        // One line: a type byte, then text up to CRLF.
        if (begin_ == input_.end()) return Status::kNeedMore;
        std::size_t cr = 0;
        switch (input_.find('\r', begin_, limits_.max_line, scan_, cr)) {
          case InputBuffer::Search::kFound:
            break;
          case InputBuffer::Search::kTooLong:
            return fail("Protocol error: line too long");
          case InputBuffer::Search::kNeedMore:
            return Status::kNeedMore;
        }
        if (cr + 1 >= input_.end()) return Status::kNeedMore;
        const char* const base = input_.data();
        if (base[cr + 1] != '\n') return fail("Protocol error: line not terminated by CRLF");
        const char type = base[begin_];
        const std::string_view text(base + begin_ + 1, cr - begin_ - 1);
        if (line_value(type, text) == Status::kError) return Status::kError;
        begin_ = scan_ = cr + 2;
        if (done_) return complete_reply(out);
        break;
      }
      case State::kBulkData: {
        const std::size_t take = std::min(input_.end() - begin_, bulk_left_);
        bulk_->str.append(input_.data() + begin_, take);
        begin_ += take;
        scan_ = begin_;
        bulk_left_ -= take;
        if (bulk_left_ != 0) return Status::kNeedMore;
        state_ = State::kBulkEnd;
        [[fallthrough]];
      }
      case State::kBulkEnd: {
        if (input_.end() - begin_ < 2) return Status::kNeedMore;
        if (input_.data()[begin_] != '\r' || input_.data()[begin_ + 1] != '\n') {
          return fail("Protocol error: bulk string not terminated by CRLF");
        }
        begin_ += 2;
        scan_ = begin_;
        if (blob_complete() == Status::kError) return Status::kError;
        if (done_) return complete_reply(out);
        break;
      }
    }
  }
}

}  // namespace tessera::protocol
