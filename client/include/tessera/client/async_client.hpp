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
#include <tessera/client/transaction.hpp>
#include <tessera/client/typed.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace tessera::client {

namespace detail {
class Connection;
template <class A>
struct AwaitableValue;
template <class T, class E>
struct AwaitableValue<boost::asio::awaitable<T, E>> {
  using type = T;
};
// A body's result, held across the co_await of EXEC (void: nothing).
template <class T>
struct Stored {
  T value;
};
template <>
struct Stored<void> {};
}  // namespace detail

template <class T>
using Awaitable = boost::asio::awaitable<T>;

class AsyncClient : public Commands<AsyncClient, Awaitable> {
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

  // The typed calls (get, set with options, the counters, the expiry family, the keyspace
  // calls, command(...)) come from Commands (typed.hpp) and return awaitables.

  // WATCH / UNWATCH / MULTI+queue+EXEC, as Client's (client.hpp).
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) awaitable<void> watch(const Keys&... keys) {
    return run(detail::make_call(&detail::expect_ok, "WATCH", keys...));
  }
  awaitable<void> unwatch() { return run(detail::make_call(&detail::expect_ok, "UNWATCH")); }
  // The transaction must stay alive until the co_await completes.
  awaitable<bool> exec(Transaction& transaction);
  // Client::transaction as a coroutine: body(*this, tx) returns an awaitable<R>.
  template <class Body>
  auto transaction(std::vector<std::string> watch_keys, Body body, TransactionOptions options = {})
      -> std::invoke_result_t<Body&, AsyncClient&, Transaction&> {
    using R = typename detail::AwaitableValue<
        std::invoke_result_t<Body&, AsyncClient&, Transaction&>>::type;
    detail::check_attempts(options.max_attempts);
    // The loop's state lives outside the loop, and no co_await sits inside an initializer: g++
    // 12's coroutines mishandle both (a temporary destroyed twice: "free(): invalid pointer").
    Transaction tx;
    std::exception_ptr failed;
    std::optional<detail::Stored<R>> result;
    for (std::size_t attempt = 1;; ++attempt) {
      if (!watch_keys.empty()) co_await watch(watch_keys);
      tx.clear();
      result.reset();
      try {
        if constexpr (std::is_void_v<R>) {
          co_await body(*this, tx);
          result.emplace();
        } else {
          R value = co_await body(*this, tx);
          result.emplace(detail::Stored<R>{std::move(value)});
        }
      } catch (...) {
        failed = std::current_exception();
      }
      if (failed) {
        // A coroutine cannot co_await inside a handler: UNWATCH here, then rethrow.
        if (connected()) {
          try {
            co_await unwatch();
          } catch (...) {  // the body's exception is the one to report
          }
        }
        std::rethrow_exception(failed);
      }
      if (co_await exec(tx)) {
        if constexpr (std::is_void_v<R>) {
          co_return;
        } else {
          co_return std::move(result->value);
        }
      }
      if (attempt >= options.max_attempts) throw WatchConflictError(attempt);
    }
  }

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
  friend class Commands<AsyncClient, Awaitable>;
  template <class T>
  awaitable<T> run(Call<T> call) {
    Reply reply = co_await round_trip(std::move(call.encoded), call.name);
    co_return call.convert(std::move(reply), call.name);
  }
  awaitable<Reply> round_trip(std::string encoded, std::string name);

  ClientOptions options_;
  std::unique_ptr<detail::Connection> connection_;
};

}  // namespace tessera::client
