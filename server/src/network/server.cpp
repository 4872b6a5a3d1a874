// Server: acceptor, signals, ticks and shutdown (design note in server.hpp).
#include <tessera/server/network/server.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include <spdlog/spdlog.h>
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <tessera/server/persistence/persistence.hpp>

#include "connection.hpp"
#include "metrics_server.hpp"

namespace tessera::server {

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// How long shutdown waits for connections to finish writing before it stops the shards anyway.
constexpr auto kShutdownGrace = std::chrono::milliseconds(700);
// Descriptors kept for the server itself beyond maxclients (listener, eventfds, epoll, logs).
constexpr std::uint64_t kReservedFds = 32;
// A connection idle this long gives back its buffers (Redis frees an idle client's query buffer
// after 2 s too).
constexpr std::uint64_t kReleaseIdleAfterS = 2;

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

// Redis's anetKeepAlive: probes after `interval` seconds idle, then every interval/3, 3 of them.
template <typename Socket>
void set_keepalive(Socket& socket, int interval) {
  if (interval <= 0) return;
  boost::system::error_code ignored;
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  int idle = interval, probe = std::max(1, interval / 3), count = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &probe, sizeof probe);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}
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
    : state_(std::move(config)), shards_(state_.config.shards, &state_.store), dispatch_(dispatch) {
  state_.request_shutdown = [this] { stop(); };
}

Server::~Server() { shards_.stop(); }

std::string open_listener(asio::io_context& context, std::string_view entry, int port, int backlog,
                          Listener& out) {
  const bool optional = entry.starts_with("-");
  std::string host(bind_address(entry));
  if (host == "localhost") host = "127.0.0.1";
  if (host == "*") host = "0.0.0.0";
  if (host == "::*") host = "::";
  const std::string shown = host.find(':') != std::string::npos
                                ? "[" + host + "]:" + std::to_string(port)
                                : host + ":" + std::to_string(port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return "Could not listen on " + shown + ": not an IP address";
  const asio::ip::tcp::endpoint ep(address, static_cast<unsigned short>(port));
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(context);
  acceptor->open(ep.protocol(), ec);
  if (!ec) {
    boost::system::error_code ignored;
    acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ignored);
    // An IPv6 listener takes IPv6 only, so that "0.0.0.0" and "::" can both be bound.
    if (address.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ignored);
    acceptor->bind(ep, ec);
  }
  if (!ec) acceptor->listen(backlog, ec);
  if (ec) {
    // Redis's '-' prefix: skip an address this machine does not have (or a family it lacks).
    if (optional && (ec == asio::error::address_family_not_supported ||
                     ec.value() == EADDRNOTAVAIL || ec.value() == EPROTONOSUPPORT)) {
      spdlog::info("Skipping optional bind address {}: {}", shown, ec.message());
      out = {};
      return {};
    }
    std::string why = ec.message();
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    return "Could not listen on " + shown + ": " + why;
  }
  port = acceptor->local_endpoint().port();
  out.shown = address.is_v6() ? "[" + host + "]:" + std::to_string(port)
                              : host + ":" + std::to_string(port);
  out.acceptor = std::move(acceptor);
  return {};
}

std::string Server::listen() {
  int port = state_.config.port;
  for (const std::string& entry : state_.config.bind) {
    Listener l;
    if (std::string error = open_listener(main_, entry, port, state_.config.tcp_backlog, l);
        !error.empty()) {
      return error;
    }
    if (!l.acceptor) continue;                   // an optional address not available here
    port = l.acceptor->local_endpoint().port();  // with port 0, every address gets the same one
    listening_.push_back(std::move(l.shown));
    acceptors_.push_back(std::move(l.acceptor));
  }
  if (acceptors_.empty()) return "Could not listen on any of the bind addresses";
  state_.port.store(port);
  if (state_.config.metrics_port != 0) {
    metrics_ = std::make_unique<MetricsServer>(main_, shards_, state_);
    const auto& where =
        state_.config.metrics_bind.empty() ? state_.config.bind : state_.config.metrics_bind;
    if (std::string error = metrics_->listen(where, state_.config.metrics_port); !error.empty()) {
      return error;
    }
  }
  return {};
}

void Server::run(bool handle_signals) {
  shards_.start();
  for (unsigned i = 0; i < shards_.size(); ++i) {
    Shard& shard = shards_.shard(i);
    asio::co_spawn(shard.context(), tick(shard),
                   [](std::exception_ptr e) { log_exception(e, "shard tick"); });
  }
  for (auto& acceptor : acceptors_) {
    asio::co_spawn(main_, accept_loop(*acceptor),
                   [](std::exception_ptr e) { log_exception(e, "acceptor"); });
  }
  if (metrics_) metrics_->start();
  if (handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("Received {}, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
      begin_shutdown();
    });
  }
  std::string where;
  for (const auto& l : listening_) where += (where.empty() ? "" : ", ") + l;
  spdlog::info("Ready to accept connections tcp on {} ({} shard{})", where, shards_.size(),
               shards_.size() == 1 ? "" : "s");
  main_.run();
  shards_.stop();
  // The shard threads have been joined: their stores may be read from here (the save at exit,
  // when save rules are set and no SHUTDOWN decided it already).
  Persistence* p = state_.persistence;
  if (p != nullptr) {
    p->stop();  // no background save starts or finishes from here on
    if (!p->save_at_exit()) exit_status_ = 1;
  }
  // Without save rules (save "") and no SHUTDOWN SAVE, the keys in memory are gone with the
  // process: the log says so, so that nobody mistakes a quiet exit for a saved one.
  if (p == nullptr || (!p->has_save_rules() && !p->exit_save_skipped())) {
    std::size_t keys = 0;
    for (unsigned i = 0; i < shards_.size(); ++i) keys += shards_.shard(i).store().count();
    if (keys != 0) {
      spdlog::warn("Not saving: no save rules (save \"\"); the {} key{} in memory {} dropped", keys,
                   keys == 1 ? "" : "s", keys == 1 ? "is" : "are");
    }
  }
  spdlog::info("Tessera is now ready to exit, bye bye...");
}

void Server::stop() {
  asio::post(main_, [this] { begin_shutdown(); });
}

void Server::begin_shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  boost::system::error_code ec;
  for (auto& acceptor : acceptors_) acceptor->close(ec);
  if (metrics_) metrics_->stop();
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

asio::awaitable<void> Server::accept_loop(asio::ip::tcp::acceptor& acceptor) {
  static constexpr std::string_view kMaxClients = "-ERR max number of clients reached\r\n";
  asio::steady_timer backoff(main_);
  for (;;) {
    const unsigned target = next_shard_;
    next_shard_ = (next_shard_ + 1) % shards_.size();
    auto [ec, socket] = co_await acceptor.async_accept(shards_.shard(target).context(), kUseTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
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
    set_keepalive(socket, state_.config.tcp_keepalive);
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
    for (ConnectionHook& c : shard.connections()) {
      const std::uint64_t idle = now - c.last_active_s;
      if (timeout != 0 && idle > timeout && !c.timeout_exempt) {
        c.close_now();
      } else if (idle >= kReleaseIdleAfterS) {
        c.release_idle_memory();
      }
    }
  }
}

}  // namespace tessera::server
