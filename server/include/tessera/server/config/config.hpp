// Server configuration: the Config values, and how they are read at start-up.
//
// Every setting is one row of the parameter table (config/parameters.hpp): its Redis name and
// aliases, type, range, default, whether CONFIG SET may change it, and how it is read from and
// written into a Config. Flags (`--port 6380`), the config file (`port 6380`) and CONFIG GET/SET
// all go through that one row, so they share one validation and Redis's messages.
//
// Start-up follows redis-server: `tessera-server [FILE] [--name value ...]`. The file (Redis's
// grammar: sdssplitargs quoting, `include`) is read first, then each `--name value...` as if it
// were one more line (so the command line wins). Any unknown directive, bad value or directive
// Tessera cannot honour stops the start with the file, line and reason, exit status 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <string_view>
#include <tessera/protocol/limits.hpp>
#include <vector>

#include <tessera/server/store/settings.hpp>

namespace tessera::server {

struct Config {
  // Addresses to listen on, each its own listener; a leading '-' (Redis) makes one optional: it
  // is skipped when the address is not available on this machine.
  std::vector<std::string> bind = {"127.0.0.1"};
  int port = 6379;
  int tcp_backlog = 511;
  // The Prometheus endpoint (network/metrics_server.hpp): 0 = off; its addresses, empty = bind's.
  int metrics_port = 0;
  std::vector<std::string> metrics_bind;
  int tcp_keepalive = 300;  // seconds; 0: no keepalive probes
  unsigned shards = 0;      // 0: one per hardware thread (resolved by parse_config)
  // The seed of the key hashes (the stores' maps and the shard choice): 0 draws one at start
  // (ServerState); another value fixes it, for tests and benchmarks that must be repeatable.
  std::uint64_t hash_seed = 0;
  std::string requirepass;
  std::uint64_t maxclients = 10000;
  std::uint64_t maxmemory = 0;  // bytes of store memory; 0 = no limit
  EvictionPolicy maxmemory_policy = EvictionPolicy::kNoEviction;
  std::uint32_t maxmemory_samples = 5;
  std::uint64_t timeout = 0;  // close clients idle for this many seconds; 0 = never
  bool protected_mode = true;
  std::string loglevel = "notice";  // Redis's levels (debug, verbose, notice, warning) + Tessera's
  std::string logfile;              // "": standard output
  std::string pidfile;              // "": none
  std::string dir;                  // "": the working directory it was started in
  std::uint64_t client_query_buffer_limit = 1024ull * 1024 * 1024;  // Redis's default, 1 GB
  // A batch stops executing once this many reply bytes are pending, writes them, then continues:
  // what bounds the memory held for a client that never reads (see session.hpp).
  std::uint64_t reply_chunk_bytes = 256 * 1024;
  // The largest reply one atomic MGET may build (its shards are held while it is built, so it
  // cannot be written chunk by chunk): past it the MGET fails. Not a parameter: tests lower it.
  std::uint64_t max_atomic_reply_bytes = protocol::kMaxBulkLen;
  std::string config_file;  // absolute path of the file read at start-up ("" when none)
  std::int64_t slowlog_log_slower_than = 10000;  // microseconds; -1: log nothing, 0: everything
  std::uint64_t slowlog_max_len = 128;
  // Persistence (persistence/persistence.hpp): Redis's defaults.
  std::string save = "3600 1 300 100 60 10000";  // "<seconds> <changes>" pairs; "" = none
  std::string dbfilename = "dump.rdb";
  bool stop_writes_on_bgsave_error = true;
  bool rdbcompression = true;
  bool rdbchecksum = true;
  // The append-only file (persistence/aof.hpp): Redis's defaults.
  bool appendonly = false;
  std::string appendfsync = "everysec";  // always | everysec | no
  std::string appendfilename = "appendonly.aof";
  std::string appenddirname = "appendonlydir";
  bool aof_load_truncated = true;
  bool aof_use_rdb_preamble = true;
  std::int64_t auto_aof_rewrite_percentage = 100;  // 0: no automatic rewrite
  std::uint64_t auto_aof_rewrite_min_size = 64ull * 1024 * 1024;

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
// Empty if the config can be served; otherwise why not (protected mode).
std::string validate(const Config& config);
bool is_loopback_address(std::string_view address);
// A bind entry without Redis's '-' (optional) prefix.
std::string_view bind_address(std::string_view entry);

// Redis's sdssplitargs: words separated by spaces, "double quotes" with \n \r \t \b \a \\ \" \xHH
// escapes, 'single quotes' with \'; nullopt for unbalanced quotes (or a closing quote not
// followed by a space).
std::optional<std::vector<std::string>> split_config_args(std::string_view line);

// CONFIG REWRITE: writes `config` back into `config.config_file`, keeping its comments and the
// lines it does not own, replacing each directive's first line with the running value (and
// dropping its repeats), appending what the file did not have. Empty on success, else why not.
std::string rewrite_config_file(const Config& config);

}  // namespace tessera::server
