// Flags (CLI11), the redis.conf-style config file, and the start-up checks.
#include <tessera/server/config/config.hpp>

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <sstream>
#include <thread>

#include <tessera/protocol/ascii.hpp>
#include <tessera/server/shard/shard_limits.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

namespace {

// redis.conf style: "name value..." per line, '#' comments, values optionally quoted. Names are
// the long flag names (port, bind, maxmemory, protected-mode, ...); the command line wins.
class RedisStyleConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool, std::string) const override {
    std::ostringstream out;
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->get_lnames().empty() || opt->get_configurable() == false) continue;
      std::string value = opt->as<std::string>();
      if (value.empty() && default_also) value = opt->get_default_str();
      if (!value.empty()) out << opt->get_lnames()[0] << ' ' << value << '\n';
    }
    return out.str();
  }
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
    std::vector<CLI::ConfigItem> items;
    std::string line;
    while (std::getline(input, line)) {
      std::istringstream words(line);
      std::string name;
      if (!(words >> name) || name[0] == '#') continue;
      CLI::ConfigItem item;
      item.name = protocol::to_lower(name);
      std::string word;
      while (words >> word) {
        if (word.size() >= 2 && (word.front() == '"' || word.front() == '\'') &&
            word.back() == word.front()) {
          word = word.substr(1, word.size() - 2);
        }
        item.inputs.push_back(word);
      }
      if (item.inputs.empty()) item.inputs.emplace_back();
      items.push_back(std::move(item));
    }
    return items;
  }
};

std::optional<bool> parse_yes_no(std::string_view v) {
  const std::string s = protocol::to_lower(v);
  if (s == "yes" || s == "true" || s == "1" || s == "on") return true;
  if (s == "no" || s == "false" || s == "0" || s == "off") return false;
  return std::nullopt;
}

std::string memory_text(std::uint64_t v) {
  if (v != 0 && v % (1024ull * 1024 * 1024) == 0) return std::to_string(v >> 30) + "gb";
  if (v != 0 && v % (1024ull * 1024) == 0) return std::to_string(v >> 20) + "mb";
  if (v != 0 && v % 1024 == 0) return std::to_string(v >> 10) + "kb";
  return std::to_string(v);
}

}  // namespace

std::optional<std::uint64_t> parse_memory(std::string_view text) {
  const std::string s = protocol::to_lower(text);
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 19) return std::nullopt;
  std::uint64_t n = std::stoull(s.substr(0, i));
  const std::string unit = s.substr(i);
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000ull * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024ull * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (n > UINT64_MAX / mul) return std::nullopt;
  return n * mul;
}

bool is_loopback_address(std::string_view address) {
  if (address == "localhost") return true;
  in_addr v4{};
  in6_addr v6{};
  const std::string a(address);
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, a.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string validate(const Config& c) {
  if (c.port < 0 || c.port > 65535) return "port must be between 0 and 65535";
  if (c.shards < 1 || c.shards > kMaxShards) {
    return "shards must be between 1 and " + std::to_string(kMaxShards);
  }
  if (c.maxclients < 1) return "maxclients must be at least 1";
  if (c.reply_chunk_bytes < 1024) return "reply-chunk-bytes must be at least 1kb";
  if (c.client_query_buffer_limit < 1024 * 1024) {
    return "client-query-buffer-limit must be at least 1mb";
  }
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info",     "warning",
                                                 "warn",  "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), c.log_level) == std::end(kLevels)) {
    return "log-level must be one of trace, debug, info, warning, error, critical, off";
  }
  if (c.protected_mode && c.requirepass.empty() && !is_loopback_address(c.bind)) {
    return "refusing to listen on non-loopback address " + c.bind +
           " without --requirepass while protected mode is on (set a password, or "
           "--protected-mode no if the network is trusted)";
  }
  return {};
}

std::string Config::describe() const {
  std::ostringstream o;
  o << "bind=" << bind << " port=" << port << " shards=" << shards << " maxclients=" << maxclients
    << " maxmemory=" << memory_text(maxmemory)
    << " maxmemory-policy=" << policy_name(maxmemory_policy)
    << " maxmemory-samples=" << maxmemory_samples << " timeout=" << timeout
    << " protected-mode=" << (protected_mode ? "yes" : "no")
    << " requirepass=" << (requirepass.empty() ? "(none)" : "(set)")
    << " client-query-buffer-limit=" << memory_text(client_query_buffer_limit)
    << " reply-chunk-bytes=" << memory_text(reply_chunk_bytes) << " log-level=" << log_level;
  if (!config_file.empty()) o << " config=" << config_file;
  return o.str();
}

