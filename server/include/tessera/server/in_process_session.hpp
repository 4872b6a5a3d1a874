// InProcessSession: a test driver for the real Session (dispatch and the command table, batching,
// cross-shard hops) on a real, running ShardSet, with a string instead of a socket. For unit tests
// and the command fuzzer; like main.cpp, it is where the session is given the real dispatcher.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/protocol/request_parser.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/session/session.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

class InProcessSession {
 public:
  // `shards` must be started; this session lives on shard `home`. Blocking calls: never call them
  // from a shard thread.
  InProcessSession(ShardSet& shards, ServerState& state, unsigned home = 0);
  ~InProcessSession();

  // Feeds raw request bytes through the real parser and returns every reply byte they produce
  // (an incomplete trailing command stays buffered for the next call).
  std::string send(std::string_view bytes);
  // Encodes argv as a multibulk command and sends it.
  std::string call(std::initializer_list<std::string_view> argv);
  std::string call(const std::vector<std::string>& argv);
  // As after a successful AUTH (replaying the append-only file); before the first send.
  void authenticate();
  // True once the session ended (QUIT, protocol error); later sends return "".
  bool closed() const { return closed_; }
  // Test-only: how many writes the session made so far, and the largest one (bytes).
  std::size_t TEST_writes() const { return writes_; }
  std::size_t TEST_largest_write() const { return largest_write_; }

 private:
  ShardSet& shards_;
  unsigned home_;
  std::unique_ptr<protocol::RequestParser> parser_;
  std::unique_ptr<Session> session_;
  bool closed_ = false;
  std::size_t writes_ = 0;
  std::size_t largest_write_ = 0;
};

}  // namespace tessera::server
