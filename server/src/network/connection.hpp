// A TCP client connection: a Session around a socket, living on its home shard's thread.
//
// Design note for server/src/network/. The network layer is the socket side of the server: the
// listener (server.cpp: accept, hand each socket to a shard round-robin, maxclients, signals,
// shutdown) and the per-shard once-a-second tick (the shard clock and the idle sweep), and the
// Connection below. A Connection counts as one connected client from the moment it is accepted to
// its destruction, and is linked into its shard's intrusive connection list (for the idle sweep
// and shutdown) while it runs; the auto-unlink hook takes it out however it ends. It gives its
// Session the dispatcher the server was built with; what commands mean is not its business.
//
// Loop: read into the parser's buffer (prepare/commit), drain every complete command (the session
// writes replies in request order, one write per batch or chunk), repeat. Because the loop waits
// for each write before it executes or reads more, a client that does not read its replies stops
// being read from: what it can pin is one chunk of replies plus its unparsed input, which the
// query buffer limit bounds.
//
// MONITOR (commands/monitor.hpp): once a batch made the session a monitor, its first write
// registers a MonitorStream with the hub and starts a writer beside the read loop; from then on
// every byte it sends (its own replies and the lines fed from any shard) goes through the stream,
// so the writer is the socket's only writer. The read loop goes on (a monitor may still run
// commands that do not touch the keyspace, and QUIT); when it ends, the connection unregisters the
// stream and waits for the writer to finish before it closes the socket. A monitor is exempt from
// the idle timeout (as in Redis) and does not wait for its writes at shutdown.
//
// Idle memory: a batch that ends with nothing buffered trims the parser's buffer (above 1 MB), and
// the shard's tick calls release_idle_memory() on a connection idle for 2 s, which gives back the
// session's buffers and shrinks the parser's to its default read size (16 KB). So an idle
// connection holds about 16 KB of buffers, whatever it sent or received before.
#pragma once

#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tessera/server/commands/monitor.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/session/session.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

class Connection final : public ConnectionHook {
 public:
  // Constructed anywhere, once the connection was counted in state.connected_clients (the
  // destructor uncounts it); run() must be spawned on the home shard's executor (the socket's).
  Connection(ShardSet& shards, ServerState& state, unsigned home, Dispatcher dispatch,
             asio::ip::tcp::socket socket);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  asio::awaitable<void> run();
  void shut_down() override;
  void close_now() override;
  void release_idle_memory() override;
  std::uint64_t client_id() const override;
  ClientRecord describe() const override;

 private:
  class SocketSink;
  // The session just became a monitor: makes its stream with `first` (the batch's replies, the
  // +OK last) in it, registers it and spawns write_monitor.
  void start_monitor(std::string_view first);
  asio::awaitable<void> write_monitor(std::shared_ptr<MonitorStream> stream);
  // Unregisters the stream and waits until write_monitor has returned.
  asio::awaitable<void> stop_monitor();
  ShardSet& shards_;
  ServerState& state_;
  unsigned home_;
  Dispatcher dispatch_;
  asio::ip::tcp::socket socket_;
  // run()'s parser and session, while it runs (for release_idle_memory).
  protocol::RequestParser* parser_ = nullptr;
  Session* session_ = nullptr;
  bool reading_ = false;
  bool stopping_ = false;
  bool fresh_parser_wanted_ = false;
  std::uint64_t accepted_s_ = 0;  // shard clock when run() began
  std::shared_ptr<MonitorStream> monitor_;
  bool writer_running_ = false;
  asio::steady_timer writer_done_;  // cancelled when write_monitor returns
};

}  // namespace tessera::server
