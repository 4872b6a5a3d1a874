// tessera-client-example: the client library in one page. Usage: tessera-client-example [host]
// [port]. Talks to a Tessera (or Redis) server: plain calls, expiry, counters, a pipeline, a scan,
// an optimistic transaction, and the same through the async client.
#include <tessera/client/async_client.hpp>
#include <tessera/client/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
using namespace tessera::client;

int main(int argc, char** argv) {
  ClientOptions options;
  if (argc > 1) options.host = argv[1];
  if (argc > 2) options.port = static_cast<std::uint16_t>(std::atoi(argv[2]));
  try {
    Client client(options);
    client.set("example:greeting", "hello");
    std::printf("GET example:greeting -> %s\n",
                client.get("example:greeting").value_or("(nil)").c_str());

    using namespace std::chrono_literals;
    client.set("example:session", "token", {.ex = 30min});
    const Ttl ttl = client.ttl("example:session");
    std::printf("TTL example:session -> %llds\n", static_cast<long long>(ttl.value_or(0s).count()));
    std::printf("TTL example:missing -> %s\n",
                client.ttl("example:missing").key_exists() ? "exists" : "no such key");
    std::printf("INCRBY example:hits 5 -> %lld\n",
                static_cast<long long>(client.incrby("example:hits", 5)));

    // Read-modify-write under WATCH; retried when another client changes the key meanwhile.
    client.set("example:stock", "10");
    Queued<std::int64_t> sold =
        client.transaction({"example:stock"}, [](Client& db, Transaction& tx) {
          const long long stock = std::stoll(db.get("example:stock").value_or("0"));
          tx.set("example:stock", std::to_string(stock - 1));
          return tx.incr("example:sold");
        });
    std::printf("transaction: stock %s, sold %lld\n",
                client.get("example:stock").value_or("(nil)").c_str(),
                static_cast<long long>(sold.get()));

    Pipeline pipeline;
    for (int i = 0; i < 100; ++i)
      pipeline.set("example:key:" + std::to_string(i), std::to_string(i));
    auto replies = client.execute(pipeline);
    std::printf("pipeline: %zu replies\n", replies.size());

    std::size_t keys = 0;
    for (auto& key : client.scan("example:key:*")) keys += key.starts_with("example:key:");
    std::printf("SCAN example:key:* -> %zu keys\n", keys);

    try {
      client.command("NO-SUCH-COMMAND");
    } catch (const ServerError& e) {
      std::printf("error reply, connection still usable: %s\n", e.message().c_str());
    }
    std::printf("DEL -> %lld\n", static_cast<long long>(
                                     client.del("example:greeting", "example:session",
                                                "example:hits", "example:stock", "example:sold")));

    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          AsyncClient async_client(co_await asio::this_coro::executor, options);
          co_await async_client.connect();
          co_await async_client.set("example:async", "from a coroutine");
          auto v = co_await async_client.get("example:async");
          std::printf("async GET example:async -> %s\n", v.value_or("(nil)").c_str());
          co_await async_client.del("example:async");
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io.run();
    for (int i = 0; i < 100; ++i) client.del("example:key:" + std::to_string(i));
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
