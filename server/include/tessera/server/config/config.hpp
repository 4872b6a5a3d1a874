// Server configuration: the flags of tessera-server (Redis names and units), an optional config
// file in redis.conf style ("name value" lines, '#' comments) whose values the command line
// overrides, and the checks that refuse an unsafe or impossible set-up before anything listens.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/server/store/settings.hpp>

namespace tessera::server {

struct Config {
  std::string bind = "127.0.0.1";
  int port = 6379;
  unsigned shards = 0;  // 0: one per hardware thread (resolved by parse_config)
  std::string requirepass;
  std::uint64_t maxclients = 10000;
  std::uint64_t maxmemory = 0;  // bytes of store memory; 0 = no limit
  EvictionPolicy maxmemory_policy = EvictionPolicy::kNoEviction;
  std::uint32_t maxmemory_samples = 5;
  std::uint64_t timeout = 0;  // close clients idle for this many seconds; 0 = never
  bool protected_mode = true;
  std::string log_level = "info";
  std::uint64_t client_query_buffer_limit = 1024ull * 1024 * 1024;  // Redis's default, 1 GB
  // A batch stops executing once this many reply bytes are pending, writes them, then continues:
  // what bounds the memory held for a client that never reads (see session.hpp).
  std::uint64_t reply_chunk_bytes = 256 * 1024;
  std::string config_file;

  // "bind=127.0.0.1 port=6379 shards=2 ..." for the start-up log line (the password is not shown).
  std::string describe() const;
};

// Result of parsing argv: either a config to run with, or an exit (help, version, bad flags) with
// the text to print and the status to exit with.
struct ParseOutcome {
  std::optional<Config> config;
  int exit_code = 0;
  std::string message;
};
ParseOutcome parse_config(int argc, const char* const* argv);

// Redis memory units: "100", "1k" (1000), "1kb" (1024), "5m", "5mb", "1g", "1gb"; case-insensitive.
std::optional<std::uint64_t> parse_memory(std::string_view text);
// Empty if the config can be served; otherwise why not (protected mode, bad values).
std::string validate(const Config& config);
bool is_loopback_address(std::string_view address);

}  // namespace tessera::server
