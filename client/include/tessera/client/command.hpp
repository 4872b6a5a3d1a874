// Encoding commands: the arguments a caller may pass to command(...), and the queue of encoded
// commands that a pipeline sends in one write.
#pragma once

#include <tessera/protocol/reply_reader.hpp>
#include <tessera/protocol/reply_writer.hpp>

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <deque>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::client {

using protocol::Reply;

namespace detail {

template <class T>
concept StringArg = std::convertible_to<const T&, std::string_view>;
template <class T>
concept IntegerArg = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>;
template <class R>
concept StringRangeArg = std::ranges::input_range<const R> && !StringArg<R> &&
                         StringArg<std::ranges::range_value_t<const R>>;

// Collects views of the arguments of one command; integers are formatted into owned storage whose
// addresses stay put (a deque never moves its elements on push_back).
class ArgvBuilder {
 public:
  template <class T>
  requires StringArg<T> || IntegerArg<T> || StringRangeArg<T>
  void add(const T& arg) {
    if constexpr (StringArg<T>) {
      views_.emplace_back(std::string_view(arg));
    } else if constexpr (IntegerArg<T>) {
      auto& buf = numbers_.emplace_back();
      auto res = std::to_chars(buf.data(), buf.data() + buf.size(), arg);
      views_.emplace_back(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
    } else {
      for (const auto& s : arg) views_.emplace_back(std::string_view(s));
    }
  }
  std::span<const std::string_view> argv() const { return views_; }

 private:
  std::vector<std::string_view> views_;
  std::deque<std::array<char, 24>> numbers_;
};

template <class... Args>
std::string encode(const Args&... args) {
  ArgvBuilder b;
  (b.add(args), ...);
  std::string out;
  protocol::write_command(out, b.argv());
  return out;
}

}  // namespace detail

// Arguments accepted by command(...) and Pipeline::command(...): anything convertible to
// std::string_view (binary-safe: the length is sent, never a terminator), integers (sent in
// decimal), and ranges of strings (expanded in place, e.g. a std::vector<std::string> of keys).
template <class T>
concept CommandArg = detail::StringArg<T> || detail::IntegerArg<T> || detail::StringRangeArg<T>;

// Commands queued for one round trip: all of them go out in one write, and their replies come back
// in the same order. Building a pipeline needs no connection; a pipeline can be executed on a
// Client or an AsyncClient (Client::execute / AsyncClient::execute), as often as wanted.
class Pipeline {
 public:
  template <CommandArg... Args>
  requires(sizeof...(Args) >= 1) Pipeline& command(const Args&... args) {
    detail::ArgvBuilder b;
    (b.add(args), ...);
    return command_argv(b.argv());
  }
  Pipeline& command_argv(std::span<const std::string_view> argv);

  Pipeline& get(std::string_view key);
  Pipeline& set(std::string_view key, std::string_view value);
  Pipeline& put(std::string_view key, std::string_view value) { return set(key, value); }
  Pipeline& del(std::string_view key);
  Pipeline& exists(std::string_view key);
  Pipeline& ping();

  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  void clear() noexcept {
    bytes_.clear();
    count_ = 0;
  }
  // The encoded commands, exactly as they go on the wire.
  std::string_view bytes() const noexcept { return bytes_; }

 private:
  std::string bytes_;
  std::size_t count_ = 0;
};

// Throws ServerError if `reply` is an error reply (for pipeline replies, which never throw).
void throw_if_error(const Reply& reply, std::string_view command = "pipeline");

// One SCAN call's result: the next cursor (0: the iteration is complete) and a batch of keys.
struct ScanPage {
  std::uint64_t cursor = 0;
  std::vector<std::string> keys;
};

}  // namespace tessera::client