ParseOutcome parse_config(int argc, const char* const* argv) {
  Config c;
  c.shards = std::max(1u, std::min(std::thread::hardware_concurrency(), kMaxShards));
  std::string maxmemory = "0", policy = "noeviction", query_limit = "1gb", chunk = "256kb",
              protected_mode = "yes";

  CLI::App app{"tessera-server: a sharded in-memory key-value server speaking RESP2 (Redis)",
               "tessera-server"};
  app.config_formatter(std::make_shared<RedisStyleConfig>());
  app.set_config("--config", "",
                 "Read options from a file: redis.conf style 'name value' lines, e.g. 'port 6380'; "
                 "flags given on the command line win");
  app.set_version_flag("--version", "tessera-server " TESSERA_VERSION);
  app.add_option("--bind", c.bind, "Address to listen on")->capture_default_str();
  app.add_option("--port", c.port, "TCP port (0: any free port)")->capture_default_str();
  app.add_option("--shards", c.shards, "Shard threads (default: hardware threads)")
      ->capture_default_str();
  app.add_option("--requirepass", c.requirepass, "Password clients must AUTH with");
  app.add_option("--maxclients", c.maxclients, "Most simultaneous clients")->capture_default_str();
  app.add_option("--maxmemory", maxmemory,
                 "Store memory limit (e.g. 100mb, 2gb; 0: none); above it writes get -OOM")
      ->capture_default_str();
  app.add_option("--maxmemory-policy", policy,
                 "What to do at maxmemory: noeviction (writes get -OOM), allkeys-lru, allkeys-lfu, "
                 "allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl")
      ->capture_default_str();
  app.add_option("--maxmemory-samples", c.maxmemory_samples,
                 "Keys sampled per eviction (approximate LRU/LFU/TTL)")
      ->check(CLI::Range(1, INT32_MAX))
      ->capture_default_str();
  app.add_option("--timeout", c.timeout, "Close clients idle this many seconds (0: never)")
      ->capture_default_str();
  app.add_option("--protected-mode", protected_mode,
                 "yes: refuse a non-loopback --bind without --requirepass")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warning, error, critical or off")
      ->capture_default_str();
  app.add_option("--client-query-buffer-limit", query_limit,
                 "Close a client whose unparsed input passes this (Redis: 1gb)")
      ->capture_default_str();
  app.add_option("--reply-chunk-bytes", chunk,
                 "Pending reply bytes after which a pipelined batch is written before it goes on "
                 "(bounds the memory a client that never reads can hold)")
      ->capture_default_str();

  ParseOutcome result;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    result.exit_code = app.exit(e, out, err);
    result.message = out.str() + err.str();
    return result;
  }
  auto mm = parse_memory(maxmemory);
  auto ql = parse_memory(query_limit);
  auto ch = parse_memory(chunk);
  auto pm = parse_yes_no(protected_mode);
  auto pol = parse_policy(policy);
  std::string bad;
  if (!pol) bad = "invalid --maxmemory-policy '" + policy + "'";
  if (!mm) bad = "invalid --maxmemory '" + maxmemory + "'";
  if (!ql) bad = "invalid --client-query-buffer-limit '" + query_limit + "'";
  if (!ch) bad = "invalid --reply-chunk-bytes '" + chunk + "'";
  if (!pm) bad = "invalid --protected-mode '" + protected_mode + "' (yes or no)";
  if (!bad.empty()) {
    result.exit_code = 1;
    result.message = bad + "\n";
    return result;
  }
  c.maxmemory = *mm;
  c.maxmemory_policy = *pol;
  c.client_query_buffer_limit = *ql;
  c.reply_chunk_bytes = *ch;
  c.protected_mode = *pm;
  if (auto* opt = app.get_option("--config"); opt->count() > 0)
    c.config_file = opt->as<std::string>();
  result.config = std::move(c);
  return result;
}

}  // namespace tessera::server
