// SLOWLOG (issue 20), in process through the real command table: slowlog-log-slower-than and
// slowlog-max-len honoured (CONFIG SET and their validation), Redis 7.0.15's entry format (id,
// unix time, microseconds, arguments cut as Redis cuts them, address, client name), passwords
// redacted, EXEC not logged but its commands are; GET's count, LEN, RESET, HELP.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;

namespace {

std::vector<std::string> args_of(const tessera::protocol::Reply& entry) {
  std::vector<std::string> out;
  for (const auto& a : entry.elements.at(3).elements) out.push_back(a.str);
  return out;
}

std::vector<tessera::protocol::Reply> slowlog_get(InProcessSession& c, std::string count = "-1") {
  auto r = parse_all(c.call({"SLOWLOG", "GET", count}));
  REQUIRE(r.size() == 1);
  return r[0].elements;
}

}  // namespace

TEST_CASE("slowlog: every command at threshold 0, Redis's entry format, newest first") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-log-slower-than", "0"}) == "+OK\r\n");
  REQUIRE(c.call({"SLOWLOG", "RESET"}) == "+OK\r\n");
  // RESET itself is logged after it ran (as in Redis), then LEN.
  CHECK(c.call({"SLOWLOG", "LEN"}) == ":1\r\n");
  CHECK(c.call({"SLOWLOG", "LEN"}) == ":2\r\n");
  REQUIRE(c.call({"SLOWLOG", "RESET"}) == "+OK\r\n");

  const auto before = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  CHECK(c.call({"SET", "k", "v"}) == "+OK\r\n");
  CHECK(c.call({"CLIENT", "SETNAME", "reporter"}) == "+OK\r\n");
  CHECK(c.call({"AUTH", "secret"}).starts_with("-ERR AUTH <password> called without"));
  CHECK(c.call({"HELLO", "2", "AUTH", "default", "secret", "SETNAME", "reporter"})
            .starts_with("*14\r\n"));
  const std::string long_key(200, 'a');
  CHECK(c.call({"SET", long_key, "v"}) == "+OK\r\n");
  std::vector<std::string> mset{"MSET"};
  for (int i = 0; i < 40; ++i) mset.push_back(std::to_string(i));
  CHECK(c.call(mset) == "+OK\r\n");

  auto entries = slowlog_get(c);
  // RESET, SET, CLIENT SETNAME, AUTH, HELLO, SET, MSET: newest first.
  REQUIRE(entries.size() == 7);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    REQUIRE(e.elements.size() == 6);
    if (i > 0) CHECK(e.elements[0].integer == entries[i - 1].elements[0].integer - 1);
    CHECK(e.elements[1].integer >= before);
    CHECK(e.elements[2].integer >= 0);
    CHECK(e.elements[4].str == "");  // in process: no address (a socket gives "ip:port")
  }
  // At most 32 arguments: 31 and how many more.
  auto m = args_of(entries[0]);
  REQUIRE(m.size() == 32);
  CHECK(m[0] == "MSET");
  CHECK(m[30] == "29");
  CHECK(m[31] == "... (10 more arguments)");
  CHECK(entries[0].elements[5].str == "reporter");
  // Arguments cut to 128 bytes and how many more.
  CHECK(args_of(entries[1]) ==
        std::vector<std::string>{"SET", std::string(128, 'a') + "... (72 more bytes)", "v"});
  // Passwords redacted, failed or not.
  CHECK(args_of(entries[2]) == std::vector<std::string>{"HELLO", "2", "AUTH", "(redacted)",
                                                        "(redacted)", "SETNAME", "reporter"});
  CHECK(args_of(entries[3]) == std::vector<std::string>{"AUTH", "(redacted)"});
  CHECK(args_of(entries[4]) == std::vector<std::string>{"CLIENT", "SETNAME", "reporter"});
  CHECK(entries[4].elements[5].str == "reporter");
  CHECK(args_of(entries[5]) == std::vector<std::string>{"SET", "k", "v"});
  CHECK(entries[5].elements[5].str == "");
  CHECK(args_of(entries[6]) == std::vector<std::string>{"SLOWLOG", "RESET"});

  // GET's count: default 10, -1 all, below -1 or not a number refused.
  CHECK(slowlog_get(c, "2").size() == 2);
  c.call({"PING"});  // 10 entries now (the two GETs were logged too), 11 with the next
  CHECK(parse_all(c.call({"SLOWLOG", "GET"}))[0].elements.size() == 10);
  CHECK(c.call({"SLOWLOG", "GET", "-2"}) == "-ERR count should be greater than or equal to -1\r\n");
  CHECK(c.call({"SLOWLOG", "GET", "x"}) == "-ERR count should be greater than or equal to -1\r\n");
  CHECK(c.call({"SLOWLOG", "LEN", "x"}) ==
        "-ERR wrong number of arguments for 'slowlog|len' command\r\n");
  CHECK(c.call({"SLOWLOG", "FOO"}) == "-ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.\r\n");
  auto help = parse_all(c.call({"SLOWLOG", "HELP"}));
  REQUIRE(help[0].elements.size() == 12);
  CHECK(help[0].elements[0].str ==
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
}

