// A TCP client connection: a Session around a socket, living on its home shard's thread.
//
// Loop: read into the parser's buffer (prepare/commit), drain every complete command (the session
// writes replies in request order, one write per batch or chunk), repeat. Because the loop waits
// for each write before it executes or reads more, a client that does not read its replies stops
// being read from: what it can pin is one chunk of replies plus its unparsed input, which the
// query buffer limit bounds.
#pragma once

#include <cstdint>
#include <list>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <tessera/server/server_state.hpp>
#include <tessera/server/session.hpp>
#include <tessera/server/shard_set.hpp>

namespace tessera::server {

class Connection final : public ConnectionHook {
 public:
  // Constructed anywhere; run() must be spawned on the home shard's executor (the socket's).
  Connection(ShardSet& shards, ServerState& state, unsigned home, asio::ip::tcp::socket socket);
  asio::awaitable<void> run();
  void shut_down() override;
  void close_now() override;

 private:
  class SocketSink;
  ShardSet& shards_;
  ServerState& state_;
  unsigned home_;
  asio::ip::tcp::socket socket_;
  bool reading_ = false;
  bool stopping_ = false;
};

}  // namespace tessera::server
