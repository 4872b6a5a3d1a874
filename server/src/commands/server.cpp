// The server family: CONFIG GET / SET / RESETSTAT / HELP. Parameters are read from ServerState
// (the configuration, and the atomics CONFIG SET may change: maxmemory, timeout); RESETSTAT visits
// every shard.
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/limits.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/commands/glob.hpp>
#include <tessera/server/config/config.hpp>
#include <tessera/server/shard/shard_calls.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

struct ConfigParam {
  std::string_view name;
  std::string (*get)(const ServerState&);
};

std::string yes_no(bool b) { return b ? "yes" : "no"; }

const std::array<ConfigParam, 17> kConfigParams{{
    {"appendonly", [](const ServerState&) { return std::string("no"); }},
    {"bind", [](const ServerState& st) { return st.config.bind; }},
    {"client-query-buffer-limit",
     [](const ServerState& st) { return std::to_string(st.config.client_query_buffer_limit); }},
    {"databases", [](const ServerState&) { return std::string("1"); }},
    {"dbfilename", [](const ServerState&) { return std::string(); }},
    {"loglevel", [](const ServerState& st) { return st.config.log_level; }},
    {"maxclients", [](const ServerState& st) { return std::to_string(st.config.maxclients); }},
    {"maxmemory", [](const ServerState& st) { return std::to_string(st.store.maxmemory.load()); }},
    {"maxmemory-policy",
     [](const ServerState& st) { return std::string(policy_name(st.store.policy.load())); }},
    {"maxmemory-samples",
     [](const ServerState& st) { return std::to_string(st.store.samples.load()); }},
    {"port", [](const ServerState& st) { return std::to_string(st.port.load()); }},
    {"proto-max-bulk-len",
     [](const ServerState&) { return std::to_string(protocol::kMaxBulkLen); }},
    {"protected-mode", [](const ServerState& st) { return yes_no(st.config.protected_mode); }},
    {"reply-chunk-bytes",
     [](const ServerState& st) { return std::to_string(st.config.reply_chunk_bytes); }},
    {"save", [](const ServerState&) { return std::string(); }},
    {"shards", [](const ServerState& st) { return std::to_string(st.config.shards); }},
    {"timeout", [](const ServerState& st) { return std::to_string(st.timeout.load()); }},
}};

void cmd_config_get(Session& s, Args a) {
  std::vector<const ConfigParam*> hits;
  for (std::size_t i = 2; i < a.size(); ++i) {
    for (const auto& p : kConfigParams) {
      if (std::find(hits.begin(), hits.end(), &p) != hits.end()) continue;
      if (glob_match(a[i], p.name, /*nocase=*/true)) hits.push_back(&p);
    }
  }
  auto& w = s.reply();
  w.array(hits.size() * 2);
  for (const ConfigParam* p : hits) {
    w.bulk(p->name);
    w.bulk(p->get(s.state()));
  }
}

void cmd_config_set(Session& s, Args a) {
  if (a.size() % 2 != 0) {
    s.reply().error(
        fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'", a.back()));
    return;
  }
  // Validate every pair first, then apply: all or nothing, as in Redis 7.
  std::optional<std::uint64_t> maxmemory, timeout;
  std::optional<EvictionPolicy> policy;
  std::optional<std::uint32_t> samples;
  for (std::size_t i = 2; i < a.size(); i += 2) {
    const std::string name = protocol::to_lower(a[i]);
    if (name == "maxmemory") {
      maxmemory = parse_memory(a[i + 1]);
      if (!maxmemory) {
        s.reply().error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be "
            "a memory value");
        return;
      }
    } else if (name == "maxmemory-policy") {
      policy = parse_policy(a[i + 1]);
      if (!policy) {
        s.reply().error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - "
            "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
            "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
            "noeviction");
        return;
      }
    } else if (name == "maxmemory-samples") {
      std::int64_t v = 0;
      if (!protocol::parse_int64(a[i + 1], v)) {
        s.reply().error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument "
            "couldn't be parsed into an integer");
        return;
      }
      if (v < 1 || v > INT32_MAX) {
        s.reply().error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument "
            "must be between 1 and 2147483647 inclusive");
        return;
      }
      samples = static_cast<std::uint32_t>(v);
    } else if (name == "timeout") {
      std::int64_t v = 0;
      if (!protocol::parse_int64(a[i + 1], v) || v < 0 || v > INT32_MAX) {
        s.reply().error(
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't "
            "be parsed into an integer");
        return;
      }
      timeout = static_cast<std::uint64_t>(v);
    } else if (std::any_of(kConfigParams.begin(), kConfigParams.end(),
                           [&](const ConfigParam& p) { return p.name == name; })) {
      s.reply().error(fmt::format(
          "ERR CONFIG SET failed (possibly related to argument '{}') - can't set immutable config",
          name));
      return;
    } else {
      s.reply().error(
          fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'", a[i]));
      return;
    }
  }
  if (maxmemory) s.state().store.maxmemory.store(*maxmemory);
  if (policy) s.state().store.policy.store(*policy);
  if (samples) s.state().store.samples.store(*samples);
  if (timeout) s.state().timeout.store(*timeout);
  s.reply().ok();
}

asio::awaitable<void> cmd_config_resetstat(Session& s, Args) {
  co_await call_on_all(s.shards(), s.home(), [](Shard& sh) {
    sh.counters().commands = 0;
    sh.store().reset_counters();
    return 0;
  });
  s.reply().ok();
}

void cmd_config_help(Session& s, Args) {
  write_help(s, "CONFIG",
             {"GET <pattern>",
              "    Return parameters matching the glob-like <pattern> and their "
              "values.",
              "SET <directive> <value>",
              "    Set the configuration <directive> to <value> "
              "(maxmemory, maxmemory-policy, maxmemory-samples, timeout).",
              "RESETSTAT", "    Reset statistics reported by the INFO command."});
}

constexpr std::string_view kAdminAcl = "@admin @slow @dangerous";

const CommandSpec kConfigSubs[] = {
    {.name = "get",
     .arity = -3,
     .flags = kCmdAdmin,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Returns the effective values of configuration parameters.",
     .since = "2.0.0",
     .sync = cmd_config_get},
    {.name = "help",
     .arity = 2,
     .acl_categories = "@slow",
     .group = "server",
     .summary = "Returns helpful text about the different subcommands.",
     .since = "5.0.0",
     .sync = cmd_config_help},
    {.name = "resetstat",
     .arity = 2,
     .flags = kCmdAdmin | kCmdAllShards,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Resets the server's statistics.",
     .since = "2.0.0",
     .async = cmd_config_resetstat},
    {.name = "set",
     .arity = -4,
     .flags = kCmdAdmin,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Sets configuration parameters in-flight (maxmemory, maxmemory-policy, "
                "maxmemory-samples, timeout).",
     .since = "2.0.0",
     .sync = cmd_config_set},
};

const CommandSpec kCommands[] = {
    {.name = "config",
     .arity = -2,
     .acl_categories = "@slow",
     .group = "server",
     .summary = "A container for server configuration commands.",
     .since = "2.0.0",
     .args = kSubcommandArg,
     .subcommands = kConfigSubs},
};

}  // namespace

std::span<const CommandSpec> server_commands() { return kCommands; }

}  // namespace tessera::server
