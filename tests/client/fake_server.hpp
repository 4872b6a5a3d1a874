// Misbehaving servers for the client's failure tests, opened by the test itself on loopback:
// one that accepts and never answers, one that answers garbage, one that closes every connection.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace tessera::test {

class FakeServer {
 public:
  enum class Behavior {
    kSilent,          // accepts, reads, never writes
    kGarbage,         // answers every read with `garbage`
    kCloseAfterRead,  // closes the connection once something arrived
    kNeverAccept,     // listen(backlog 0) and never accept: connects beyond the backlog hang
  };
  explicit FakeServer(Behavior behavior, std::string garbage = "?what\r\n");
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  int port() const { return port_; }

 private:
  void serve();
  Behavior behavior_;
  std::string garbage_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tessera::test
