// The command table and the handlers. Replies and error texts are Redis 7.0.15's, byte for byte
// (see ../shared/reference/redis-compat.md section 5); where Tessera differs (no expiry, one
// database, RESP2 only) the reply says so plainly.
//
// Handlers run on the connection's home shard thread. Key commands go through Session::op /
// sum_op, which run the operation locally or queue it for the owning shard (one hop per batch);
// commands flagged kCmdAllShards are barriers with async handlers that call every shard.
#include <tessera/server/commands.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/glob.hpp>
#include <tessera/server/scan_cursor.hpp>
#include <tessera/server/shard_calls.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

namespace {

using protocol::ReplyWriter;

// Redis-compatible identity: tools and client libraries gate features on redis_version, so INFO and
// HELLO report the Redis version whose behaviour Tessera follows (7.0.15) and name Tessera's own
// version separately (INFO tessera_version). HELLO's "server" field stays "redis": some clients
// compare it, and Tessera answers as a Redis-compatible server (Dragonfly does the same).
constexpr std::string_view kRedisVersion = "7.0.15";
constexpr std::size_t kScanHopBatch = 100;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return r;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

std::string human_bytes(std::uint64_t n) {
  const double d = static_cast<double>(n);
  if (n < 1024) return fmt::format("{}B", n);
  if (n < 1024ull * 1024) return fmt::format("{:.2f}K", d / 1024);
  if (n < 1024ull * 1024 * 1024) return fmt::format("{:.2f}M", d / (1024.0 * 1024));
  return fmt::format("{:.2f}G", d / (1024.0 * 1024 * 1024));
}

std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

// ---------------------------------------------------------------------------------------------
// Data commands

void cmd_get(Session& s, Args a) { s.op(OpKind::kGet, a[1]); }
void cmd_put(Session& s, Args a) { s.op(OpKind::kSet, a[1], a[2]); }

void cmd_set(Session& s, Args a) {
  // t_string.c parseExtendedStringArgumentsOrReply: the same conflicts give the same syntax error.
  std::uint8_t flags = 0;
  bool expire = false, keepttl = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    const std::string_view opt = a[i];
    const bool has_next = i + 1 < a.size();
    if (iequals(opt, "nx") && !(flags & kSetXx)) {
      flags |= kSetNx;
    } else if (iequals(opt, "xx") && !(flags & kSetNx)) {
      flags |= kSetXx;
    } else if (iequals(opt, "get")) {
      flags |= kSetGet;
    } else if (iequals(opt, "keepttl") && !expire) {
      keepttl = true;
    } else if ((iequals(opt, "ex") || iequals(opt, "px") || iequals(opt, "exat") ||
                iequals(opt, "pxat")) &&
               !expire && !keepttl && has_next) {
      expire = true;
      ++i;
    } else {
      s.reply().syntax_error();
      return;
    }
  }
  if (expire || keepttl) {
    s.reply().error(
        "ERR keys do not expire in Tessera: SET options EX, PX, EXAT, PXAT and KEEPTTL are not "
        "supported");
    return;
  }
  s.op(OpKind::kSet, a[1], a[2], flags);
}

void cmd_del(Session& s, Args a) {
  s.begin_sum();
  for (std::size_t i = 1; i < a.size(); ++i) s.sum_op(OpKind::kDel, a[i]);
  s.end_sum();
}

void cmd_exists(Session& s, Args a) {
  s.begin_sum();
  for (std::size_t i = 1; i < a.size(); ++i) s.sum_op(OpKind::kExists, a[i]);
  s.end_sum();
}

void cmd_mget(Session& s, Args a) {
  s.reply().array(a.size() - 1);
  for (std::size_t i = 1; i < a.size(); ++i) s.op(OpKind::kGet, a[i]);
}

void cmd_mset(Session& s, Args a) {
  if (a.size() % 2 == 0) {
    s.reply().wrong_arity("mset");
    return;
  }
  // Each key is written on its shard in request order; unlike Redis, an MSET spanning shards is
  // not one atomic step (a concurrent reader on another connection may see part of it).
  for (std::size_t i = 1; i < a.size(); i += 2) s.op(OpKind::kSetSilent, a[i], a[i + 1]);
  s.reply().ok();
}

void cmd_strlen(Session& s, Args a) { s.op(OpKind::kStrlen, a[1]); }
void cmd_type(Session& s, Args a) { s.op(OpKind::kType, a[1]); }

