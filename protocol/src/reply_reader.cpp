// ReplyReader: see the design note in reply_reader.hpp.
//
// Pointer stability: stack_[i].array points at an element of stack_[i-1].array->elements (or at
// root_). Elements are only appended to the top array, and only when no deeper frame exists and
// no bulk is pending, so a growing vector never invalidates a pointer still in use.
#include "tessera/protocol/reply_reader.hpp"

#include <algorithm>
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

std::string describe_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  constexpr char kHex[] = "0123456789abcdef";
  return std::string{'\\', 'x', kHex[u >> 4], kHex[u & 15]};
}

}  // namespace

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
  error_ = std::move(other.error_);
  if (!stack_.empty() && stack_.front().array == old_root) stack_.front().array = &root_;
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
  if (stack_.empty()) return &root_;
  return &stack_.back().array->elements.emplace_back();
}

bool ReplyReader::finish_value() {
  while (!stack_.empty()) {
    if (--stack_.back().remaining != 0) return false;
    stack_.pop_back();  // that array is complete: it is itself a value of its parent
  }
  return true;
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
        std::int64_t n = 0;
        bool complete = true;
        switch (type) {
          case '+':
          case '-': {
            Reply* r = start_value();
            r->type = type == '+' ? Reply::Type::kSimple : Reply::Type::kError;
            r->str.assign(text);
            break;
          }
          case ':': {
            if (!parse_int64(text, n)) return fail("Protocol error: invalid integer");
            Reply* r = start_value();
            r->type = Reply::Type::kInteger;
            r->integer = n;
            break;
          }
          case '$': {
            if (!parse_length(text, limits_.max_bulk_len, n)) {
              return fail("Protocol error: invalid bulk length");
            }
            Reply* r = start_value();
            if (n == -1) {
              r->type = Reply::Type::kNull;
              break;
            }
            r->type = Reply::Type::kBulk;
            bulk_left_ = static_cast<std::size_t>(n);
            r->str.clear();
            r->str.reserve(std::min(bulk_left_, kMaxReserveBytes));
            bulk_ = r;
            complete = false;
            break;
          }
          case '*': {
            if (!parse_length(text, limits_.max_elements, n)) {
              return fail("Protocol error: invalid multibulk length");
            }
            if (n > 0 && stack_.size() >= limits_.max_depth) {
              return fail("Protocol error: arrays nested too deep");
            }
            Reply* r = start_value();
            if (n == -1) {
              r->type = Reply::Type::kNullArray;
              break;
            }
            r->type = Reply::Type::kArray;
            if (n > 0) {
              r->elements.reserve(std::min(static_cast<std::size_t>(n), kMaxReserveElements));
              stack_.push_back({r, static_cast<std::size_t>(n)});
              complete = false;
            }
            break;
          }
          default:
            return fail("Protocol error: unexpected reply type byte '" + describe_byte(type) + "'");
        }
        begin_ = cr + 2;
        scan_ = begin_;
        if (!complete) {
          if (bulk_ != nullptr) state_ = State::kBulkData;
          break;
        }
        if (finish_value()) {
          out = std::move(root_);
          root_ = Reply{};
          return Status::kReply;
        }
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
        bulk_ = nullptr;
        state_ = State::kValue;
        if (finish_value()) {
          out = std::move(root_);
          root_ = Reply{};
          return Status::kReply;
        }
        break;
      }
    }
  }
}

}  // namespace tessera::protocol
