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
// Idle memory: a batch that ends with nothing buffered trims the parser's buffer (above 1 MB), and
// the shard's tick calls release_idle_memory() on a connection idle for 2 s, which gives back the
// session's buffers and shrinks the parser's to its default read size (16 KB). So an idle
// connection holds about 16 KB of buffers, whatever it sent or received before.
#pragma once

#include <cstdint>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
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
};

}  // namespace tessera::server
