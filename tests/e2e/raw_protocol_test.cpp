// The wire, byte for byte: exact replies, pipelining order across shards, inline commands, and
// protocol errors (reply, then close) against the real server process, with 1, 2 and 4 shards.
#include <doctest/doctest.h>

#include <string>

#include "e2e_util.hpp"

using namespace tessera::test;

namespace {
const unsigned kShardCounts[] = {1, 2, 4};
}

TEST_CASE("e2e raw: exact replies inline and multibulk mixed connection kept on errors") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    auto server = start_tessera(n);
    RawConnection c(server.port());
    const std::string want =
        "+PONG\r\n$2\r\nhi\r\n+PONG\r\n"
        "-ERR wrong number of arguments for 'get' command\r\n+PONG\r\n"
        "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n"
        "+OK\r\n$3\r\ncAd\r\n"
        "-NOPROTO unsupported protocol version\r\n"
        "-ERR DB index is out of range\r\n+OK\r\n+PONG\r\n";
    c.send(
        "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n"
        "*1\r\n$3\r\nGET\r\nPING\r\n"
        "FOO bar baz\r\n"
        "SET \"a b\" \"c\\x41d\"\r\nGET \"a b\"\r\n"
        "\r\n\n*0\r\n*-1\r\n"  // silent: empty lines, *0, *-1
        "HELLO 4\r\nSELECT 1\r\nSELECT 0\r\nPING\r\n");
    CHECK(c.read_exactly(want.size()) == want);
    CHECK(c.read_available(std::chrono::milliseconds(100)).empty());
    CHECK(c.roundtrip(resp({"QUIT"}), 5) == "+OK\r\n");
    CHECK(c.closed_by_peer());
  }
}

TEST_CASE("e2e raw: a pipeline of 3000 commands over every shard comes back in order") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    auto server = start_tessera(n);
    RawConnection c(server.port());
    std::string req, want;
    for (int i = 0; i < 1000; ++i) {
      const std::string k = "p:" + std::to_string(i), v = std::to_string(i * 7);
      req += resp({"SET", k, v});
      want += "+OK\r\n";
      req += resp({"GET", k});
      want += bulk(v);
      req += resp({"EXISTS", k, "p:none", "p:0"});
      want += ":2\r\n";
    }
    req += resp({"DBSIZE"});
    want += ":1000\r\n";
    req += resp({"MGET", "p:999", "p:none", "p:0"});
    want += "*3\r\n" + bulk(std::to_string(999 * 7)) + "$-1\r\n" + bulk("0");
    req += resp({"DEL", "p:1", "p:2", "p:3", "p:none"});
    want += ":3\r\n";
    c.send(req);
    CHECK(c.read_exactly(want.size(), std::chrono::seconds(20)) == want);
  }
}

TEST_CASE("e2e raw: protocol errors are answered with Redis's text then the connection closes") {
  auto server = start_tessera(2);
  const std::pair<std::string, std::string> cases[] = {
      {"*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
      {"*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70 * 1024, 'a'), "-ERR Protocol error: too big inline request\r\n"},
      {"*" + std::string(70 * 1024, '1'), "-ERR Protocol error: too big mbulk count string\r\n"},
      {"*1\r\n$" + std::string(70 * 1024, '1'),
       "-ERR Protocol error: too big bulk count string\r\n"},
  };
  for (const auto& kase : cases) {
    const std::string& input = kase.first;
    const std::string& reply = kase.second;  // not a structured binding: clang 14's CAPTURE
    CAPTURE(reply);
    RawConnection c(server.port());
    c.send("PING\r\n" + input);
    CHECK(c.read_until_closed() == "+PONG\r\n" + reply);
  }
  RawConnection alive(server.port());
  CHECK(alive.roundtrip("PING\r\n", 7) == "+PONG\r\n");  // the server itself is fine
}

TEST_CASE("e2e raw: binary-safe ECHO as redis-cli pipe sends it split at every byte") {
  auto server = start_tessera(2);
  RawConnection c(server.port());
  std::string magic = "I\xf3m\xd8\x03`\r\n\xda\xf7\xb2\x1e\x92mIx\x19\xd5<\n";
  REQUIRE(magic.size() == 20);
  const std::string req = "SET a 1\r\nGET a\r\n\r\n" + resp({"ECHO", magic});
  for (char ch : req) c.send(std::string_view(&ch, 1));  // one byte per write
  const std::string want = "+OK\r\n$1\r\n1\r\n" + bulk(magic);
  CHECK(c.read_exactly(want.size()) == want);
}
