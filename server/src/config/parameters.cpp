// The parameter table (design note in tessera/server/config/parameters.hpp) and the one validation
// every setting goes through, with Redis 7.0.15's reasons (config.c).
#include <tessera/server/config/parameters.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <utility>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/limits.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/persistence.hpp>
#include <tessera/server/shard/shard_limits.hpp>

namespace tessera::server {

namespace {

constexpr std::string_view kLogLevels[] = {"debug", "verbose", "notice", "warning"};
constexpr std::string_view kPolicies[] = {"volatile-lru",   "volatile-lfu", "volatile-random",
                                          "volatile-ttl",   "allkeys-lru",  "allkeys-lfu",
                                          "allkeys-random", "noeviction"};
constexpr std::string_view kAppendFsync[] = {"always", "everysec", "no"};
constexpr std::string_view kDisklessLoad[] = {"disabled", "on-empty-db", "swapdb"};
constexpr std::string_view kOomScoreAdj[] = {"no", "yes", "relative", "absolute"};

std::string join_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string join_bind(const Config& c) { return join_words(c.bind); }

std::vector<std::string> split_words(std::string_view v) {
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < v.size();) {
    std::size_t end = v.find(' ', pos);
    if (end == std::string_view::npos) end = v.size();
    if (end > pos) out.emplace_back(v.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

void set_bind(Config& c, std::string_view v) { c.bind = split_words(v); }

std::string join_metrics_bind(const Config& c) { return join_words(c.metrics_bind); }

void set_metrics_bind(Config& c, std::string_view v) { c.metrics_bind = split_words(v); }

// metrics-bind: "" (the server's bind addresses) or up to 16 addresses, as bind.
std::string check_metrics_bind(std::string_view v) {
  return split_words(v).size() > 16 ? "Too many bind addresses specified." : std::string();
}

// Redis's CONFIG_BINDADDR_MAX is 16; an empty list reads as too many, as in Redis.
std::string check_bind(std::string_view v) {
  const std::size_t count = split_words(v).size();
  return count == 0 || count > 16 ? "Too many bind addresses specified." : std::string();
}

// client-output-buffer-limit <class> <hard> <soft> <seconds> [...]: Tessera bounds replies its own
// way (reply-chunk-bytes), so only Redis's defaults per class are accepted.
std::string check_output_buffer_limit(std::string_view v) {
  auto words = split_config_args(v);
  if (!words || words->empty() || words->size() % 4 != 0)
    return "Wrong number of arguments in buffer limit configuration.";
  for (std::size_t i = 0; i < words->size(); i += 4) {
    const std::string cls = protocol::to_lower((*words)[i]);
    std::uint64_t want[3] = {0, 0, 0};
    if (cls == "normal") {
    } else if (cls == "replica" || cls == "slave") {
      want[0] = 256ull << 20, want[1] = 64ull << 20, want[2] = 60;
    } else if (cls == "pubsub") {
      want[0] = 32ull << 20, want[1] = 8ull << 20, want[2] = 60;
    } else {
      return "Invalid client class specified in buffer limit configuration.";
    }
    for (int k = 0; k < 3; ++k) {
      auto n = parse_memory((*words)[i + 1 + static_cast<std::size_t>(k)]);
      if (!n) return "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
      if (*n != want[k]) {
        return "Tessera accepts client-output-buffer-limit only at Redis's defaults (normal 0 0 0 "
               "replica 256mb 64mb 60 pubsub 32mb 8mb 60): it bounds replies with "
               "reply-chunk-bytes instead";
      }
    }
  }
  return {};
}

// requirepass-file: the first line of the file (without its CR LF or LF); nullopt when it cannot
// be read or the line is empty. The container passes the password this way (docker/entrypoint),
// so that it is on no command line (ps, /proc/PID/cmdline).
std::optional<std::string> read_password_file(std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return std::nullopt;
  return line;
}

// The parameter table checks a value, then sets it; a pipe (the container's /dev/fd/3) can be
// read only once, so what the check read is kept for the set that follows it.
struct PasswordFileRead {
  std::string path;
  std::optional<std::string> password;
};
PasswordFileRead& last_password_file_read() {
  static PasswordFileRead last;  // start-up and CONFIG handling only, never two threads at once
  return last;
}

// "" (the default) is no file.
std::string check_password_file(std::string_view path) {
  if (path.empty()) return {};
  auto& last = last_password_file_read();
  last = {std::string(path), read_password_file(path)};
  return last.password ? std::string()
                       : "cannot read a password from it (missing, unreadable or empty)";
}

void set_password_from_file(Config& c, std::string_view path) {
  if (path.empty()) return;
  auto& last = last_password_file_read();
  std::optional<std::string> pw =
      last.path == path ? std::exchange(last.password, std::nullopt) : read_password_file(path);
  last.path.clear();
  if (pw) c.requirepass = std::move(*pw);
}

void publish_loglevel(ServerState& s) {
  const std::string& l = s.config.loglevel;
  spdlog::set_level(l == "debug" || l == "verbose" ? spdlog::level::debug
                    : l == "warning"               ? spdlog::level::warn
                                                   : spdlog::level::info);
}

constexpr unsigned kInertMulti = kParamInert | kParamMultiArg;

// save: "" or "<seconds> <changes>" pairs, kept as CONFIG GET shows it (single spaces).
std::string check_save(std::string_view v) {
  return parse_save_rules(v) ? std::string() : std::string("Invalid save parameters");
}
void set_save(Config& c, std::string_view v) {
  std::string text;
  for (const SaveRule& r : parse_save_rules(v).value_or(std::vector<SaveRule>{})) {
    if (!text.empty()) text += ' ';
    text += std::to_string(r.seconds) + ' ' + std::to_string(r.changes);
  }
  c.save = std::move(text);
}
std::string check_dbfilename(std::string_view v) {
  return v.find('/') == std::string_view::npos
             ? std::string()
             : std::string("dbfilename can't be a path, just a filename");
}
// config.c isValidAOFfilename / isValidAOFdirname.
std::string check_file_name(std::string_view v) {
  if (v.empty() || v == "." || v == ".." || v.find('/') != std::string_view::npos) {
    return "appendfilename/appenddirname can't be a path, just a filename";
  }
  return {};
}
void publish_aof(ServerState& s) {
  if (s.aof != nullptr) s.aof->refresh();
}
void publish_persistence(ServerState& s) {
  if (s.persistence != nullptr) s.persistence->refresh();
}

// Rows in alphabetical order of name (CONFIG GET * lists them in this order).
const ParamSpec kParameters[] = {
    {.name = "acllog-max-len",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "128"},
    {.name = "activerehashing",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "always-show-logo",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "aof-load-truncated",
     .type = ParamType::kBool,
     .flags = kParamMutable,
     .default_text = "yes",
     .help = "At start-up, load an AOF whose last command was cut short (dropping it, with a "
             "warning) instead of refusing to start",
     .set = set_field<&Config::aof_load_truncated>,
     .get = get_field<&Config::aof_load_truncated>,
     .publish = publish_aof},
    {.name = "aof-rewrite-incremental-fsync",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "aof-timestamp-enabled",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "aof-use-rdb-preamble",
     .type = ParamType::kBool,
     .flags = kParamMutable,
     .default_text = "yes",
     .help = "The AOF's base file is an RDB snapshot (yes) or commands (no)",
     .set = set_field<&Config::aof_use_rdb_preamble>,
     .get = get_field<&Config::aof_use_rdb_preamble>,
     .publish = publish_aof},
    {.name = "appenddirname",
     .type = ParamType::kString,
     .default_text = "appendonlydir",
     .help = "The AOF's directory, in dir",
     .set = set_field<&Config::appenddirname>,
     .get = get_field<&Config::appenddirname>,
     .check = check_file_name},
    {.name = "appendfilename",
     .type = ParamType::kString,
     .default_text = "appendonly.aof",
     .help = "The AOF files' base name (appendonly.aof.1.incr.aof...)",
     .set = set_field<&Config::appendfilename>,
     .get = get_field<&Config::appendfilename>,
     .check = check_file_name},
    {.name = "appendfsync",
     .type = ParamType::kEnum,
     .flags = kParamMutable,
     .choices = kAppendFsync,
     .default_text = "everysec",
     .help = "always: a write is acknowledged once fsynced (group commit); everysec: fsync once a "
             "second; no: leave it to the kernel",
     .set = set_field<&Config::appendfsync>,
     .get = get_field<&Config::appendfsync>,
     .publish = publish_aof},
    {.name = "appendonly",
     .type = ParamType::kBool,
     .default_text = "no",
     .help = "Log every write to the append-only file (appenddirname in dir), replayed at start-up",
     .set = set_field<&Config::appendonly>,
     .get = get_field<&Config::appendonly>},
    {.name = "auto-aof-rewrite-min-size",
     .type = ParamType::kMemory,
     .flags = kParamMutable,
     .min = 0,
     .max = INT64_MAX,
     .default_text = "64mb",
     .help = "No automatic AOF rewrite below this size",
     .set = set_field<&Config::auto_aof_rewrite_min_size>,
     .get = get_field<&Config::auto_aof_rewrite_min_size>,
     .publish = publish_aof},
    {.name = "auto-aof-rewrite-percentage",
     .type = ParamType::kInt,
     .flags = kParamMutable,
     .min = 0,
     .max = INT32_MAX,
     .default_text = "100",
     .help = "Rewrite the AOF once it grew by this percentage over its size after the last "
             "rewrite (0: never)",
     .set = set_field<&Config::auto_aof_rewrite_percentage>,
     .get = get_field<&Config::auto_aof_rewrite_percentage>,
     .publish = publish_aof},
    {.name = "bind",
     .type = ParamType::kList,
     .flags = kParamMultiArg,
     .default_text = "127.0.0.1",
     .help = "Addresses to listen on, each its own listener ('-' prefix: skip it when unavailable)",
     .set = set_bind,
     .get = join_bind,
     .check = check_bind},
    {.name = "client-output-buffer-limit",
     .type = ParamType::kString,
     .flags = kInertMulti,
     .default_text = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
     .check = check_output_buffer_limit},
    {.name = "client-query-buffer-limit",
     .type = ParamType::kMemory,
     .min = 1024 * 1024,
     .max = LLONG_MAX,
     .default_text = "1gb",
     .help = "Close a client whose unparsed input passes this",
     .set = set_field<&Config::client_query_buffer_limit>,
     .get = get_field<&Config::client_query_buffer_limit>},
    {.name = "daemonize",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no",
     .help = "Tessera runs in the foreground only; use a supervisor such as systemd, Type=simple"},
    {.name = "databases",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "16|1",
     .help = "one database (db 0); Redis's default 16 is accepted",
     .get = [](const Config&) { return std::string("1"); }},
    {.name = "dbfilename",
     .type = ParamType::kString,
     .default_text = "dump.rdb",
     .help = "The RDB file's name, in dir",
     .set = set_field<&Config::dbfilename>,
     .get = get_field<&Config::dbfilename>,
     .check = check_dbfilename},
    {.name = "dir",
     .type = ParamType::kString,
     .default_text = "(working directory)",
     .help = "Working directory (Tessera changes into it at start-up, as Redis does)",
     .set = set_field<&Config::dir>,
     .get = get_field<&Config::dir>},
    {.name = "disable-thp", .type = ParamType::kBool, .flags = kParamInert, .default_text = "yes"},
    {.name = "dynamic-hz", .type = ParamType::kBool, .flags = kParamInert, .default_text = "yes"},
    {.name = "hash-max-listpack-entries",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "512"},
    {.name = "hash-max-listpack-value",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "64"},
    {.name = "hll-sparse-max-bytes",
     .type = ParamType::kMemory,
     .flags = kParamInert,
     .default_text = "3000"},
    {.name = "hash-seed",
     .type = ParamType::kInt,
     .min = 0,
     .max = INT64_MAX,
     .default_text = "0",
     .help = "Seed of the key hashes (0: a random one per start; fix it only for repeatable tests "
             "and benchmarks: whoever knows it can choose keys that collide)",
     .set = set_field<&Config::hash_seed>,
     .get = get_field<&Config::hash_seed>},
    {.name = "hz", .type = ParamType::kInt, .flags = kParamInert, .default_text = "10"},
    {.name = "jemalloc-bg-thread",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "latency-monitor-threshold",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "0"},
    {.name = "lazyfree-lazy-eviction",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "lazyfree-lazy-expire",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "lazyfree-lazy-server-del",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "lazyfree-lazy-user-del",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "lazyfree-lazy-user-flush",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "list-compress-depth",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "0"},
    {.name = "list-max-listpack-size",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "-2"},
    {.name = "logfile",
     .type = ParamType::kString,
     .default_text = "",
     .help = "Log to this file (\"\": standard output)",
     .set = set_field<&Config::logfile>,
     .get = get_field<&Config::logfile>},
    {.name = "loglevel",
     .aliases = "log-level",
     .type = ParamType::kEnum,
     .flags = kParamMutable,
     .choices = kLogLevels,
     .default_text = "notice",
     .help = "debug, verbose, notice or warning",
     .set = set_field<&Config::loglevel>,
     .get = get_field<&Config::loglevel>,
     .publish = publish_loglevel},
    {.name = "maxclients",
     .type = ParamType::kInt,
     .min = 1,
     .max = UINT32_MAX,
     .default_text = "10000",
     .help = "Most simultaneous clients",
     .set = set_field<&Config::maxclients>,
     .get = get_field<&Config::maxclients>},
    {.name = "maxmemory",
     .type = ParamType::kMemory,
     .flags = kParamMutable,
     .min = 0,
     .max = LLONG_MAX,
     .default_text = "0",
     .help = "Store memory limit (100mb, 2gb; 0: none); above it writes get -OOM",
     .set = set_field<&Config::maxmemory>,
     .get = get_field<&Config::maxmemory>,
     .publish = [](ServerState& s) { s.store.maxmemory.store(s.config.maxmemory); }},
    {.name = "maxmemory-policy",
     .type = ParamType::kEnum,
     .flags = kParamMutable,
     .choices = kPolicies,
     .default_text = "noeviction",
     .help = "What to do at maxmemory: noeviction (writes get -OOM), allkeys-lru, allkeys-lfu, "
             "allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl",
     .set = [](Config& c, std::string_view v) { c.maxmemory_policy = *parse_policy(v); },
     .get = [](const Config& c) { return std::string(policy_name(c.maxmemory_policy)); },
     .publish = [](ServerState& s) { s.store.policy.store(s.config.maxmemory_policy); }},
    {.name = "maxmemory-samples",
     .type = ParamType::kInt,
     .flags = kParamMutable,
     .min = 1,
     .max = INT_MAX,
     .default_text = "5",
     .help = "Keys sampled per eviction (approximate LRU/LFU/TTL)",
     .set = set_field<&Config::maxmemory_samples>,
     .get = get_field<&Config::maxmemory_samples>,
     .publish = [](ServerState& s) { s.store.samples.store(s.config.maxmemory_samples); }},
    {.name = "metrics-bind",
     .type = ParamType::kList,
     .flags = kParamMultiArg,
     .default_text = "",
     .help = "Addresses the Prometheus endpoint listens on (empty: bind's)",
     .set = set_metrics_bind,
     .get = join_metrics_bind,
     .check = check_metrics_bind},
    {.name = "metrics-port",
     .type = ParamType::kInt,
     .min = 0,
     .max = 65535,
     .default_text = "0",
     .help = "Port of the Prometheus endpoint, HTTP GET /metrics (0: off)",
     .set = set_field<&Config::metrics_port>,
     .get = get_field<&Config::metrics_port>},
    {.name = "no-appendfsync-on-rewrite",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "notify-keyspace-events",
     .type = ParamType::kString,
     .flags = kParamInert,
     .default_text = ""},
    {.name = "oom-score-adj",
     .type = ParamType::kEnum,
     .flags = kParamInert,
     .choices = kOomScoreAdj,
     .default_text = "no"},
    {.name = "oom-score-adj-values",
     .type = ParamType::kString,
     .flags = kInertMulti,
     .default_text = "0 200 800"},
    {.name = "pidfile",
     .type = ParamType::kString,
     .default_text = "",
     .help = "Write the process id to this file while running (\"\": none)",
     .set = set_field<&Config::pidfile>,
     .get = get_field<&Config::pidfile>},
    {.name = "port",
     .type = ParamType::kInt,
     .min = 0,
     .max = 65535,
     .default_text = "6379",
     .help = "TCP port (0: any free port)",
     .set = set_field<&Config::port>,
     .get = get_field<&Config::port>},
    {.name = "proc-title-template",
     .type = ParamType::kString,
     .flags = kParamInert,
     .default_text = "{title} {listen-addr} {server-mode}"},
    {.name = "protected-mode",
     .type = ParamType::kBool,
     .default_text = "yes",
     .help = "yes: refuse a non-loopback bind without requirepass",
     .set = set_field<&Config::protected_mode>,
     .get = get_field<&Config::protected_mode>},
    {.name = "proto-max-bulk-len",
     .type = ParamType::kMemory,
     .flags = kParamInert,
     .default_text = "536870912",
     .get = [](const Config&) { return std::to_string(protocol::kMaxBulkLen); }},
    {.name = "rdb-del-sync-files",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "rdb-save-incremental-fsync",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "rdbchecksum",
     .type = ParamType::kBool,
     .default_text = "yes",
     .help = "Write the RDB file's CRC-64 (no: a zero checksum, which loaders skip)",
     .set = set_field<&Config::rdbchecksum>,
     .get = get_field<&Config::rdbchecksum>},
    {.name = "rdbcompression",
     .type = ParamType::kBool,
     .flags = kParamMutable,
     .default_text = "yes",
     .help = "LZF-compress string values over 20 bytes in the RDB file",
     .set = set_field<&Config::rdbcompression>,
     .get = get_field<&Config::rdbcompression>,
     .publish = publish_persistence},  // read by each save under config_mutex
    {.name = "repl-disable-tcp-nodelay",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "repl-diskless-load",
     .type = ParamType::kEnum,
     .flags = kParamInert,
     .choices = kDisklessLoad,
     .default_text = "disabled"},
    {.name = "repl-diskless-sync",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "repl-diskless-sync-delay",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "5"},
    {.name = "repl-diskless-sync-max-replicas",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "0"},
    {.name = "replica-lazy-flush",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "no"},
    {.name = "replica-priority",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "100"},
    {.name = "replica-read-only",
     .aliases = "slave-read-only",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "replica-serve-stale-data",
     .aliases = "slave-serve-stale-data",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "reply-chunk-bytes",
     .type = ParamType::kMemory,
     .min = 1024,
     .max = LLONG_MAX,
     .default_text = "256kb",
     .help = "Pending reply bytes after which a pipelined batch is written before it goes on",
     .set = set_field<&Config::reply_chunk_bytes>,
     .get = get_field<&Config::reply_chunk_bytes>},
    {.name = "requirepass",
     .type = ParamType::kString,
     .default_text = "",
     .help = "Password clients must AUTH with",
     .set = set_field<&Config::requirepass>,
     .get = get_field<&Config::requirepass>},
    {.name = "requirepass-file",
     .type = ParamType::kString,
     .flags = kParamNoRewrite,
     .default_text = "",
     .help = "Read requirepass from the first line of this file, which keeps the password off the "
             "command line that ps and /proc show",
     .set = set_password_from_file,
     .get = [](const Config&) { return std::string(); },
     .check = check_password_file},
    {.name = "save",
     .type = ParamType::kString,
     .flags = kParamMutable | kParamMultiArg,
     .default_text = "3600 1 300 100 60 10000",
     .help = "BGSAVE after <seconds> when at least <changes> keys changed (pairs; \"\": never)",
     .set = set_save,
     .get = get_field<&Config::save>,
     .check = check_save,
     .publish = publish_persistence},
    {.name = "set-max-intset-entries",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "512"},
    {.name = "set-proc-title",
     .type = ParamType::kBool,
     .flags = kParamInert,
     .default_text = "yes"},
    {.name = "shards",
     .type = ParamType::kInt,
     .min = 1,
     .max = kMaxShards,
     .default_text = "(hardware threads)",
     .help = "Shard threads",
     .set = set_field<&Config::shards>,
     .get = get_field<&Config::shards>},
    {.name = "slowlog-log-slower-than",
     .type = ParamType::kInt,
     .flags = kParamMutable,
     .min = -1,
     .max = INT64_MAX,
     .default_text = "10000",
     .help = "SLOWLOG keeps commands that ran at least this many microseconds (-1: none)",
     .set = set_field<&Config::slowlog_log_slower_than>,
     .get = get_field<&Config::slowlog_log_slower_than>,
     .publish =
         [](ServerState& s) { s.slowlog_slower_than.store(s.config.slowlog_log_slower_than); }},
    {.name = "slowlog-max-len",
     .type = ParamType::kInt,
     .flags = kParamMutable,
     .min = 0,
     .max = INT64_MAX,
     .default_text = "128",
     .help = "SLOWLOG keeps at most this many entries",
     .set = set_field<&Config::slowlog_max_len>,
     .get = get_field<&Config::slowlog_max_len>,
     .publish = [](ServerState& s) { s.slowlog_max_len.store(s.config.slowlog_max_len); }},
    {.name = "stop-writes-on-bgsave-error",
     .type = ParamType::kBool,
     .flags = kParamMutable,
     .default_text = "yes",
     .help = "After a failed background save, refuse writes (-MISCONF) while save rules are set",
     .set = set_field<&Config::stop_writes_on_bgsave_error>,
     .get = get_field<&Config::stop_writes_on_bgsave_error>,
     .publish = publish_persistence},
    {.name = "stream-node-max-bytes",
     .type = ParamType::kMemory,
     .flags = kParamInert,
     .default_text = "4096"},
    {.name = "stream-node-max-entries",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "100"},
    {.name = "tcp-backlog",
     .type = ParamType::kInt,
     .min = 0,
     .max = INT_MAX,
     .default_text = "511",
     .help = "Listen backlog",
     .set = set_field<&Config::tcp_backlog>,
     .get = get_field<&Config::tcp_backlog>},
    {.name = "tcp-keepalive",
     .type = ParamType::kInt,
     .min = 0,
     .max = INT_MAX,
     .default_text = "300",
     .help = "TCP keepalive probe interval for clients, seconds (0: off)",
     .set = set_field<&Config::tcp_keepalive>,
     .get = get_field<&Config::tcp_keepalive>},
    {.name = "timeout",
     .type = ParamType::kInt,
     .flags = kParamMutable,
     .min = 0,
     .max = INT_MAX,
     .default_text = "0",
     .help = "Close clients idle this many seconds (0: never)",
     .set = set_field<&Config::timeout>,
     .get = get_field<&Config::timeout>,
     .publish = [](ServerState& s) { s.timeout.store(s.config.timeout); }},
    {.name = "zset-max-listpack-entries",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "128"},
    {.name = "zset-max-listpack-value",
     .type = ParamType::kInt,
     .flags = kParamInert,
     .default_text = "64"},
};

bool has_alias(const ParamSpec& p, std::string_view name) {
  for (std::size_t pos = 0; pos < p.aliases.size();) {
    std::size_t end = p.aliases.find(' ', pos);
    if (end == std::string_view::npos) end = p.aliases.size();
    if (protocol::iequals(p.aliases.substr(pos, end - pos), name)) return true;
    pos = end + 1;
  }
  return false;
}

std::optional<bool> yes_no(std::string_view v) {
  if (protocol::iequals(v, "yes")) return true;
  if (protocol::iequals(v, "no")) return false;
  return std::nullopt;
}

// Type, range and choices, in Redis's words.
std::string check_type(const ParamSpec& p, std::string_view v) {
  switch (p.type) {
    case ParamType::kBool:
      if (!yes_no(v)) return "argument must be 'yes' or 'no'";
      return {};
    case ParamType::kInt: {
      std::int64_t n = 0;
      if (!protocol::parse_int64(v, n)) return "argument couldn't be parsed into an integer";
      if ((p.flags & kParamInert) == 0 && (n < p.min || n > p.max)) {
        return "argument must be between " + std::to_string(p.min) + " and " +
               std::to_string(p.max) + " inclusive";
      }
      return {};
    }
    case ParamType::kMemory: {
      auto n = parse_memory(v);
      if (!n) return "argument must be a memory value";
      if ((p.flags & kParamInert) == 0 &&
          (*n > static_cast<std::uint64_t>(p.max) || *n < static_cast<std::uint64_t>(p.min))) {
        return "argument must be between " + std::to_string(p.min) + " and " +
               std::to_string(p.max) + " inclusive";
      }
      return {};
    }
    case ParamType::kEnum: {
      for (auto c : p.choices) {
        if (protocol::iequals(c, v)) return {};
      }
      std::string list;
      for (auto c : p.choices) {
        if (!list.empty()) list += ", ";
        list += c;
      }
      return "argument(s) must be one of the following: " + list;
    }
    case ParamType::kString:
    case ParamType::kList:
      return {};
  }
  return {};
}

// Whether `v` means the same as `def` for a value of `p`'s type.
bool same_value(const ParamSpec& p, std::string_view v, std::string_view def) {
  switch (p.type) {
    case ParamType::kBool:
      return yes_no(v) == yes_no(def);
    case ParamType::kInt: {
      std::int64_t a = 0, b = 0;
      return protocol::parse_int64(v, a) && protocol::parse_int64(def, b) && a == b;
    }
    case ParamType::kMemory:
      return parse_memory(v) == parse_memory(def);
    case ParamType::kEnum:
      return protocol::iequals(v, def);
    case ParamType::kString:
    case ParamType::kList:
      return v == def;
  }
  return false;
}

std::string_view first_default(const ParamSpec& p) {
  return p.default_text.substr(0, p.default_text.find('|'));
}

}  // namespace

std::span<const ParamSpec> parameters() { return kParameters; }

const ParamSpec* find_parameter(std::string_view name) {
  for (const auto& p : kParameters) {
    if (protocol::iequals(p.name, name) || has_alias(p, name)) return &p;
  }
  return nullptr;
}

std::int64_t parsed_integer(std::string_view value) {
  std::int64_t n = 0;
  if (protocol::parse_int64(value, n)) return n;
  return static_cast<std::int64_t>(parse_memory(value).value_or(0));
}

bool parsed_bool(std::string_view value) { return yes_no(value).value_or(false); }

std::string check_parameter_type(const ParamSpec& p, std::string_view value) {
  return check_type(p, value);
}

std::string check_parameter(const ParamSpec& p, std::string_view value) {
  if (std::string why = check_type(p, value); !why.empty()) return why;
  if (p.check != nullptr) {
    if (std::string why = p.check(value); !why.empty()) return why;
  }
  if ((p.flags & kParamInert) != 0 && p.check == nullptr) {
    std::string_view accepted = p.default_text;
    for (std::size_t pos = 0;;) {
      std::size_t end = accepted.find('|', pos);
      if (end == std::string_view::npos) end = accepted.size();
      if (same_value(p, value, accepted.substr(pos, end - pos))) return {};
      if (end == accepted.size()) break;
      pos = end + 1;
    }
    std::string why = "Tessera does not have this Redis feature, so it accepts '" +
                      std::string(p.name) + "' only at Redis's default '" +
                      std::string(first_default(p)) + "'";
    if (!p.help.empty()) why += " (" + std::string(p.help) + ")";
    return why;
  }
  return {};
}

std::string apply_parameter(Config& config, const ParamSpec& p, std::string_view value) {
  if (std::string why = check_parameter(p, value); !why.empty()) return why;
  if (p.set == nullptr) return {};
  if (p.type == ParamType::kEnum) {
    p.set(config, protocol::to_lower(value));
  } else {
    p.set(config, value);
  }
  return {};
}

std::string parameter_value(const Config& config, const ParamSpec& p) {
  if (p.get != nullptr) return p.get(config);
  if (p.type == ParamType::kMemory)
    return std::to_string(parse_memory(first_default(p)).value_or(0));
  return std::string(first_default(p));
}

}  // namespace tessera::server
