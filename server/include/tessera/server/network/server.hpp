// The server: one acceptor on the main thread handing sockets round-robin to the shard threads,
// signal handling, the per-shard once-a-second tick (idle timeouts), and orderly shutdown: stop
// accepting, let every connection finish writing what it computed, then stop the shards, all
// within about a second.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <tessera/server/config/config.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/session/session.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

class MetricsServer;

// One listening socket for a bind entry ("127.0.0.1", "-::1", "*"...), as `bind` and
// `metrics-bind` take them. Returns "" or what failed, in words; an optional ('-') address this
// machine lacks leaves `out.acceptor` empty and is logged.
struct Listener {
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
  std::string shown;  // "127.0.0.1:6379", "[::1]:6379"
};
std::string open_listener(asio::io_context& context, std::string_view entry, int port, int backlog,
                          Listener& out);

class Server {
 public:
  // Every connection's Session runs its commands through `dispatch` (commands/dispatch.hpp).
  Server(Config config, Dispatcher dispatch);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every bind address (a '-' prefixed one is skipped when the address is not
  // available here). Returns "" or what failed, in words: "Could not listen on 127.0.0.1:6379:
  // address already in use". port() is then the real port (useful with --port 0).
  std::string listen();
  // Serves until stop() or, with handle_signals, SIGINT/SIGTERM; returns once shut down.
  void run(bool handle_signals = true);
  // From any thread.
  void stop();

  int port() const { return state_.port.load(); }
  // 1 when the save at exit failed (the previous file is left as it was), else 0.
  int exit_status() const { return exit_status_; }
  ServerState& state() { return state_; }
  ShardSet& shards() { return shards_; }

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> tick(Shard& shard);
  asio::awaitable<void> drain_and_exit();
  void begin_shutdown();

  ServerState state_;
  ShardSet shards_;
  Dispatcher dispatch_;
  asio::io_context main_{1};
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::string> listening_;      // "127.0.0.1:6379", "[::1]:6379" for the log
  std::unique_ptr<MetricsServer> metrics_;  // with metrics-port set
  unsigned next_shard_ = 0;                 // round-robin over the shards, for every acceptor
  asio::signal_set signals_{main_};
  bool shutting_down_ = false;
  int exit_status_ = 0;
};

// Raises RLIMIT_NOFILE as far as allowed for maxclients (plus a reserve for the server's own
// descriptors) and lowers config.maxclients when the hard limit is too low, as Redis does. Returns
// a line to log, or "" when nothing had to change.
std::string adjust_open_file_limit(Config& config);

}  // namespace tessera::server
