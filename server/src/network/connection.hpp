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

 private:
  class SocketSink;
  ShardSet& shards_;
  ServerState& state_;
  unsigned home_;
  Dispatcher dispatch_;
  asio::ip::tcp::socket socket_;
  bool reading_ = false;
  bool stopping_ = false;
};

}  // namespace tessera::server
