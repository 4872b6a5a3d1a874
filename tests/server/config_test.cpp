// Flags, config file, units and the start-up refusals.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <tessera/server/config/config.hpp>
#include <vector>

using namespace tessera::server;

namespace {
ParseOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tessera-server");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("config: memory units") {
  CHECK(parse_memory("0") == 0u);
  CHECK(parse_memory("100") == 100u);
  CHECK(parse_memory("1k") == 1000u);
  CHECK(parse_memory("1kb") == 1024u);
  CHECK(parse_memory("5MB") == 5u * 1024 * 1024);
  CHECK(parse_memory("2g") == 2000000000u);
  CHECK(parse_memory("1gb") == 1024ull * 1024 * 1024);
  CHECK_FALSE(parse_memory(""));
  CHECK_FALSE(parse_memory("mb"));
  CHECK_FALSE(parse_memory("12xb"));
  CHECK_FALSE(parse_memory("-1"));
}

TEST_CASE("config: defaults and flags") {
  auto d = parse({});
  REQUIRE(d.config);
  CHECK(d.config->bind == "127.0.0.1");
  CHECK(d.config->port == 6379);
  CHECK(d.config->shards >= 1);
  CHECK(d.config->protected_mode);
  CHECK(d.config->client_query_buffer_limit == 1024ull * 1024 * 1024);

  auto f = parse({"--port", "7000", "--shards", "4", "--maxmemory", "100mb", "--timeout", "30",
                  "--protected-mode", "no", "--requirepass", "pw", "--maxclients", "50"});
  REQUIRE(f.config);
  CHECK(f.config->port == 7000);
  CHECK(f.config->shards == 4);
  CHECK(f.config->maxmemory == 100u * 1024 * 1024);
  CHECK(f.config->timeout == 30u);
  CHECK_FALSE(f.config->protected_mode);
  CHECK(f.config->requirepass == "pw");
  CHECK(f.config->maxclients == 50u);
  CHECK(f.config->describe().find("requirepass=(set)") != std::string::npos);
  CHECK(f.config->describe().find("pw") == std::string::npos);  // never logs the password
}

TEST_CASE("config: help version and bad flags exit without a config") {
  auto h = parse({"--help"});
  CHECK_FALSE(h.config);
  CHECK(h.exit_code == 0);
  CHECK(h.message.find("--shards") != std::string::npos);
  auto v = parse({"--version"});
  CHECK_FALSE(v.config);
  CHECK(v.message.find("tessera-server") != std::string::npos);
  auto bad = parse({"--no-such-flag"});
  CHECK_FALSE(bad.config);
  CHECK(bad.exit_code != 0);
  auto badmem = parse({"--maxmemory", "lots"});
  CHECK_FALSE(badmem.config);
  CHECK(badmem.exit_code != 0);
}

TEST_CASE("config: redis.conf-style file command line wins") {
  const std::string path = "/tmp/tessera-config-test-" + std::to_string(::getpid()) + ".conf";
  {
    std::ofstream f(path);
    f << "# a comment\nport 7001\nmaxmemory 2mb\ntimeout 9\nrequirepass \"secret\"\n";
  }
  auto c = parse({"--config", path, "--timeout", "3"});
  std::remove(path.c_str());
  REQUIRE(c.config);
  CHECK(c.config->port == 7001);
  CHECK(c.config->maxmemory == 2u * 1024 * 1024);
  CHECK(c.config->timeout == 3u);
  CHECK(c.config->requirepass == "secret");
  CHECK(c.config->config_file == path);
}

TEST_CASE("config: protected mode and range checks") {
  Config c;
  c.shards = 2;
  CHECK(validate(c).empty());
  c.bind = "0.0.0.0";
  CHECK(validate(c).find("protected mode") != std::string::npos);
  c.requirepass = "pw";
  CHECK(validate(c).empty());
  c.requirepass.clear();
  c.protected_mode = false;
  CHECK(validate(c).empty());
  c = Config{};
  c.shards = 0;
  CHECK_FALSE(validate(c).empty());
  c.shards = 1025;
  CHECK_FALSE(validate(c).empty());
  CHECK(is_loopback_address("127.0.0.1"));
  CHECK(is_loopback_address("127.1.2.3"));
  CHECK(is_loopback_address("::1"));
  CHECK(is_loopback_address("localhost"));
  CHECK_FALSE(is_loopback_address("10.0.0.1"));
  CHECK_FALSE(is_loopback_address("::"));
}