asio::awaitable<void> cmd_dbsize(Session& s, Args) {
  auto counts =
      co_await call_on_all(s.shards(), s.home(), [](Shard& sh) { return sh.map().count(); });
  std::size_t total = 0;
  for (auto c : counts) total += c;
  s.reply().integer(static_cast<std::int64_t>(total));
}

asio::awaitable<void> cmd_flushall(Session& s, Args a) {
  if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "async") && !iequals(a[1], "sync"))) {
    s.reply().syntax_error();
    co_return;
  }
  // ASYNC frees synchronously too: each shard frees its own memory, in parallel.
  co_await call_on_all(s.shards(), s.home(), [](Shard& sh) {
    sh.clear();
    return 0;
  });
#if defined(__GLIBC__)
  // glibc keeps freed memory in its per-thread arenas, fragmented; after emptying the store, hand
  // the free pages back so that the RSS returns near where it started (tests/e2e soak checks it).
  ::malloc_trim(0);
#endif
  s.reply().ok();
}

asio::awaitable<void> cmd_keys(Session& s, Args a) {
  const std::string pattern(a[1]);
  const bool all = pattern == "*";
  auto parts = co_await call_on_all(s.shards(), s.home(), [&](Shard& sh) {
    std::vector<std::string> keys;
    std::uint64_t cursor = 0;
    do {
      cursor = sh.map().scan(cursor, 1024, [&](std::string_view k, std::string_view) {
        if (all || glob_match(pattern, k)) keys.emplace_back(k);
      });
    } while (cursor != 0);
    return keys;
  });
  std::size_t n = 0;
  for (auto& p : parts) n += p.size();
  s.reply().array(n);
  for (auto& p : parts) {
    for (auto& k : p) s.reply().bulk(k);
  }
}

asio::awaitable<void> cmd_scan(Session& s, Args a) {
  auto cursor = parse_scan_cursor(a[1]);
  if (!cursor) {
    s.reply().error("ERR invalid cursor");
    co_return;
  }
  std::int64_t count = 10;
  std::string pattern;
  bool use_pattern = false;
  bool type_ok = true;
  for (std::size_t i = 2; i < a.size();) {
    const std::size_t left = a.size() - i;
    if (iequals(a[i], "count") && left >= 2) {
      if (!protocol::parse_int64(a[i + 1], count)) {
        s.reply().not_integer();
        co_return;
      }
      if (count < 1) {
        s.reply().syntax_error();
        co_return;
      }
      i += 2;
    } else if (iequals(a[i], "match") && left >= 2) {
      pattern.assign(a[i + 1]);
      use_pattern = pattern != "*";
      i += 2;
    } else if (iequals(a[i], "type") && left >= 2) {
      type_ok = iequals(a[i + 1], "string");  // every value is a string
      i += 2;
    } else {
      s.reply().syntax_error();
      co_return;
    }
  }
  ShardSet& set = s.shards();
  ScanPosition pos = decode_scan_cursor(*cursor);
  std::vector<std::string> keys;
  std::uint64_t next = 0;
  const auto asked = static_cast<std::size_t>(std::min<std::int64_t>(count, 1 << 30));
  while (pos.shard < set.size()) {
    // COUNT is a hint (Redis returns whole buckets, and whole small sets, regardless). A call that
    // must hop to another shard's thread does at least kScanHopBatch keys' worth of work, so that
    // the hop's fixed cost is paid once per ~100 keys rather than once per 10: this is what keeps
    // `redis-cli --scan` (always COUNT 10) at Redis's speed or better.
    const std::size_t want = pos.shard == s.home() ? asked : std::max(asked, kScanHopBatch);
    std::uint64_t map_next = 0;
    if (pos.map_cursor < (std::uint64_t{1} << 32)) {  // larger ones cannot come from this server
      map_next = co_await call_on(set, s.home(), pos.shard, [&](Shard& sh) {
        return sh.map().scan(pos.map_cursor, want - std::min(want - 1, keys.size()),
                             [&](std::string_view k, std::string_view) {
                               if (type_ok && (!use_pattern || glob_match(pattern, k))) {
                                 keys.emplace_back(k);
                               }
                             });
      });
    }
    if (map_next != 0) {
      next = encode_scan_cursor({pos.shard, map_next});
      break;
    }
    pos = {pos.shard + 1, 0};
    if (pos.shard < set.size() && keys.size() >= want) {
      next = encode_scan_cursor(pos);
      break;
    }
  }
  auto& w = s.reply();
  w.array(2);
  char buf[24];
  const int len = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(next));
  w.bulk(std::string_view(buf, static_cast<std::size_t>(len)));
  w.array(keys.size());
  for (auto& k : keys) w.bulk(k);
}

