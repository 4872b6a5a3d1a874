// The server family: CONFIG GET / SET / REWRITE / RESETSTAT / HELP. GET, SET and REWRITE go
// through the parameter table (config/parameters.hpp), the same rows the flags and the config file
// use; RESETSTAT visits every shard.
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/limits.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/commands/glob.hpp>
#include <tessera/server/config/config.hpp>
#include <tessera/server/config/parameters.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/shard/shard_calls.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

// CONFIG GET: every parameter whose name matches one of the patterns, once, in table order.
void cmd_config_get(Session& s, Args a) {
  std::vector<const ParamSpec*> hits;
  for (const auto& p : parameters()) {
    for (std::size_t i = 2; i < a.size(); ++i) {
      if (glob_match(a[i], p.name, /*nocase=*/true)) {
        hits.push_back(&p);
        break;
      }
    }
  }
  std::vector<std::string> values;
  {
    std::lock_guard lock(s.state().config_mutex);
    for (const ParamSpec* p : hits) values.push_back(parameter_value(s.state().config, *p));
  }
  auto& w = s.reply();
  w.map(hits.size());
  for (std::size_t i = 0; i < hits.size(); ++i) {
    w.bulk(hits[i]->name);
    w.bulk(values[i]);
  }
}

// config.c configSetCommand (7.0.15): an odd argument count is a syntax error; then the names, in
// order, stopping at the first unknown, immutable or repeated one; then the values, in order,
// through the parameter table's one validation, stopping at the first bad one; then all are applied
// (all or nothing), each published to what other threads read.
void cmd_config_set(Session& s, Args a) {
  auto failed = [&](std::string_view arg, std::string_view why) {
    s.reply().error(
        fmt::format("ERR CONFIG SET failed (possibly related to argument '{}') - {}", arg, why));
  };
  if (a.size() % 2 != 0) {
    s.reply().syntax_error();
    return;
  }
  std::vector<const ParamSpec*> params;
  for (std::size_t i = 2; i < a.size(); i += 2) {
    const ParamSpec* p = find_parameter(a[i]);
    if (p == nullptr) {
      s.reply().error(
          fmt::format("ERR Unknown option or number of arguments for CONFIG SET - '{}'", a[i]));
      return;
    }
    if ((p->flags & kParamMutable) == 0) {
      failed(a[i], "can't set immutable config");
      return;
    }
    if (std::find(params.begin(), params.end(), p) != params.end()) {
      failed(a[i], "duplicate parameter");
      return;
    }
    params.push_back(p);
  }
  ServerState& st = s.state();
  std::lock_guard lock(st.config_mutex);
  Config trial = st.config;
  for (std::size_t k = 0; k < params.size(); ++k) {
    if (std::string why = apply_parameter(trial, *params[k], a[2 + 2 * k + 1]); !why.empty()) {
      failed(params[k]->name, why);
      return;
    }
  }
  for (std::size_t k = 0; k < params.size(); ++k) {
    apply_parameter(st.config, *params[k], a[2 + 2 * k + 1]);
    if (params[k]->publish != nullptr) params[k]->publish(st);
  }
  s.reply().ok();
}

void cmd_config_rewrite(Session& s, Args) {
  std::string why;
  {
    std::lock_guard lock(s.state().config_mutex);
    why = rewrite_config_file(s.state().config);
  }
  if (!why.empty()) {
    s.reply().error("ERR " + why);
    return;
  }
  s.reply().ok();
}

asio::awaitable<void> cmd_config_resetstat(Session& s, Args) {
  co_await s.on_all_shards([](Shard& sh) {
    sh.counters().commands = 0;
    sh.store().reset_counters();
    return 0;
  });
  command_stats::reset();
  s.reply().ok();
}

void cmd_config_help(Session& s, Args) {
  write_help(s, "CONFIG",
             {"GET <pattern>",
              "    Return parameters matching the glob-like <pattern> and their "
              "values.",
              "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
              "RESETSTAT", "    Reset statistics reported by the INFO command.", "REWRITE",
              "    Rewrite the configuration file."});
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
    {.name = "rewrite",
     .arity = 2,
     .flags = kCmdAdmin,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Persists the effective configuration to file.",
     .since = "2.8.0",
     .sync = cmd_config_rewrite},
    {.name = "set",
     .arity = -4,
     .flags = kCmdAdmin,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Sets configuration parameters in-flight.",
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
