// tessera::client::AsyncClient: the Client's operations as Asio C++20 coroutines, on the caller's
// executor (an io_context, a strand, ...):
//
//   asio::co_spawn(io, [&]() -> asio::awaitable<void> {
//     AsyncClient c(co_await asio::this_coro::executor, {.host = "127.0.0.1", .port = 6379});
//     co_await c.connect();
//     co_await c.set("k", "v");
//     std::optional<std::string> v = co_await c.get("k");
//   }, asio::detached);
//
// Errors are the same exceptions as Client's (errors.hpp), thrown from the co_await.
//
// One operation at a time per AsyncClient: start the next one after the previous co_await has
// finished (a second concurrent one throws std::logic_error). Use a Pipeline for many commands in
// one round trip, or one AsyncClient per concurrent task. Arguments are encoded before the
// operation starts, so keys and values need not outlive it; a Pipeline passed to execute() must
// stay alive until its co_await completes, and so must the AsyncClient itself (do not move or
// destroy it while an operation is in flight). Not thread-safe: use it from its executor's
// thread only, as with any Asio I/O object.
#pragma once

#include <tessera/client/command.hpp>
#include <tessera/client/errors.hpp>
#include <tessera/client/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::client {

namespace detail {
class Connection;
}

class AsyncClient {
 public:
  template <class T>
  using awaitable = boost::asio::awaitable<T>;

  // Does not connect: co_await connect() first.
  AsyncClient(boost::asio::any_io_executor executor, ClientOptions options);
  AsyncClient(AsyncClient&&) noexcept;
  AsyncClient& operator=(AsyncClient&&) noexcept;
  ~AsyncClient();

  awaitable<void> connect();
  awaitable<void> reconnect() { return connect(); }
  void close();
  bool connected() const;
  const ClientOptions& options() const { return options_; }
  void set_command_timeout(std::chrono::milliseconds timeout) {
    options_.command_timeout = timeout;
  }

  awaitable<std::optional<std::string>> get(std::string_view key);
  awaitable<void> set(std::string_view key, std::string_view value);
  awaitable<void> put(std::string_view key, std::string_view value) { return set(key, value); }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) awaitable<std::int64_t> del(const Keys&... keys) {
    return integer_command(detail::encode("DEL", keys...), "DEL");
  }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) awaitable<std::int64_t> exists(const Keys&... keys) {
    return integer_command(detail::encode("EXISTS", keys...), "EXISTS");
  }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >=
           1) awaitable<std::vector<std::optional<std::string>>> mget(const Keys&... keys) {
    return mget_command(detail::encode("MGET", keys...));
  }
  awaitable<void> mset(std::span<const std::pair<std::string_view, std::string_view>> pairs);
  awaitable<std::int64_t> dbsize();
  awaitable<std::string> ping();
  template <CommandArg... Args>
  requires(sizeof...(Args) >= 1) awaitable<Reply> command(const Args&... args) {
    return reply_command(detail::encode(args...), "command");
  }
  awaitable<Reply> command_argv(std::span<const std::string_view> argv);
  awaitable<std::vector<Reply>> execute(const Pipeline& pipeline);
  // Hands each reply to on_reply(index, reply) as soon as it is parsed (the benchmark times each
  // reply this way). The callback must not start another operation on this client.
  awaitable<void> execute(const Pipeline& pipeline,
                          std::function<void(std::size_t, Reply&)> on_reply);
  awaitable<ScanPage> scan_page(std::uint64_t cursor, std::string_view match = {},
                                std::size_t count = 0);
  // The whole SCAN iteration (what Client::scan() ranges over), handing each key to on_key as its
  // page arrives; follows the cursor to the end.
  awaitable<void> scan_each(std::string match, std::size_t count,
                            std::function<void(std::string& key)> on_key);

 private:
  awaitable<Reply> reply_command(std::string encoded, std::string_view name);
  awaitable<std::int64_t> integer_command(std::string encoded, std::string_view name);
  awaitable<std::vector<std::optional<std::string>>> mget_command(std::string encoded);

  ClientOptions options_;
  std::unique_ptr<detail::Connection> connection_;
};

}  // namespace tessera::client
