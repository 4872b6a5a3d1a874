// The Prometheus endpoint: HTTP/1.1 GET /metrics on metrics-port, served on the server's main
// thread (the acceptors' io_context), off the shards' hot path.
//
// A scrape posts one closure to each shard, which reads its own figures when no session holds it
// (commands/metrics.hpp), and the page is written once the last has answered; nothing is counted
// for the endpoint on the hot path.
//
// The HTTP side is small and strict, and bounded whatever a peer sends: a request head (request
// line and headers) of at most 8 KB (else 431), in at most 10 s from the connection's last
// response (else 408), no request body (400), GET or HEAD only (405, with Allow), /metrics only
// (404), HTTP/1.0 or 1.1 only (505); every error closes the connection. Keep-alive as HTTP/1.1
// has it (Prometheus keeps its connection); "Connection: close" and HTTP/1.0 close after the
// response. At most 64 connections at once: more are answered 503 and closed. The response is
// written with the same 10 s deadline, so a peer that does not read is closed too.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

class MetricsServer {
 public:
  MetricsServer(asio::io_context& context, ShardSet& shards, const ServerState& state);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Listens on every address of `bind` (bind's grammar) at `port`; "" or what failed, in words.
  std::string listen(const std::vector<std::string>& bind, int port);
  // Accepts (on the context's thread, once it runs).
  void start();
  // Closes the listeners and every open connection (shutdown).
  void stop();

 private:
  asio::awaitable<void> accept_loop(asio::ip::tcp::acceptor& acceptor);
  asio::awaitable<void> serve(std::shared_ptr<asio::ip::tcp::socket> socket);
  // The page: every shard's figures, gathered through one post each.
  asio::awaitable<std::string> scrape();

  asio::io_context& context_;
  ShardSet& shards_;
  const ServerState& state_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::vector<std::weak_ptr<asio::ip::tcp::socket>> open_;  // for stop()
  unsigned connections_ = 0;
  bool stopped_ = false;
};

}  // namespace tessera::server