// ---------------------------------------------------------------------------------------------
// Connection commands

void cmd_ping(Session& s, Args a) {
  if (a.size() > 2) {
    s.reply().wrong_arity("ping");
  } else if (a.size() == 2) {
    s.reply().bulk(a[1]);
  } else {
    s.reply().simple("PONG");
  }
}

void cmd_echo(Session& s, Args a) { s.reply().bulk(a[1]); }

void cmd_quit(Session& s, Args) {
  s.reply().ok();
  s.close_after_reply();
}

void cmd_select(Session& s, Args a) {
  std::int64_t db = 0;
  if (!protocol::parse_int64(a[1], db) || db < INT32_MIN || db > INT32_MAX) {
    s.reply().not_integer();
  } else if (db != 0) {
    s.reply().out_of_range("DB index");
  } else {
    s.reply().ok();
  }
}

bool check_password(Session& s, std::string_view user, std::string_view pass) {
  const std::string& required = s.state().config.requirepass;
  if (user != "default") return false;
  return required.empty() || constant_time_equals(pass, required);
}

void cmd_auth(Session& s, Args a) {
  if (a.size() > 3) {
    s.reply().syntax_error();
    return;
  }
  if (a.size() == 2 && s.state().config.requirepass.empty()) {
    s.reply().error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
    return;
  }
  const std::string_view user = a.size() == 3 ? a[1] : std::string_view("default");
  if (check_password(s, user, a.back())) {
    s.set_authenticated(true);
    s.reply().ok();
  } else {
    s.reply().error("WRONGPASS invalid username-password pair or user is disabled.");
  }
}

bool valid_client_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '!' && c <= '~'; });
}

