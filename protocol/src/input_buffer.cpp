// InputBuffer: see the design note in input_buffer.hpp.
#include "tessera/protocol/input_buffer.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace tessera::protocol {

InputBuffer::InputBuffer(InputBuffer&& other) noexcept
    : buf_(std::move(other.buf_)),
      cap_(std::exchange(other.cap_, 0)),
      end_(std::exchange(other.end_, 0)),
      peak_(std::exchange(other.peak_, 0)) {}

InputBuffer& InputBuffer::operator=(InputBuffer&& other) noexcept {
  if (this != &other) {
    buf_ = std::move(other.buf_);
    cap_ = std::exchange(other.cap_, 0);
    end_ = std::exchange(other.end_, 0);
    peak_ = std::exchange(other.peak_, 0);
  }
  return *this;
}

std::size_t InputBuffer::prepare(std::size_t keep_from, std::size_t min_size,
                                 std::size_t step_limit) {
  if (min_size > kMaxReadSize) throw std::length_error("InputBuffer::prepare: read too large");
  min_size = std::max<std::size_t>(min_size, 1);
  const std::size_t pending = end_ - keep_from;
  std::size_t shift = 0;
  if (pending == 0) {
    // Nothing to keep: start over at the front. Give back a big buffer that the last round of
    // reads did not need (peak_ covers the reads since the previous idle point).
    shift = keep_from;
    end_ = keep_from = 0;
    if (cap_ > kShrinkAbove && peak_ <= cap_ / 4 && min_size <= kShrinkAbove) {
      buf_.reset();
      cap_ = 0;
    }
    peak_ = 0;
  }
  const std::size_t need = pending + min_size;  // capacity needed, counted from keep_from
  peak_ = std::max(peak_, need);
  if (keep_from + need <= cap_) {
    if (keep_from != 0 && pending <= keep_from) {
      relocate(keep_from, cap_);
      shift += keep_from;
    }
  } else if (need <= cap_) {
    relocate(keep_from, cap_);
    shift += keep_from;
  } else {
    std::size_t grown = std::max(need, 2 * pending);
    if (step_limit != 0) grown = std::max(need, std::min(grown, step_limit));
    grown = std::max(grown, kDefaultReadSize);
    relocate(keep_from, grown);
    shift += keep_from;
  }
  return shift;
}

void InputBuffer::relocate(std::size_t keep_from, std::size_t new_cap) {
  const std::size_t pending = end_ - keep_from;
  if (new_cap == cap_) {
    if (pending != 0) std::memmove(buf_.get(), buf_.get() + keep_from, pending);
  } else {
    auto fresh = std::make_unique_for_overwrite<char[]>(new_cap);
    if (pending != 0) std::memcpy(fresh.get(), buf_.get() + keep_from, pending);
    buf_ = std::move(fresh);
    cap_ = new_cap;
  }
  end_ = pending;
}

void InputBuffer::commit(std::size_t n) {
  if (n > cap_ - end_) throw std::length_error("InputBuffer::commit: more than prepare() gave");
  end_ += n;
}

void InputBuffer::append(std::string_view bytes) {
  if (bytes.size() > cap_ - end_) throw std::length_error("InputBuffer::append: not prepared");
  if (bytes.empty()) return;
  std::memcpy(buf_.get() + end_, bytes.data(), bytes.size());
  end_ += bytes.size();
}

bool InputBuffer::trim(std::size_t keep_from) noexcept {
  if (end_ != keep_from || cap_ <= kShrinkAbove) return false;
  buf_.reset();
  cap_ = end_ = peak_ = 0;
  return true;
}

InputBuffer::Search InputBuffer::find(char terminator, std::size_t line_start, std::size_t max_len,
                                      std::size_t& scan, std::size_t& at) const noexcept {
  const std::size_t avail = end_ - line_start;
  const std::size_t window = max_len < avail ? max_len + 1 : avail;
  const std::size_t stop = line_start + window;
  if (scan < line_start) scan = line_start;
  if (scan < stop) {
    const char* const base = buf_.get();
    const void* hit = std::memchr(base + scan, terminator, stop - scan);
    if (hit != nullptr) {
      at = scan = static_cast<std::size_t>(static_cast<const char*>(hit) - base);
      return Search::kFound;
    }
    scan = stop;
  }
  return window > max_len ? Search::kTooLong : Search::kNeedMore;
}

}  // namespace tessera::protocol
