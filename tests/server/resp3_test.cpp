// RESP3 against Redis 7.0.15: every command Tessera has, replayed after HELLO 3 on a real Session
// over four shards (so key operations run on other shards too, and their replies must come back
// in the connection's protocol), compared with the bytes Debian's redis-server sent for the same
// steps (resp3/steps.txt, recorded into resp3/redis_replies.inc by resp3/record.py). Bytes that
// legitimately differ (connection ids, INFO's contents, the command table's docs and counts) are
// compared by shape: the RESP3 types, not the values.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include <tessera/protocol/reply_reader.hpp>

#include "resp3/compare.hpp"
#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;
using tessera::protocol::Reply;
using namespace tessera::test::resp3;

namespace {

// One recorded step. The reply is taken as a char array, so that embedded NUL bytes are kept.
struct RawStep {
  template <std::size_t N>
  RawStep(std::string_view m, std::vector<std::string> a, const char (&reply)[N])
      : mode(m), args(std::move(a)), redis(reply, N - 1) {}
  std::string_view mode;
  std::vector<std::string> args;
  std::string_view redis;
};

const std::vector<RawStep>& redis_steps() {
  static const std::vector<RawStep> steps = {
#include "resp3/redis_replies.inc"
  };
  return steps;
}

}  // namespace

TEST_CASE("RESP3: every command's reply after HELLO 3 takes Redis 7.0.15's shape") {
  Env env(4);
  InProcessSession c(env.set, env.state);
  // As record.py did on Redis: a fresh keyspace, then HELLO 3 (its reply is a step of its own).
  REQUIRE(c.call({"FLUSHALL"}) == "+OK\r\n");
  REQUIRE(c.call({"HELLO", "3"}).starts_with("%7\r\n"));
  for (const RawStep& step : redis_steps()) {
    const std::string_view mode = step.mode;
    CAPTURE(mode);
    std::string command;
    for (const auto& arg : step.args) command += arg + " ";
    CAPTURE(command);
    const std::string ours = c.call(step.args);
    CAPTURE(ours);
    CAPTURE(step.redis);
    check_step(mode, ours, step.redis);
  }
  CHECK(c.closed());  // the last step is QUIT
}

TEST_CASE("RESP3: a key operation on another shard replies in its connection's protocol") {
  Env env(4);
  InProcessSession resp3(env.set, env.state, 0);
  InProcessSession resp2(env.set, env.state, 0);
  REQUIRE(resp3.call({"HELLO", "3"}).starts_with("%7\r\n"));
  for (unsigned shard = 0; shard < 4; ++shard) {
    CAPTURE(shard);
    const std::string key = env.key_on(shard, "missing");
    CHECK(resp3.call({"GET", key}) == "_\r\n");
    CHECK(resp2.call({"GET", key}) == "$-1\r\n");
    CHECK(resp3.call({"GETDEL", key}) == "_\r\n");
    CHECK(resp3.call({"SET", key, "v", "XX", "GET"}) == "_\r\n");
    CHECK(resp2.call({"SET", key, "v", "XX", "GET"}) == "$-1\r\n");
  }
  // Several keys on several shards in one reply: every missing one is RESP3's null.
  std::vector<std::string> mget = {"MGET"};
  for (unsigned shard = 0; shard < 4; ++shard) mget.push_back(env.key_on(shard, "none"));
  CHECK(resp3.call(mget) == "*4\r\n_\r\n_\r\n_\r\n_\r\n");
  CHECK(resp2.call(mget) == "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
  // HELLO 2 switches back: the same operations reply in RESP2 again.
  REQUIRE(resp3.call({"HELLO", "2"}).starts_with("*14\r\n"));
  CHECK(resp3.call(mget) == "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
}

TEST_CASE("RESP3: a refused HELLO leaves the protocol as it was") {
  Config config;
  config.requirepass = "s3cret";
  Env env(2, config);
  InProcessSession c(env.set, env.state);
  // Redis checks the options and AUTH before it switches: a failed HELLO 3 keeps RESP2.
  CHECK(c.call({"HELLO", "3", "AUTH", "default", "wrong"}) ==
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  CHECK(c.call({"HELLO", "3", "BOGUS"}) == "-ERR Syntax error in HELLO option 'BOGUS'\r\n");
  CHECK(c.call({"AUTH", "s3cret"}) == "+OK\r\n");
  CHECK(c.call({"GET", "missing"}) == "$-1\r\n");
  CHECK(c.call({"HELLO", "3"}).starts_with("%7\r\n"));
  CHECK(c.call({"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
  CHECK(c.call({"GET", "missing"}) == "_\r\n");  // still RESP3
}
