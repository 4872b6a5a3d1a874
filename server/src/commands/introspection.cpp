// The introspection family: INFO (the server's state and each shard's store statistics, gathered
// through one hop per shard) and COMMAND (COUNT, DOCS, INFO, LIST: written from the command table
// itself, so they cannot drift from what dispatch runs).
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/commands/metrics.hpp>
#include <tessera/server/persistence/persistence.hpp>
#include <tessera/server/shard/shard_calls.hpp>

#include "families.hpp"

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

void write_help(Session& s, std::string_view container,
                std::initializer_list<std::string_view> lines) {
  auto& w = s.reply();
  w.array(lines.size() + 3);
  w.simple(fmt::format("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container));
  for (auto l : lines) w.simple(l);
  w.simple("HELP");
  w.simple("    Prints this help.");
}

namespace {

using protocol::ReplyWriter;

std::string human_bytes(std::uint64_t n) {
  const double d = static_cast<double>(n);
  if (n < 1024) return fmt::format("{}B", n);
  if (n < 1024ull * 1024) return fmt::format("{:.2f}K", d / 1024);
  if (n < 1024ull * 1024 * 1024) return fmt::format("{:.2f}M", d / (1024.0 * 1024));
  return fmt::format("{:.2f}G", d / (1024.0 * 1024 * 1024));
}

// ---------------------------------------------------------------------------------------------
// INFO

// One shard as INFO sees it: its map's statistics and its store's and shard's counters, as they
// are (no field copied out of them).
struct ShardInfo {
  map::MapStats map;
  StoreCounters store;
  ShardCounters shard;
  std::size_t connections = 0;
  std::size_t expires = 0;  // keys with a deadline
};

std::string info_text(Session& s, const std::vector<ShardInfo>& shards,
                      const std::vector<std::string>& wanted,
                      const command_stats::Snapshot& stats) {
  const ServerState& st = s.state();
  auto want = [&](std::string_view name, bool in_default) {
    if (wanted.empty()) return in_default;
    for (const auto& w : wanted) {
      if (w == name || w == "all" || w == "everything" || (w == "default" && in_default)) {
        return true;
      }
    }
    return false;
  };
  std::size_t keys = 0, bytes = 0;
  std::uint64_t commands = 0, hits = 0, misses = 0, expires = 0, expired = 0, evicted = 0;
  std::uint64_t time_caps = 0;
  double stale = 0, ttl_weighted = 0;
  for (const auto& i : shards) {
    expires += i.expires;
    expired += i.store.expired_keys;
    evicted += i.store.evicted_keys;
    time_caps += i.store.expired_time_cap_reached_count;
    stale += i.store.expired_stale_perc / static_cast<double>(shards.size());
    ttl_weighted += static_cast<double>(i.store.avg_ttl_ms) * static_cast<double>(i.expires);
    keys += i.map.count;
    bytes += i.map.memory_bytes;
    commands += i.shard.commands;
    hits += i.store.keyspace_hits;
    misses += i.store.keyspace_misses;
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - st.started)
                          .count();
  std::string out;
  auto section = [&](std::string_view title) {
    if (!out.empty()) out += "\r\n";
    out += "# ";
    out += title;
    out += "\r\n";
  };
  auto field = [&](std::string_view name, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", name, value);
  };
  if (want("server", true)) {
    section("Server");
    field("redis_version", kRedisVersion);
    field("tessera_version", TESSERA_VERSION);
    field("redis_mode", "standalone");
    field("os", "Linux");
    field("arch_bits", 64);
    field("multiplexing_api", "epoll");
    field("process_id", ::getpid());
    field("tcp_port", st.port.load());
    field("uptime_in_seconds", uptime);
    field("uptime_in_days", uptime / 86400);
    field("shards", st.config.shards);
    field("config_file", st.config.config_file);
  }
  if (want("clients", true)) {
    section("Clients");
    field("connected_clients", st.connected_clients.load());
    field("maxclients", st.config.maxclients);
    field("client_query_buffer_limit", st.config.client_query_buffer_limit);
    field("reply_chunk_bytes", st.config.reply_chunk_bytes);
    field("blocked_clients", 0);
    field("tracking_clients", 0);
  }
  if (want("memory", true)) {
    section("Memory");
    const std::uint64_t rss = process_rss_bytes();
    const std::uint64_t used = process_allocated_bytes();
    const std::uint64_t maxmemory = st.store.maxmemory.load();
    field("used_memory", used);
    field("used_memory_human", human_bytes(used));
    field("used_memory_rss", rss);
    field("used_memory_rss_human", human_bytes(rss));
    // The store's own figure (entries and tables): what maxmemory is compared with.
    field("tessera_used_memory_store", bytes);
    field("tessera_used_memory_store_human", human_bytes(bytes));
    field("maxmemory", maxmemory);
    field("maxmemory_human", human_bytes(maxmemory));
    field("maxmemory_policy", policy_name(st.store.policy.load()));
    field("mem_fragmentation_ratio",
          fmt::format("{:.2f}", used ? static_cast<double>(rss) / static_cast<double>(used) : 0.0));
    field("mem_fragmentation_bytes",
          static_cast<std::int64_t>(rss) - static_cast<std::int64_t>(used));
    field("mem_allocator", "libc");
  }
  if (want("persistence", true)) {
    section("Persistence");
    if (st.persistence != nullptr) {
      out += st.persistence->info();
    } else {  // in-process (no persistence): what a server that never saved reports
      field("loading", 0);
      field("async_loading", 0);
      field("rdb_changes_since_last_save", 0);
      field("rdb_bgsave_in_progress", 0);
      field("aof_enabled", 0);
      field("aof_rewrite_in_progress", 0);
    }
  }
  if (want("stats", true)) {
    section("Stats");
    field("total_connections_received", st.total_connections.load());
    field("total_commands_processed", commands);
    field("rejected_connections", st.rejected_connections.load());
    field("expired_keys", expired);
    field("expired_stale_perc", fmt::format("{:.2f}", stale * 100));
    field("expired_time_cap_reached_count", time_caps);
    field("evicted_keys", evicted);
    field("keyspace_hits", hits);
    field("keyspace_misses", misses);
    field("total_error_replies", stats.error_replies);
  }
  if (want("replication", true)) {
    section("Replication");
    field("role", "master");
    field("connected_slaves", 0);
  }
  if (want("cpu", true)) {
    section("CPU");
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto secs = [](timeval tv) {
      return fmt::format("{:.6f}",
                         static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6);
    };
    field("used_cpu_sys", secs(ru.ru_stime));
    field("used_cpu_user", secs(ru.ru_utime));
  }
  if (want("commandstats", false)) {
    section("Commandstats");
    command_stats::write_commandstats(out, stats);
  }
  if (want("errorstats", true)) {
    section("Errorstats");
    command_stats::write_errorstats(out, stats);
  }
  if (want("latencystats", false)) {
    section("Latencystats");
    command_stats::write_latencystats(out, stats);
  }
  if (want("keyspace", true)) {
    section("Keyspace");
    if (keys > 0)
      fmt::format_to(
          std::back_inserter(out), "db0:keys={},expires={},avg_ttl={}\r\n", keys, expires,
          expires == 0 ? 0
                       : static_cast<std::uint64_t>(ttl_weighted / static_cast<double>(expires)));
  }
  if (want("shards", true)) {
    section("Shards");
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const auto& x = shards[i];
      fmt::format_to(std::back_inserter(out),
                     "shard{}:keys={},capacity={},tombstones={},bytes={},max_probe={},grows={},"
                     "rehashes={},growth_events={},longest_growth_pause_us={},segments={},"
                     "splits={},merges={},longest_growth_step_us={},longest_growth_step_moves={},"
                     "directory_depth={},long_probes={},lopsided_splits={},refused_doublings={},"
                     "reseeds={},connections={},commands={}\r\n",
                     i, x.map.count, x.map.capacity, x.map.tombstones, x.map.memory_bytes,
                     x.map.max_probe, x.map.grows, x.map.rehashes,
                     x.map.grows + x.map.rehashes + x.map.splits, x.map.longest_step_ns / 1000,
                     x.map.segments, x.map.splits, x.map.merges, x.map.longest_step_ns / 1000,
                     x.map.longest_step_moves, x.map.directory_depth, x.map.long_probes,
                     x.map.lopsided_splits, x.map.refused_doublings, x.map.reseeds, x.connections,
                     x.shard.commands);
    }
  }
  return out;
}

asio::awaitable<void> cmd_info(Session& s, Args a) {
  std::vector<std::string> wanted;
  for (std::size_t i = 1; i < a.size(); ++i) wanted.push_back(protocol::to_lower(a[i]));
  auto infos = co_await s.on_all_shards([](Shard& sh) {
    return ShardInfo{.map = sh.store().map_stats(),
                     .store = sh.store().counters(),
                     .shard = sh.counters(),
                     .connections = sh.connections().size(),
                     .expires = sh.store().deadline_count()};
  });
  s.reply().verbatim(
      info_text(s, infos, wanted, command_stats::snapshot()));  // "=len txt:..." under RESP3
}
// ---------------------------------------------------------------------------------------------
// MEMORY (USAGE on the key's shard; STATS and DOCTOR from every shard's figures)

std::int64_t op_memory_usage(Store& store, const KeyOp& op, ReplyWriter& w) {
  if (auto bytes = store.memory_usage(op.key)) {
    w.integer(static_cast<std::int64_t>(*bytes));
  } else {
    w.null_bulk();
  }
  return 0;
}

void cmd_memory_usage(Session& s, Args a) {
  // MEMORY USAGE key [SAMPLES count]: a string's size is exact, so SAMPLES changes nothing, but
  // it is checked as Redis checks it.
  if (a.size() != 3) {
    std::int64_t samples = 0;
    if (a.size() != 5 || !protocol::iequals(a[3], "samples")) {
      s.reply().syntax_error();
      return;
    }
    if (!protocol::parse_int64(a[4], samples)) {
      s.reply().error("ERR value is not an integer or out of range");
      return;
    }
  }
  s.key_op({.run = &guarded<op_memory_usage>, .key = a[2]});
}

struct MemoryFigures {
  std::uint64_t allocated = 0, rss = 0, store = 0, keys = 0;
};

asio::awaitable<MemoryFigures> memory_figures(Session& s) {
  auto per_shard =
      co_await call_on_all(s.shards(), s.home(), [](Shard& sh) { return sh.store().map_stats(); });
  MemoryFigures f{.allocated = process_allocated_bytes(), .rss = process_rss_bytes()};
  for (const auto& m : per_shard) {
    f.store += m.memory_bytes;
    f.keys += m.count;
  }
  co_return f;
}

asio::awaitable<void> cmd_memory_stats(Session& s, Args) {
  const MemoryFigures f = co_await memory_figures(s);
  auto& w = s.reply();
  const double ratio =
      f.allocated ? static_cast<double>(f.rss) / static_cast<double>(f.allocated) : 0;
  // A map (Redis's addReplyMapLen: %7 under RESP3, a flat array of 14 under RESP2) with the
  // ratios as doubles (a RESP3 double, a bulk string under RESP2); Redis keeps them as floats,
  // so they are rounded to float first, to print the same digits.
  w.map(7);
  w.bulk("total.allocated");
  w.integer(static_cast<std::int64_t>(f.allocated));
  w.bulk("keys.count");
  w.integer(static_cast<std::int64_t>(f.keys));
  w.bulk("keys.bytes-per-key");
  w.integer(static_cast<std::int64_t>(f.keys ? f.allocated / f.keys : 0));
  w.bulk("dataset.bytes");
  w.integer(static_cast<std::int64_t>(f.store));
  w.bulk("dataset.percentage");
  w.double_value(static_cast<float>(
      f.allocated ? 100.0 * static_cast<double>(f.store) / static_cast<double>(f.allocated) : 0.0));
  w.bulk("fragmentation");
  w.double_value(static_cast<float>(ratio));
  w.bulk("fragmentation.bytes");
  w.integer(static_cast<std::int64_t>(f.rss) - static_cast<std::int64_t>(f.allocated));
}

asio::awaitable<void> cmd_memory_doctor(Session& s, Args) {
  const MemoryFigures f = co_await memory_figures(s);
  std::string text;
  if (f.allocated < 5u * 1024 * 1024) {
    text =
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't "
        "be used in these conditions. Please, leave for your mission on Earth and fill it with "
        "some data. The new Sam and I will be back to our programming as soon as I finished "
        "rebooting.";
  } else if (f.rss > f.allocated &&
             static_cast<double>(f.rss) / static_cast<double>(f.allocated) > 1.4 &&
             f.rss - f.allocated > 10u * 1024 * 1024) {
    text = fmt::format(
        "Sam, I detected a few issues in this Tessera instance memory implants:\n\n"
        " * High process RSS overhead: the process's resident memory is {:.2f} times what it has "
        "allocated ({} more). Freed memory the allocator keeps (after deletes or a FLUSHALL, "
        "MEMORY PURGE gives it back) or other memory mapped into the process.\n\n"
        "I'm here to keep you safe, Sam. I want to help you.\n",
        static_cast<double>(f.rss) / static_cast<double>(f.allocated),
        human_bytes(f.rss - f.allocated));
  } else {
    text =
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what "
        "occurs on this base.";
  }
  s.reply().bulk(text);
}

void cmd_memory_purge(Session& s, Args) {
  ::malloc_trim(0);
  s.reply().ok();
}

void cmd_memory_help(Session& s, Args) {
  write_help(s, "MEMORY",
             {"DOCTOR", "    Return memory problems reports.", "PURGE",
              "    Attempt to purge dirty pages for reclamation by the allocator.", "STATS",
              "    Return information about the memory usage of the server.",
              "USAGE <key> [SAMPLES <count>]",
              "    Return memory in bytes used by <key> and its value. Nested values are",
              "    sampled up to <count> times (default: 5, 0 means sample all)."});
}

// ---------------------------------------------------------------------------------------------
// COMMAND (introspection, from the table itself)

void write_flags(ReplyWriter& w, std::uint32_t f) {
  std::vector<std::string_view> names;
  if (f & kCmdWrite) names.push_back("write");
  if (f & kCmdReadonly) names.push_back("readonly");
  if (f & kCmdDenyOom) names.push_back("denyoom");
  if (f & kCmdAdmin) names.push_back("admin");
  if (f & kCmdFast) names.push_back("fast");
  if (f & kCmdNoAuth) names.push_back("no_auth");
  w.set(names.size());
  for (auto n : names) w.simple(n);
}

void write_info_entry(ReplyWriter& w, const CommandSpec& c, std::string_view parent) {
  w.array(10);
  w.bulk(parent.empty() ? std::string(c.name) : fmt::format("{}|{}", parent, c.name));
  w.integer(c.arity);
  write_flags(w, c.flags);
  w.integer(c.keys.first);
  w.integer(c.keys.last);
  w.integer(c.keys.step);
  std::vector<std::string_view> cats;
  for (std::size_t pos = 0; pos < c.acl_categories.size();) {
    std::size_t end = c.acl_categories.find(' ', pos);
    if (end == std::string_view::npos) end = c.acl_categories.size();
    if (end > pos) cats.push_back(c.acl_categories.substr(pos, end - pos));
    pos = end + 1;
  }
  // Redis 7.0's commandInfo: flags, categories, tips and key specs are sets under RESP3; the
  // subcommands an array, or an empty set when the command has none.
  w.set(cats.size());
  for (auto cat : cats) w.simple(cat);
  w.set(0);  // tips
  w.set(0);  // key specs
  if (c.subcommands.empty()) {
    w.set(0);
  } else {
    w.array(c.subcommands.size());
  }
  for (const auto& sub : c.subcommands) write_info_entry(w, sub, c.name);
}

void write_arg_doc(ReplyWriter& w, const ArgDoc& d) {
  std::size_t n = 4;
  if (!d.token.empty()) n += 2;
  if (d.optional || d.multiple) n += 2;
  if (!d.children.empty()) n += 2;
  w.map(n / 2);
  w.bulk("name");
  w.bulk(d.name);
  w.bulk("type");
  w.bulk(d.type);
  if (!d.token.empty()) {
    w.bulk("token");
    w.bulk(d.token);
  }
  if (d.optional || d.multiple) {
    w.bulk("flags");
    w.set((d.optional ? 1 : 0) + (d.multiple ? 1 : 0));
    if (d.optional) w.simple("optional");
    if (d.multiple) w.simple("multiple");
  }
  if (!d.children.empty()) {
    w.bulk("arguments");
    w.array(d.children.size());
    for (const auto& c : d.children) write_arg_doc(w, c);
  }
}

// COMMAND DOCS: a map of name / doc pairs; each doc a map (flat arrays under RESP2), summary, since
// and group always present (redis-cli reads them unconditionally).
void write_doc(ReplyWriter& w, const CommandSpec& c) {
  w.bulk(c.name);
  w.map(c.args.empty() ? 3 : 4);
  w.bulk("summary");
  w.bulk(c.summary);
  w.bulk("since");
  w.bulk(c.since);
  w.bulk("group");
  w.bulk(c.group);
  if (!c.args.empty()) {
    w.bulk("arguments");
    w.array(c.args.size());
    for (const auto& d : c.args) write_arg_doc(w, d);
  }
}

void cmd_command(Session& s, Args) {
  auto& w = s.reply();
  auto table = command_table();
  w.array(table.size());
  for (const auto& c : table) write_info_entry(w, c, {});
}

void cmd_command_count(Session& s, Args) {
  s.reply().integer(static_cast<std::int64_t>(command_table().size()));
}

void cmd_command_list(Session& s, Args) {
  auto& w = s.reply();
  auto table = command_table();
  w.array(table.size());
  for (const auto& c : table) w.bulk(c.name);
}

void cmd_command_info(Session& s, Args a) {
  auto& w = s.reply();
  if (a.size() == 2) {
    cmd_command(s, a);
    return;
  }
  w.array(a.size() - 2);
  for (std::size_t i = 2; i < a.size(); ++i) {
    const CommandSpec* c = find_command(a[i]);
    if (c == nullptr) {
      w.null_bulk();
    } else {
      write_info_entry(w, *c, {});
    }
  }
}

void cmd_command_docs(Session& s, Args a) {
  auto& w = s.reply();
  if (a.size() == 2) {
    auto table = command_table();
    w.map(table.size());
    for (const auto& c : table) write_doc(w, c);
    return;
  }
  std::vector<const CommandSpec*> found;
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (const CommandSpec* c = find_command(a[i])) found.push_back(c);
  }
  w.map(found.size());
  for (const CommandSpec* c : found) write_doc(w, *c);
}

void cmd_command_help(Session& s, Args) {
  write_help(
      s, "COMMAND",
      {"(no subcommand)", "    Return details about all commands.", "COUNT",
       "    Return the total number of commands in this server.", "LIST",
       "    Return a list of all commands in this server.", "INFO [<command-name> ...]",
       "    Return details about the given commands, or all of them.", "DOCS [<command-name> ...]",
       "    Return documentation details about the given commands, or all of them."});
}

constexpr ArgDoc kSections[] = {
    {.name = "section", .type = "string", .optional = true, .multiple = true}};
constexpr ArgDoc kSubcommandOpt[] = {{.name = "subcommand", .type = "string", .optional = true}};

constexpr std::string_view kCommandAcl = "@slow @connection";

const CommandSpec kCommandSubs[] = {
    {.name = "count",
     .arity = 2,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns a count of commands.",
     .since = "2.8.13",
     .sync = cmd_command_count},
    {.name = "docs",
     .arity = -2,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns documentary information about one, multiple or all commands.",
     .since = "7.0.0",
     .sync = cmd_command_docs},
    {.name = "help",
     .arity = 2,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns helpful text about the different subcommands.",
     .since = "5.0.0",
     .sync = cmd_command_help},
    {.name = "info",
     .arity = -2,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns information about one, multiple or all commands.",
     .since = "2.8.13",
     .sync = cmd_command_info},
    {.name = "list",
     .arity = 2,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns a list of command names.",
     .since = "7.0.0",
     .sync = cmd_command_list},
};

constexpr std::string_view kMemoryAcl = "@slow";
constexpr ArgDoc kMemoryUsageArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "count", .type = "integer", .token = "SAMPLES", .optional = true}};