TEST_CASE("slowlog: threshold and length honoured, validated as Redis validates them") {
  Env env(1);
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"CONFIG", "SET", "slowlog-log-slower-than", "-2"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - "
        "argument must be between -1 and 9223372036854775807 inclusive\r\n");
  CHECK(c.call({"CONFIG", "SET", "slowlog-max-len", "-1"})
            .starts_with("-ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') "
                         "- argument must "
                         "be between 0 and 9223372036854775807 inclusive"));
  auto get = parse_all(c.call({"CONFIG", "GET", "slowlog-*"}));
  REQUIRE(get[0].elements.size() == 4);

  // The default: 10 ms, which no command here takes.
  REQUIRE(c.call({"SLOWLOG", "RESET"}) == "+OK\r\n");
  for (int i = 0; i < 20; ++i) c.call({"SET", "k", "v"});
  CHECK(c.call({"SLOWLOG", "LEN"}) == ":0\r\n");

  // -1: nothing, even at any duration.
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-log-slower-than", "-1"}) == "+OK\r\n");
  c.call({"SET", "k", "v"});
  CHECK(c.call({"SLOWLOG", "LEN"}) == ":0\r\n");

  // 0 with a length of 3: the 3 newest.
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-max-len", "3"}) == "+OK\r\n");
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-log-slower-than", "0"}) == "+OK\r\n");
  for (int i = 0; i < 5; ++i) c.call({"SET", "k" + std::to_string(i), "v"});
  auto entries = slowlog_get(c);
  REQUIRE(entries.size() == 3);
  CHECK(args_of(entries[0]) == std::vector<std::string>{"SET", "k4", "v"});
  CHECK(args_of(entries[2]) == std::vector<std::string>{"SET", "k2", "v"});

  // EXEC is not logged; the commands it ran are.
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-max-len", "128"}) == "+OK\r\n");
  REQUIRE(c.call({"SLOWLOG", "RESET"}) == "+OK\r\n");
  c.call({"MULTI"});
  c.call({"SET", "a", "1"});
  CHECK(c.call({"EXEC"}) == "*1\r\n+OK\r\n");
  entries = slowlog_get(c);
  REQUIRE(entries.size() == 3);
  CHECK(args_of(entries[0]) == std::vector<std::string>{"SET", "a", "1"});
  CHECK(args_of(entries[1]) == std::vector<std::string>{"MULTI"});
  CHECK(args_of(entries[2]) == std::vector<std::string>{"SLOWLOG", "RESET"});
  REQUIRE(c.call({"CONFIG", "SET", "slowlog-log-slower-than", "10000"}) == "+OK\r\n");
}
