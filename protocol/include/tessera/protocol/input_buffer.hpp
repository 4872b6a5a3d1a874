// InputBuffer: the receive buffer shared by RequestParser (server side) and ReplyReader (client
// side). Sockets read straight into it (prepare() + commit()); the owner parses in place.
//
// Design. One contiguous allocation; the owner keeps its cursors as offsets into it and tells
// prepare() the first byte it still needs (`keep_from`). prepare() may move the kept bytes to the
// front (or into a larger allocation) and returns how far they moved, which the owner subtracts
// from every cursor it holds:
//
//   0          keep_from     end()            capacity()
//   |  consumed  | still needed | free (prepare) |
//
// Growth policy (both parsers follow it, so a peer gets memory only in proportion to the bytes it
// actually sent): the buffer grows to at most twice what is buffered plus the read, or to
// `step_limit` when the owner knows where a pending bulk ends; never below kDefaultReadSize.
// Kept bytes are compacted to the front whenever that moves no more than what was consumed since
// the last move (amortised O(1) per byte; the buffer's hot front stays in use). A buffer above
// kShrinkAbove is given back once a round of reads needed under a quarter of it, so a stream of
// large bulks keeps its buffer and one large bulk does not pin it.
//
// find() is the line search both grammars use: a terminator byte within max_len bytes of the line
// start, resumed where the previous call stopped, so no byte is searched twice and a hostile line
// costs at most one scan of max_len bytes.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "tessera/protocol/limits.hpp"

namespace tessera::protocol {

class InputBuffer {
 public:
  InputBuffer() = default;
  // A moved-from buffer is empty, as if just constructed.
  InputBuffer(InputBuffer&& other) noexcept;
  InputBuffer& operator=(InputBuffer&& other) noexcept;
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  // Makes at least min_size writable bytes available after end(), keeping [keep_from, end()).
  // Returns the distance the kept bytes moved toward offset 0; the owner subtracts it from its
  // cursors (all of which are >= keep_from). step_limit (0: none) caps a growth step at that many
  // bytes counted from keep_from, but never below what is needed. Throws std::length_error for a
  // min_size above 1 TB (a caller bug), std::bad_alloc with the buffer unchanged.
  std::size_t prepare(std::size_t keep_from, std::size_t min_size, std::size_t step_limit = 0);
  // The writable space after end() (what prepare() made available).
  std::span<char> writable() noexcept { return {buf_.get() + end_, cap_ - end_}; }
  // n bytes were written at writable().data(). Throws std::length_error if n is larger than it.
  void commit(std::size_t n);
  // writable() + copy + commit(); the caller has prepared at least bytes.size().
  void append(std::string_view bytes);

  // Gives back a buffer above kShrinkAbove when nothing from keep_from on is pending. Returns true
  // when it did: the owner's cursors are then all 0.
  bool trim(std::size_t keep_from) noexcept;

  enum class Search { kFound, kNeedMore, kTooLong };
  // Looks for `terminator` in the line that starts at line_start: within its first max_len + 1
  // bytes (so a line of exactly max_len bytes before its terminator is fine). `scan` is where the
  // previous search of this line stopped (the owner keeps it; start it at line_start); on kFound,
  // `at` and `scan` are the terminator's offset. kTooLong: max_len + 1 bytes and no terminator.
  Search find(char terminator, std::size_t line_start, std::size_t max_len, std::size_t& scan,
              std::size_t& at) const noexcept;

  char* data() noexcept { return buf_.get(); }
  const char* data() const noexcept { return buf_.get(); }
  std::size_t end() const noexcept { return end_; }  // end of the committed bytes
  std::size_t capacity() const noexcept { return cap_; }

  static constexpr std::size_t kShrinkAbove = 1024 * 1024;
  static constexpr std::size_t kMaxReadSize = std::size_t{1} << 40;

 private:
  void relocate(std::size_t keep_from, std::size_t new_cap);

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t end_ = 0;
  std::size_t peak_ = 0;  // the most capacity prepare() needed since the buffer was last idle
};

}  // namespace tessera::protocol