const CommandSpec kMemorySubs[] = {
    {.name = "doctor",
     .arity = 2,
     .flags = kCmdAllShards,
     .acl_categories = kMemoryAcl,
     .group = "server",
     .summary = "Outputs a memory problems report.",
     .since = "4.0.0",
     .async = cmd_memory_doctor},
    {.name = "help",
     .arity = 2,
     .acl_categories = kMemoryAcl,
     .group = "server",
     .summary = "Returns helpful text about the different subcommands.",
     .since = "4.0.0",
     .sync = cmd_memory_help},
    {.name = "purge",
     .arity = 2,
     .acl_categories = kMemoryAcl,
     .group = "server",
     .summary = "Asks the allocator to release memory (malloc_trim).",
     .since = "4.0.0",
     .sync = cmd_memory_purge},
    {.name = "stats",
     .arity = 2,
     .flags = kCmdAllShards,
     .acl_categories = kMemoryAcl,
     .group = "server",
     .summary = "Returns details about memory usage (the fields that apply to Tessera).",
     .since = "4.0.0",
     .async = cmd_memory_stats},
    {.name = "usage",
     .arity = -3,
     .flags = kCmdReadonly,
     .keys = {.first = 2, .last = 2, .step = 1},
     .acl_categories = "@read @slow",
     .group = "server",
     .summary = "Estimates the memory usage of a key (its entry block and its table slot).",
     .since = "4.0.0",
     .args = kMemoryUsageArgs,
     .sync = cmd_memory_usage},
};

const CommandSpec kCommands[] = {
    {.name = "command",
     .arity = -1,
     .acl_categories = kCommandAcl,
     .group = "server",
     .summary = "Returns detailed information about all commands.",
     .since = "2.8.13",
     .args = kSubcommandOpt,
     .subcommands = kCommandSubs,
     .sync = cmd_command},
    {.name = "info",
     .arity = -1,
     .flags = kCmdAllShards,
     .acl_categories = "@slow @dangerous",
     .group = "server",
     .summary = "Returns information and statistics about the server.",
     .since = "1.0.0",
     .args = kSections,
     .async = cmd_info},
    {.name = "memory",
     .arity = -2,
     .acl_categories = "@slow",
     .group = "server",
     .summary = "A container for memory diagnostics commands.",
     .since = "4.0.0",
     .args = kSubcommandArg,
     .subcommands = kMemorySubs},
};

}  // namespace

std::span<const CommandSpec> introspection_commands() { return kCommands; }

}  // namespace tessera::server
