// Server: acceptor, signals, ticks and shutdown (design note in server.hpp).
#include <tessera/server/network/server.hpp>

#include <sys/resource.h>

#include <spdlog/spdlog.h>
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "connection.hpp"

namespace tessera::server {

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// How long shutdown waits for connections to finish writing before it stops the shards anyway.
constexpr auto kShutdownGrace = std::chrono::milliseconds(700);
// Descriptors kept for the server itself beyond maxclients (listener, eventfds, epoll, logs).
constexpr std::uint64_t kReservedFds = 32;

void log_exception(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} ended with an exception: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} ended with an unknown exception", what);
  }
}

asio::awaitable<void> serve(std::unique_ptr<Connection> c) { co_await c->run(); }
}  // namespace

std::string adjust_open_file_limit(Config& config) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return {};
  const rlim_t wanted = static_cast<rlim_t>(config.maxclients + kReservedFds);
  if (lim.rlim_cur >= wanted) return {};
  rlimit raised = lim;
  raised.rlim_cur = lim.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, lim.rlim_max);
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  if (lim.rlim_cur >= wanted) {
    return "Increased maximum number of open files to " + std::to_string(lim.rlim_cur);
  }
  const std::uint64_t old = config.maxclients;
  config.maxclients = lim.rlim_cur > kReservedFds + 1 ? lim.rlim_cur - kReservedFds : 1;
  return "Could not raise the open file limit to " + std::to_string(wanted) + " (hard limit " +
         std::to_string(lim.rlim_max) + "): maxclients lowered from " + std::to_string(old) +
         " to " + std::to_string(config.maxclients);
}

Server::Server(Config config, Dispatcher dispatch)
    : state_(std::move(config)), shards_(state_.config.shards, &state_.store), dispatch_(dispatch) {}

Server::~Server() { shards_.stop(); }

void Server::listen() {
  std::string host = state_.config.bind == "localhost" ? "127.0.0.1" : state_.config.bind;
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(host),
                                   static_cast<unsigned short>(state_.config.port));
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  state_.port.store(acceptor_.local_endpoint().port());
}

void Server::run(bool handle_signals) {
  shards_.start();
  for (unsigned i = 0; i < shards_.size(); ++i) {
    Shard& shard = shards_.shard(i);
    asio::co_spawn(shard.context(), tick(shard),
                   [](std::exception_ptr e) { log_exception(e, "shard tick"); });
  }
  asio::co_spawn(main_, accept_loop(), [](std::exception_ptr e) { log_exception(e, "acceptor"); });
  if (handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("Received {}, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
      begin_shutdown();
    });
  }
  spdlog::info("Ready to accept connections tcp on {}:{} ({} shards)", state_.config.bind,
               state_.port.load(), shards_.size());
  main_.run();
  shards_.stop();
  spdlog::info("Tessera is now ready to exit, bye bye...");
}

void Server::stop() {
  asio::post(main_, [this] { begin_shutdown(); });
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  signals_.cancel(ec);
  for (unsigned i = 0; i < shards_.size(); ++i) {
    shards_.post(i, [&shard = shards_.shard(i)] {
      for (ConnectionHook& c : shard.connections()) c.shut_down();
    });
  }
  asio::co_spawn(main_, drain_and_exit(),
                 [](std::exception_ptr e) { log_exception(e, "shutdown"); });
}

asio::awaitable<void> Server::drain_and_exit() {
  asio::steady_timer timer(main_);
  const auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
  while (state_.connected_clients.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(kUseTuple);
  }
  if (auto left = state_.connected_clients.load(); left > 0) {
    spdlog::warn("{} clients still writing at shutdown; closing them", left);
  }
  main_.stop();
}

asio::awaitable<void> Server::accept_loop() {
  static constexpr std::string_view kMaxClients = "-ERR max number of clients reached\r\n";
  unsigned next = 0;
  asio::steady_timer backoff(main_);
  for (;;) {
    const unsigned target = next;
    next = (next + 1) % shards_.size();
    auto [ec, socket] = co_await acceptor_.async_accept(shards_.shard(target).context(), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      // Out of descriptors or similar: say so, and let the condition pass instead of spinning.
      spdlog::warn("Accepting a client failed: {}", ec.message());
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    state_.total_connections.fetch_add(1, std::memory_order_relaxed);
    if (state_.connected_clients.load(std::memory_order_relaxed) >= state_.config.maxclients) {
      state_.rejected_connections.fetch_add(1, std::memory_order_relaxed);
      boost::system::error_code ignored;
      asio::write(socket, asio::buffer(kMaxClients), ignored);
      socket.close(ignored);
      continue;
    }
    state_.connected_clients.fetch_add(1, std::memory_order_relaxed);
    boost::system::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    asio::co_spawn(
        shards_.shard(target).context(),
        serve(std::make_unique<Connection>(shards_, state_, target, dispatch_, std::move(socket))),
        [](std::exception_ptr e) { log_exception(e, "connection"); });
  }
}

asio::awaitable<void> Server::tick(Shard& shard) {
  asio::steady_timer timer(shard.context());
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(kUseTuple);
    if (ec) co_return;
    const auto now =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                       std::chrono::steady_clock::now() - state_.started)
                                       .count());
    shard.set_clock_s(now);
    const std::uint64_t timeout = state_.timeout.load(std::memory_order_relaxed);
    if (timeout == 0) continue;
    for (ConnectionHook& c : shard.connections()) {
      if (now - c.last_active_s > timeout) c.close_now();
    }
  }
}

}  // namespace tessera::server
