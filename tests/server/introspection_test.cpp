// Introspection as an operator uses it (issue 20), in process through the real command table:
// INFO memory counts what the process allocated (not only the store), MEMORY USAGE / STATS /
// DOCTOR, CONFIG SET through the parameter table.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "session_env.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESSERA_TEST_ASAN 1
#endif
#endif
#ifndef TESSERA_TEST_ASAN
#define TESSERA_TEST_ASAN 0
#endif

using namespace tessera::server;
using namespace tessera::server::testing;

TEST_CASE("introspection: INFO memory counts the process's allocations, fragmentation from both") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  auto m = info_fields(c, "memory");
  const double used = std::stod(m.at("used_memory"));
  const double rss = std::stod(m.at("used_memory_rss"));
  const double store = std::stod(m.at("tessera_used_memory_store"));
  // The issue: used_memory was the store's bytes only, so the ratio read ~155 on a fresh server.
  CHECK(used > store);
  CHECK(used > 100 * 1024);  // the shards' tables, threads' arenas, the test's own heap
  CHECK(std::stod(m.at("mem_fragmentation_ratio")) == doctest::Approx(rss / used).epsilon(0.05));
#if !TESSERA_TEST_ASAN  // ASan's shadow memory counts in the RSS, not in what it allocated
  CHECK(std::stod(m.at("mem_fragmentation_ratio")) < 50);
#endif
  CHECK(m.count("mem_fragmentation_bytes") == 1);
  // A megabyte of values shows in used_memory.
  const std::string value(1 << 20, 'v');
  for (int i = 0; i < 4; ++i) c.call({"SET", "big" + std::to_string(i), value});
  auto after = info_fields(c, "memory");
  CHECK(std::stod(after.at("used_memory")) - used > 3.5 * (1 << 20));
  CHECK(std::stod(after.at("tessera_used_memory_store")) - store > 3.5 * (1 << 20));
}

TEST_CASE("introspection: MEMORY USAGE, STATS, DOCTOR, HELP") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  const std::string key = env.key_on(1);
  c.call({"SET", key, std::string(1000, 'x')});
  auto usage = parse_all(c.call({"MEMORY", "USAGE", key}));
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].integer > 1000 + static_cast<std::int64_t>(key.size()));
  CHECK(usage[0].integer < 1200);
  CHECK(c.call({"MEMORY", "USAGE", key, "SAMPLES", "0"}) == c.call({"MEMORY", "USAGE", key}));
  CHECK(c.call({"MEMORY", "USAGE", "missing"}) == "$-1\r\n");
  CHECK(c.call({"MEMORY", "USAGE", key, "SAMPLES"}) == "-ERR syntax error\r\n");
  CHECK(c.call({"MEMORY", "USAGE", key, "SAMPLES", "x"}) ==
        "-ERR value is not an integer or out of range\r\n");
  CHECK(c.call({"MEMORY", "USAGE"}) ==
        "-ERR wrong number of arguments for 'memory|usage' command\r\n");
  CHECK(c.call({"MEMORY", "NOPE"}) == "-ERR unknown subcommand 'NOPE'. Try MEMORY HELP.\r\n");

  auto stats = parse_all(c.call({"MEMORY", "STATS"}));
  REQUIRE(stats.size() == 1);
  std::map<std::string, tessera::protocol::Reply> fields;
  for (std::size_t i = 0; i + 1 < stats[0].elements.size(); i += 2) {
    fields[stats[0].elements[i].str] = stats[0].elements[i + 1];
  }
  CHECK(fields.at("keys.count").integer == 1);
  CHECK(fields.at("total.allocated").integer > fields.at("dataset.bytes").integer);
  CHECK(fields.at("dataset.bytes").integer > 1000);
  CHECK(std::stod(fields.at("fragmentation").str) > 0);
  CHECK(fields.at("dataset.percentage").type == tessera::protocol::Reply::Type::kBulk);
  // Under RESP3 a map, with the ratios as doubles (as Redis 7.0.15 sends them).
  REQUIRE(c.call({"HELLO", "3"}).starts_with("%7\r\n"));
  auto stats3 = parse_all(c.call({"MEMORY", "STATS"}));
  REQUIRE(stats3.size() == 1);
  REQUIRE(stats3[0].type == tessera::protocol::Reply::Type::kMap);
  CHECK(stats3[0].elements.size() == 14);
  std::map<std::string, tessera::protocol::Reply> fields3;
  for (std::size_t i = 0; i + 1 < stats3[0].elements.size(); i += 2) {
    fields3[stats3[0].elements[i].str] = stats3[0].elements[i + 1];
  }
  CHECK(fields3.at("keys.count").integer == 1);
  CHECK(fields3.at("dataset.percentage").type == tessera::protocol::Reply::Type::kDouble);
  CHECK(fields3.at("dataset.percentage").number > 0);
  CHECK(fields3.at("dataset.percentage").number <= 100);
  CHECK(fields3.at("fragmentation").type == tessera::protocol::Reply::Type::kDouble);
  CHECK(fields3.at("fragmentation").number > 0);
  CHECK(fields3.at("fragmentation.bytes").type == tessera::protocol::Reply::Type::kInteger);
  REQUIRE(c.call({"HELLO", "2"}).starts_with("*14\r\n"));

  auto doctor = parse_all(c.call({"MEMORY", "DOCTOR"}));
  REQUIRE(doctor.size() == 1);
  const bool known_text =
      doctor[0].str.starts_with("Hi Sam") || doctor[0].str.starts_with("Sam, I detected");
  CHECK(known_text);
  auto help = parse_all(c.call({"MEMORY", "HELP"}));
  REQUIRE(help.size() == 1);
  CHECK(help[0].elements.size() > 8);
  CHECK(c.call({"MEMORY", "PURGE"}) == "+OK\r\n");
}

TEST_CASE("introspection: CONFIG SET goes through the parameter table, all or nothing") {
  Env env(1);
  InProcessSession c(env.set, env.state);
  CHECK(
      c.call({"CONFIG", "SET", "timeout", "-1"}) ==
      "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between "
      "0 and 2147483647 inclusive\r\n");
  CHECK(
      c.call({"CONFIG", "SET", "loglevel", "loud"}) ==
      "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one "
      "of the following: debug, verbose, notice, warning\r\n");
  CHECK(c.call({"CONFIG", "SET", "port", "1"}) ==
        "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
        "config\r\n");
  CHECK(
      c.call({"CONFIG", "SET", "timeout", "5", "timeout", "6"}) ==
      "-ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter\r\n");
  CHECK(c.call({"CONFIG", "SET", "timeout", "5", "maxmemory"}) == "-ERR syntax error\r\n");
  // The second value is bad: neither is applied.
  CHECK(c.call({"CONFIG", "SET", "timeout", "5", "maxmemory", "lots"}).starts_with("-ERR"));
  CHECK(env.state.timeout.load() == 0u);
  CHECK(c.call({"CONFIG", "SET", "timeout", "5", "maxmemory", "1mb", "maxmemory-samples", "7"}) ==
        "+OK\r\n");
  CHECK(env.state.timeout.load() == 5u);
  CHECK(env.state.store.maxmemory.load() == 1024u * 1024);
  CHECK(env.state.store.samples.load() == 7u);
  CHECK(c.call({"CONFIG", "GET", "maxmemory"}) == "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n");
  CHECK(c.call({"CONFIG", "REWRITE"}) == "-ERR The server is running without a config file\r\n");
}