void cmd_hello(Session& s, Args a) {
  // networking.c helloCommand, RESP2 only: HELLO 3 is refused with NOPROTO and the connection
  // stays open, which is what Lettuce and go-redis fall back on.
  if (a.size() >= 2) {
    std::int64_t ver = 0;
    if (!protocol::parse_int64(a[1], ver)) {
      s.reply().error("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (ver != 2) {
      s.reply().error("NOPROTO unsupported protocol version");
      return;
    }
  }
  std::string_view user, pass, name;
  bool auth = false, setname = false;
  for (std::size_t i = 2; i < a.size(); ++i) {
    const std::size_t more = a.size() - i - 1;
    if (iequals(a[i], "auth") && more >= 2) {
      auth = true;
      user = a[i + 1];
      pass = a[i + 2];
      i += 2;
    } else if (iequals(a[i], "setname") && more >= 1) {
      setname = true;
      name = a[i + 1];
      i += 1;
    } else {
      s.reply().error(fmt::format("ERR Syntax error in HELLO option '{}'", a[i]));
      return;
    }
  }
  if (auth) {
    if (!check_password(s, user, pass)) {
      s.reply().error("WRONGPASS invalid username-password pair or user is disabled.");
      return;
    }
    s.set_authenticated(true);
  }
  if (!s.authenticated()) {
    s.reply().error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
    return;
  }
  if (setname) {
    if (!valid_client_name(name)) {
      s.reply().error("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    s.set_name(name);
  }
  auto& w = s.reply();
  w.array(14);
  w.bulk("server");
  w.bulk("redis");
  w.bulk("version");
  w.bulk(kRedisVersion);
  w.bulk("proto");
  w.integer(2);
  w.bulk("id");
  w.integer(static_cast<std::int64_t>(s.id()));
  w.bulk("mode");
  w.bulk("standalone");
  w.bulk("role");
  w.bulk("master");
  w.bulk("modules");
  w.array(0);
}

void write_help(Session& s, std::string_view container,
                std::initializer_list<std::string_view> lines) {
  auto& w = s.reply();
  w.array(lines.size() + 3);
  w.simple(fmt::format("{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", container));
  for (auto l : lines) w.simple(l);
  w.simple("HELP");
  w.simple("    Print this help.");
}

void cmd_client_setname(Session& s, Args a) {
  if (!valid_client_name(a[2])) {
    s.reply().error("ERR Client names cannot contain spaces, newlines or special characters.");
    return;
  }
  s.set_name(a[2]);
  s.reply().ok();
}
void cmd_client_getname(Session& s, Args) {
  if (s.name().empty()) {
    s.reply().null_bulk();
  } else {
    s.reply().bulk(s.name());
  }
}
void cmd_client_id(Session& s, Args) { s.reply().integer(static_cast<std::int64_t>(s.id())); }
void cmd_client_setinfo(Session& s, Args) { s.reply().ok(); }  // lib-name / lib-ver: accepted
void cmd_client_help(Session& s, Args) {
  write_help(s, "CLIENT",
             {"GETNAME", "    Return the name of the current connection.", "ID",
              "    Return the ID of the current connection.", "SETINFO <option> <value>",
              "    Accepted and ignored (lib-name, lib-ver).", "SETNAME <connection-name>",
              "    Assign the name <connection-name> to the current connection."});
}

// ---------------------------------------------------------------------------------------------
// CONFIG

struct ConfigParam {
  std::string_view name;
  std::string (*get)(const ServerState&);
};

std::string yes_no(bool b) { return b ? "yes" : "no"; }

const std::array<ConfigParam, 16> kConfigParams{{
    {"appendonly", [](const ServerState&) { return std::string("no"); }},
    {"bind", [](const ServerState& st) { return st.config.bind; }},
    {"client-query-buffer-limit",
     [](const ServerState& st) { return std::to_string(st.config.client_query_buffer_limit); }},
    {"databases", [](const ServerState&) { return std::string("1"); }},
    {"dbfilename", [](const ServerState&) { return std::string(); }},
    {"loglevel", [](const ServerState& st) { return st.config.log_level; }},
    {"maxclients", [](const ServerState& st) { return std::to_string(st.config.maxclients); }},
    {"maxmemory", [](const ServerState& st) { return std::to_string(st.maxmemory.load()); }},
    {"maxmemory-policy", [](const ServerState&) { return std::string("noeviction"); }},
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
  for (std::size_t i = 2; i < a.size(); i += 2) {
    const std::string name = lower(a[i]);
    if (name == "maxmemory") {
      maxmemory = parse_memory(a[i + 1]);
      if (!maxmemory) {
        s.reply().error(fmt::format(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be "
            "a memory value"));
        return;
      }
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
  if (maxmemory) s.state().maxmemory.store(*maxmemory);
  if (timeout) s.state().timeout.store(*timeout);
  s.reply().ok();
}

asio::awaitable<void> cmd_config_resetstat(Session& s, Args) {
  co_await call_on_all(s.shards(), s.home(), [](Shard& sh) {
    auto& c = sh.counters();
    c.commands = 0;
    c.keyspace_hits = 0;
    c.keyspace_misses = 0;
    c.longest_growth_ns = 0;
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
              "(maxmemory, timeout).",
              "RESETSTAT", "    Reset statistics reported by the INFO command."});
}

// ---------------------------------------------------------------------------------------------
// INFO

struct ShardInfo {
  std::size_t keys, capacity, tombstones, bytes, max_probe, connections;
  std::uint64_t grows, rehashes, growth_events, longest_growth_ns, commands, hits, misses;
};

std::string info_text(Session& s, const std::vector<ShardInfo>& shards,
                      const std::vector<std::string>& wanted) {
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
  std::uint64_t commands = 0, hits = 0, misses = 0;
  for (const auto& i : shards) {
    keys += i.keys;
    bytes += i.bytes;
    commands += i.commands;
    hits += i.hits;
    misses += i.misses;
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
    const std::uint64_t rss = rss_bytes();
    const std::uint64_t maxmemory = st.maxmemory.load();
    field("used_memory", bytes);
    field("used_memory_human", human_bytes(bytes));
    field("used_memory_rss", rss);
    field("used_memory_rss_human", human_bytes(rss));
    field("maxmemory", maxmemory);
    field("maxmemory_human", human_bytes(maxmemory));
    field("maxmemory_policy", "noeviction");
    field(
        "mem_fragmentation_ratio",
        fmt::format("{:.2f}", bytes ? static_cast<double>(rss) / static_cast<double>(bytes) : 0.0));
    field("mem_allocator", "libc");
  }
  if (want("persistence", true)) {
    section("Persistence");
    field("loading", 0);
    field("async_loading", 0);
    field("rdb_changes_since_last_save", 0);
    field("rdb_bgsave_in_progress", 0);
    field("aof_enabled", 0);
    field("aof_rewrite_in_progress", 0);
  }
  if (want("stats", true)) {
    section("Stats");
    field("total_connections_received", st.total_connections.load());
    field("total_commands_processed", commands);
    field("rejected_connections", st.rejected_connections.load());
    field("expired_keys", 0);
    field("evicted_keys", 0);
    field("keyspace_hits", hits);
    field("keyspace_misses", misses);
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
  if (want("keyspace", true)) {
    section("Keyspace");
    if (keys > 0)
      fmt::format_to(std::back_inserter(out), "db0:keys={},expires=0,avg_ttl=0\r\n", keys);
  }
  if (want("shards", true)) {
    section("Shards");
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const auto& x = shards[i];
      fmt::format_to(std::back_inserter(out),
                     "shard{}:keys={},capacity={},tombstones={},bytes={},max_probe={},grows={},"
                     "rehashes={},growth_events={},longest_growth_pause_us={},connections={},"
                     "commands={}\r\n",
                     i, x.keys, x.capacity, x.tombstones, x.bytes, x.max_probe, x.grows, x.rehashes,
                     x.growth_events, x.longest_growth_ns / 1000, x.connections, x.commands);
    }
  }
  return out;
}

asio::awaitable<void> cmd_info(Session& s, Args a) {
  std::vector<std::string> wanted;
  for (std::size_t i = 1; i < a.size(); ++i) wanted.push_back(lower(a[i]));
  auto infos = co_await call_on_all(s.shards(), s.home(), [](Shard& sh) {
    const map::MapStats m = sh.map().stats();
    const ShardCounters& c = sh.counters();
    return ShardInfo{m.count,          m.capacity,
                     m.tombstones,     m.memory_bytes,
                     m.max_probe,      sh.connections().size(),
                     m.grows,          m.rehashes,
                     c.growth_events,  c.longest_growth_ns,
                     c.commands,       c.keyspace_hits,
                     c.keyspace_misses};
  });
  s.reply().bulk(info_text(s, infos, wanted));
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
  w.array(names.size());
  for (auto n : names) w.simple(n);
}

void write_info_entry(ReplyWriter& w, const CommandSpec& c, std::string_view parent) {
  w.array(10);
  w.bulk(parent.empty() ? std::string(c.name) : fmt::format("{}|{}", parent, c.name));
  w.integer(c.arity);
  write_flags(w, c.flags);
  w.integer(c.first_key);
  w.integer(c.last_key);
  w.integer(c.key_step);
  std::vector<std::string_view> cats;
  for (std::size_t pos = 0; pos < c.acl_categories.size();) {
    std::size_t end = c.acl_categories.find(' ', pos);
    if (end == std::string_view::npos) end = c.acl_categories.size();
    if (end > pos) cats.push_back(c.acl_categories.substr(pos, end - pos));
    pos = end + 1;
  }
  w.array(cats.size());
  for (auto cat : cats) w.simple(cat);
  w.array(0);  // tips
  w.array(0);  // key specs
  w.array(c.subcommands.size());
  for (const auto& sub : c.subcommands) write_info_entry(w, sub, c.name);
}

void write_arg_doc(ReplyWriter& w, const ArgDoc& d) {
  std::size_t n = 4;
  if (!d.token.empty()) n += 2;
  if (d.optional || d.multiple) n += 2;
  if (!d.children.empty()) n += 2;
  w.array(n);
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
    w.array((d.optional ? 1 : 0) + (d.multiple ? 1 : 0));
    if (d.optional) w.simple("optional");
    if (d.multiple) w.simple("multiple");
  }
  if (!d.children.empty()) {
    w.bulk("arguments");
    w.array(d.children.size());
    for (const auto& c : d.children) write_arg_doc(w, c);
  }
}

// RESP2 COMMAND DOCS: a flat array of name / doc pairs; each doc a flat array of key / value
// pairs, summary, since and group always present (redis-cli reads them unconditionally).
void write_doc(ReplyWriter& w, const CommandSpec& c) {
  w.bulk(c.name);
  w.array(c.args.empty() ? 6 : 8);
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
    w.array(table.size() * 2);
    for (const auto& c : table) write_doc(w, c);
    return;
  }
  std::vector<const CommandSpec*> found;
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (const CommandSpec* c = find_command(a[i])) found.push_back(c);
  }
  w.array(found.size() * 2);
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

// ---------------------------------------------------------------------------------------------
// The table

constexpr ArgDoc kKey[] = {{"key", "key", {}}};
constexpr ArgDoc kKeys[] = {{"key", "key", {}, false, true}};
constexpr ArgDoc kKeyValue[] = {{"key", "key", {}}, {"value", "string", {}}};
constexpr ArgDoc kSetCondition[] = {{"nx", "pure-token", "NX"}, {"xx", "pure-token", "XX"}};
constexpr ArgDoc kSetArgs[] = {{"key", "key", {}},
                               {"value", "string", {}},
                               {"condition", "oneof", {}, true, false, kSetCondition},
                               {"get", "pure-token", "GET", true}};
constexpr ArgDoc kKeyValuePair[] = {{"key", "key", {}}, {"value", "string", {}}};
constexpr ArgDoc kMsetArgs[] = {{"data", "block", {}, false, true, kKeyValuePair}};
constexpr ArgDoc kScanArgs[] = {{"cursor", "integer", {}},
                                {"pattern", "pattern", "MATCH", true},
                                {"count", "integer", "COUNT", true},
                                {"type", "string", "TYPE", true}};
constexpr ArgDoc kPattern[] = {{"pattern", "pattern", {}}};
constexpr ArgDoc kFlushMode[] = {{"async", "pure-token", "ASYNC"}, {"sync", "pure-token", "SYNC"}};
constexpr ArgDoc kFlushArgs[] = {{"flush-type", "oneof", {}, true, false, kFlushMode}};
constexpr ArgDoc kMessageOpt[] = {{"message", "string", {}, true}};
constexpr ArgDoc kMessage[] = {{"message", "string", {}}};
constexpr ArgDoc kIndex[] = {{"index", "integer", {}}};
constexpr ArgDoc kAuthArgs[] = {{"username", "string", {}, true}, {"password", "string", {}}};
constexpr ArgDoc kHelloAuth[] = {{"username", "string", {}}, {"password", "string", {}}};
constexpr ArgDoc kHelloArgs[] = {{"protover", "integer", {}, true},
                                 {"username-password", "block", "AUTH", true, false, kHelloAuth},
                                 {"clientname", "string", "SETNAME", true}};
constexpr ArgDoc kSections[] = {{"section", "string", {}, true, true}};
constexpr ArgDoc kSubcommand[] = {{"subcommand", "string", {}}};
constexpr ArgDoc kSubcommandOpt[] = {{"subcommand", "string", {}, true}};

const CommandSpec kClientSubs[] = {
    {"getname",
     2,
     kCmdFast,
     0,
     0,
     0,
     "@slow @connection",
     "connection",
     "Returns the name of the connection.",
     "2.6.9",
     {},
     {},
     cmd_client_getname},
    {"help",
     2,
     kCmdFast,
     0,
     0,
     0,
     "@slow @connection",
     "connection",
     "Shows helpful text.",
     "5.0.0",
     {},
     {},
     cmd_client_help},
    {"id",
     2,
     kCmdFast,
     0,
     0,
     0,
     "@slow @connection",
     "connection",
     "Returns the unique client ID of the connection.",
     "5.0.0",
     {},
     {},
     cmd_client_id},
    {"setinfo",
     4,
     kCmdFast,
     0,
     0,
     0,
     "@slow @connection",
     "connection",
     "Sets information specific to the client or connection (accepted, ignored).",
     "7.2.0",
     {},
     {},
     cmd_client_setinfo},
    {"setname",
     3,
     kCmdFast,
     0,
     0,
     0,
     "@slow @connection",
     "connection",
     "Sets the connection name.",
     "2.6.9",
     {},
     {},
     cmd_client_setname},
};

const CommandSpec kConfigSubs[] = {
    {"get",
     -3,
     kCmdAdmin,
     0,
     0,
     0,
     "@admin @slow @dangerous",
     "server",
     "Returns the effective values of configuration parameters.",
     "2.0.0",
     {},
     {},
     cmd_config_get},
    {"help",
     2,
     0,
     0,
     0,
     0,
     "@slow",
     "server",
     "Returns helpful text about the different subcommands.",
     "5.0.0",
     {},
     {},
     cmd_config_help},
    {"resetstat",
     2,
     kCmdAdmin | kCmdAllShards,
     0,
     0,
     0,
     "@admin @slow @dangerous",
     "server",
     "Resets the server's statistics.",
     "2.0.0",
     {},
     {},
     nullptr,
     cmd_config_resetstat},
    {"set",
     -4,
     kCmdAdmin,
     0,
     0,
     0,
     "@admin @slow @dangerous",
     "server",
     "Sets configuration parameters in-flight (maxmemory, timeout).",
     "2.0.0",
     {},
     {},
     cmd_config_set},
};

const CommandSpec kCommandSubs[] = {
    {"count",
     2,
     0,
     0,
     0,
     0,
     "@slow @connection",
     "server",
     "Returns a count of commands.",
     "2.8.13",
     {},
     {},
     cmd_command_count},
    {"docs",
     -2,
     0,
     0,
     0,
     0,
     "@slow @connection",
     "server",
     "Returns documentary information about one, multiple or all commands.",
     "7.0.0",
     {},
     {},
     cmd_command_docs},
    {"help",
     2,
     0,
     0,
     0,
     0,
     "@slow @connection",
     "server",
     "Returns helpful text about the "
     "different subcommands.",
     "5.0.0",
     {},
     {},
     cmd_command_help},
    {"info",
     -2,
     0,
     0,
     0,
     0,
     "@slow @connection",
     "server",
     "Returns information about one, multiple or all commands.",
     "2.8.13",
     {},
     {},
     cmd_command_info},
    {"list",
     2,
     0,
     0,
     0,
     0,
     "@slow @connection",
     "server",
     "Returns a list of command names.",
     "7.0.0",
     {},
     {},
     cmd_command_list},
};

constexpr std::uint32_t kRead = kCmdReadonly | kCmdFast;
constexpr std::uint32_t kWriteGrow = kCmdWrite | kCmdDenyOom;

const CommandSpec kCommands[] = {
    // name, arity, flags, first/last/step key, acl, group, summary, since, args, subs, handlers
    {"auth",
     -2,
     kCmdNoAuth | kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Authenticates the connection.",
     "1.0.0",
     kAuthArgs,
     {},
     cmd_auth},
    {"client", -2, 0, 0, 0, 0, "@slow", "connection", "A container for client connection commands.",
     "2.4.0", kSubcommand, kClientSubs},
    {"command", -1, 0, 0, 0, 0, "@slow @connection", "server",
     "Returns detailed information about all commands.", "2.8.13", kSubcommandOpt, kCommandSubs,
     cmd_command},
    {"config", -2, 0, 0, 0, 0, "@slow", "server", "A container for server configuration commands.",
     "2.0.0", kSubcommand, kConfigSubs},
    {"dbsize",
     1,
     kCmdReadonly | kCmdFast | kCmdAllShards,
     0,
     0,
     0,
     "@keyspace @read @fast",
     "server",
     "Returns the number of keys in the database.",
     "1.0.0",
     {},
     {},
     nullptr,
     cmd_dbsize},
    {"del",
     -2,
     kCmdWrite,
     1,
     -1,
     1,
     "@keyspace @write @slow",
     "generic",
     "Deletes one or more keys.",
     "1.0.0",
     kKeys,
     {},
     cmd_del},
    {"echo",
     2,
     kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Returns the given string.",
     "1.0.0",
     kMessage,
     {},
     cmd_echo},
    {"exists",
     -2,
     kRead,
     1,
     -1,
     1,
     "@keyspace @read @fast",
     "generic",
     "Determines whether one or more keys exist.",
     "1.0.0",
     kKeys,
     {},
     cmd_exists},
    {"flushall",
     -1,
     kCmdWrite | kCmdAllShards,
     0,
     0,
     0,
     "@keyspace @write @slow @dangerous",
     "server",
     "Removes all keys from all databases.",
     "1.0.0",
     kFlushArgs,
     {},
     nullptr,
     cmd_flushall},
    {"flushdb",
     -1,
     kCmdWrite | kCmdAllShards,
     0,
     0,
     0,
     "@keyspace @write @slow @dangerous",
     "server",
     "Remove all keys from the current database.",
     "1.0.0",
     kFlushArgs,
     {},
     nullptr,
     cmd_flushall},
    {"get",
     2,
     kRead,
     1,
     1,
     1,
     "@read @string @fast",
     "string",
     "Returns the string value of a key.",
     "1.0.0",
     kKey,
     {},
     cmd_get},
    {"hello",
     -1,
     kCmdNoAuth | kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Handshakes with the server (RESP2 only).",
     "6.0.0",
     kHelloArgs,
     {},
     cmd_hello},
    {"info",
     -1,
     kCmdAllShards,
     0,
     0,
     0,
     "@slow @dangerous",
     "server",
     "Returns information and statistics about the server.",
     "1.0.0",
     kSections,
     {},
     nullptr,
     cmd_info},
    {"keys",
     2,
     kCmdReadonly | kCmdAllShards,
     0,
     0,
     0,
     "@keyspace @read @slow @dangerous",
     "generic",
     "Returns all key names that match a pattern.",
     "1.0.0",
     kPattern,
     {},
     nullptr,
     cmd_keys},
    {"mget",
     -2,
     kRead,
     1,
     -1,
     1,
     "@read @string @fast",
     "string",
     "Atomically returns the string values of one or more keys.",
     "1.0.0",
     kKeys,
     {},
     cmd_mget},
    {"mset",
     -3,
     kWriteGrow,
     1,
     -1,
     2,
     "@write @string @slow",
     "string",
     "Creates or modifies the string values of one or more keys.",
     "1.0.1",
     kMsetArgs,
     {},
     cmd_mset},
    {"ping",
     -1,
     kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Returns the server's liveliness response.",
     "1.0.0",
     kMessageOpt,
     {},
     cmd_ping},
    {"put",
     3,
     kWriteGrow,
     1,
     1,
     1,
     "@write @string @slow",
     "string",
     "Sets the string value of a key (Tessera's name for SET key value).",
     "0.1.0",
     kKeyValue,
     {},
     cmd_put},
    {"quit",
     -1,
     kCmdNoAuth | kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Closes the connection.",
     "1.0.0",
     {},
     {},
     cmd_quit},
    {"scan",
     -2,
     kCmdReadonly | kCmdAllShards,
     0,
     0,
     0,
     "@keyspace @read @slow",
     "generic",
     "Iterates over the key names in the database.",
     "2.8.0",
     kScanArgs,
     {},
     nullptr,
     cmd_scan},
    {"select",
     2,
     kCmdFast,
     0,
     0,
     0,
     "@fast @connection",
     "connection",
     "Changes the selected database (only database 0 exists).",
     "1.0.0",
     kIndex,
     {},
     cmd_select},
    {"set",
     -3,
     kWriteGrow,
     1,
     1,
     1,
     "@write @string @slow",
     "string",
     "Sets the string value of a key (no expiry options).",
     "1.0.0",
     kSetArgs,
     {},
     cmd_set},
    {"strlen",
     2,
     kRead,
     1,
     1,
     1,
     "@read @string @fast",
     "string",
     "Returns the length of a string value.",
     "2.2.0",
     kKey,
     {},
     cmd_strlen},
    {"type",
     2,
     kRead,
     1,
     1,
     1,
     "@keyspace @read @fast",
     "generic",
     "Determines the type of value stored at a key.",
     "1.0.0",
     kKey,
     {},
     cmd_type},
};

// Lookup: commands bucketed by name length, compared case-insensitively (a handful of compares).
constexpr std::size_t kMaxNameLen = 16;
struct Index {
  std::array<std::vector<const CommandSpec*>, kMaxNameLen + 1> by_len;
  Index() {
    for (const auto& c : kCommands) by_len[c.name.size()].push_back(&c);
  }
};
const Index& index() {
  static const Index idx;
  return idx;
}

}  // namespace

const CommandSpec* find_command(std::string_view name) {
  if (name.size() > kMaxNameLen) return nullptr;
  for (const CommandSpec* c : index().by_len[name.size()]) {
    if (iequals(c->name, name)) return c;
  }
  return nullptr;
}

std::span<const CommandSpec> command_table() { return kCommands; }

}  // namespace tessera::server
