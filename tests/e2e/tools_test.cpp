// The stock tools against the real server: redis-cli (one-shot, piped interactive, --scan,
// --pipe) and redis-benchmark, with 2 and 4 shards.
#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <string>

#include "e2e_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

namespace {
std::vector<std::string> cli(const ServerProcess& s, std::vector<std::string> args) {
  args.insert(args.begin(), {"redis-cli", "-p", std::to_string(s.port())});
  return args;
}
std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.insert(l);
  return out;
}
}  // namespace

TEST_CASE("e2e tools: redis-cli one-shot and piped interactive mode") {
  auto server = start_tessera(2);
  auto set = run_command(cli(server, {"set", "greeting", "hello"}));
  CHECK(set.exit_code == 0);
  CHECK(set.out == "OK\n");
  auto get = run_command(cli(server, {"get", "greeting"}));
  CHECK(get.out == "hello\n");
  auto missing = run_command(cli(server, {"get", "nokey"}));
  CHECK(missing.out == "\n");
  // Interactive mode first sends COMMAND DOCS and asserts on its shape: a crash shows here.
  auto piped = run_command(cli(server, {}), "SET p 1\nGET p\nDBSIZE\nFOO\nhelp set\n");
  CHECK(piped.exit_code == 0);
  CHECK(piped.out.find("OK\n1\n2\nERR unknown command 'FOO'") == 0);
  CHECK(piped.err.find("Assertion") == std::string::npos);
}

TEST_CASE("e2e tools: redis-cli pipe loads 100 000 keys and scan pattern finds them") {
  for (unsigned n : {2u, 4u}) {
    CAPTURE(n);
    auto server = start_tessera(n);
    std::string input;
    input.reserve(100000 * 40);
    for (int i = 0; i < 100000; ++i) {
      char line[64];
      std::snprintf(line, sizeof line, "SET k%015d v%031d\r\n", i, i);
      input += line;
    }
    auto pipe = run_command(cli(server, {"--pipe"}), input, 60s);
    CHECK(pipe.exit_code == 0);
    CHECK(pipe.out.find("errors: 0, replies: 100000") != std::string::npos);
    CHECK(run_command(cli(server, {"dbsize"})).out == "100000\n");
    auto scan = run_command(cli(server, {"--scan", "--pattern", "k00000000000012*"}), {}, 60s);
    CHECK(scan.exit_code == 0);
    std::set<std::string> want;  // 15 digits starting 00000000000012: 120..129
    for (int i = 120; i < 130; ++i) {
      char key[32];
      std::snprintf(key, sizeof key, "k%015d", i);
      want.insert(key);
    }
    CHECK(lines(scan.out) == want);
    auto all = run_command(cli(server, {"--scan"}), {}, 60s);
    CHECK(lines(all.out).size() == 100000);
  }
}

TEST_CASE("e2e tools: redis-benchmark set get ping pipelined exits 0 with no error") {
  auto server = start_tessera(2);
  auto bench = run_command({"redis-benchmark", "-p", std::to_string(server.port()), "-t",
                            "set,get,ping", "-r", "100000", "-n", "100000", "-P", "16", "-q"},
                           {}, 90s);
  CHECK(bench.exit_code == 0);
  CHECK(bench.out.find("SET:") != std::string::npos);
  CHECK(bench.out.find("GET:") != std::string::npos);
  CHECK(bench.out.find("PING_INLINE:") != std::string::npos);
  CHECK((bench.out + bench.err).find("Error") == std::string::npos);
  CHECK((bench.out + bench.err).find("WARNING") == std::string::npos);  // CONFIG GET answered
}

// The README's benchmarking advice: a bare redis-benchmark runs its default list and stops at the
// first test Tessera does not support (LPUSH: no lists), having run every earlier one; the `-t`
// list the README gives runs every test Tessera supports, with no error.
TEST_CASE("e2e tools: a bare redis-benchmark stops at LPUSH; the README's -t list runs clean") {
  auto server = start_tessera(2);
  auto bare = run_command(
      {"redis-benchmark", "-p", std::to_string(server.port()), "-n", "2000", "-P", "8", "-q"}, {},
      120s);
  const std::string bare_all = bare.out + bare.err;
  CAPTURE(bare_all);
  CHECK(bare.exit_code != 0);
  CHECK(bare_all.find("INCR:") != std::string::npos);
  CHECK(bare_all.find("LPUSH") != std::string::npos);
  CHECK(bare_all.find("RPUSH:") == std::string::npos);

  auto listed = run_command(
      {"redis-benchmark", "-p", std::to_string(server.port()), "-t",
       "ping_inline,ping_mbulk,set,get,incr,mset", "-r", "10000", "-n", "5000", "-P", "8", "-q"},
      {}, 120s);
  const std::string listed_all = listed.out + listed.err;
  CAPTURE(listed_all);
  CHECK(listed.exit_code == 0);
  for (const char* test :
       {"PING_INLINE:", "PING_MBULK:", "SET:", "GET:", "INCR:", "MSET (10 keys):"}) {
    CHECK(listed_all.find(test) != std::string::npos);
  }
  CHECK(listed_all.find("Error") == std::string::npos);
  CHECK(listed_all.find("ERR") == std::string::npos);
}
