// CLIENT LIST, INFO, KILL and NO-EVICT (Redis 7.0.15's networking.c clientCommand): the
// connection registry each shard owns (network/client_record.hpp), read on each shard's thread.
// CLIENT LIST and KILL visit every shard (barriers); INFO reads the caller's own connection on its
// home shard.
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/network/client_record.hpp>

#include "families.hpp"

namespace tessera::server {

void describe_session(const Session& s, ClientRecord& r) {
  r.id = s.id();
  r.name = s.name();
  r.addr = s.peer();
  r.laddr = s.local();
  const MultiState& m = const_cast<Session&>(s).multi();
  r.in_multi = m.active;
  r.multi = m.active ? static_cast<std::int64_t>(m.queued.size()) : -1;
  r.cmd = s.last_command() == 0 ? "NULL" : command_stats::name_of(s.last_command());
  r.resp = s.resp3() ? 3 : 2;
  r.no_evict = s.no_evict();
  r.monitor = s.monitor();
}

std::string client_line(const ClientRecord& r) {
  std::string flags;
  if (r.monitor) flags += 'O';
  if (r.in_multi) flags += 'x';
  if (r.no_evict) flags += 'e';
  if (flags.empty()) flags = "N";
  return fmt::format(
      "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db=0 sub=0 psub=0 ssub=0 "
      "multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem=0 "
      "tot-mem={} events=r cmd={} user=default redir=-1 resp={}",
      r.id, r.addr, r.laddr, r.fd, r.name, r.age_s, r.idle_s, flags, r.multi, r.qbuf, r.qbuf_free,
      r.qbuf + r.qbuf_free, r.qbuf + r.qbuf_free, r.tot_mem, r.cmd, r.resp);
}

namespace {

using protocol::iequals;

// Every connection of `shard`, described on its thread.
std::vector<ClientRecord> records_of(Shard& shard) {
  std::vector<ClientRecord> out;
  for (const ConnectionHook& c : shard.connections()) {
    if (c.client_id() != 0) out.push_back(c.describe());  // 0: its session is not there yet
  }
  return out;
}

// The caller's own record: its connection's, or (in process, no socket) the session's alone.
ClientRecord own_record(Session& s) {
  for (const ConnectionHook& c : s.home_shard().connections()) {
    if (c.client_id() == s.id()) return c.describe();
  }
  ClientRecord r;
  describe_session(s, r);
  return r;
}

// TYPE's values (Redis's getClientTypeByName); only normal clients exist here.
std::optional<bool> type_is_normal(std::string_view type) {
  if (iequals(type, "normal")) return true;
  if (iequals(type, "master") || iequals(type, "replica") || iequals(type, "slave") ||
      iequals(type, "pubsub")) {
    return false;
  }
  return std::nullopt;
}

// What CLIENT KILL's filters select (networking.c clientKillCommand).
struct KillFilter {
  std::optional<std::uint64_t> id;
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  bool type_none = false;  // TYPE master/replica/pubsub
  bool skipme = true;
  bool matches(const ClientRecord& r) const {
    if (type_none) return false;
    if (id && r.id != *id) return false;
    if (addr && r.addr != *addr) return false;
    if (laddr && r.laddr != *laddr) return false;
    return true;
  }
};

}  // namespace

asio::awaitable<void> cmd_client_list(Session& s, Args a) {
  bool none = false;  // TYPE master/replica/pubsub: no such clients
  std::vector<std::uint64_t> ids;
  bool by_id = false;
  if (a.size() == 4 && iequals(a[2], "type")) {
    const auto normal = type_is_normal(a[3]);
    if (!normal) {
      s.reply().error(fmt::format("ERR Unknown client type '{}'", a[3]));
      co_return;
    }
    none = !*normal;
  } else if (a.size() >= 4 && iequals(a[2], "id")) {
    by_id = true;
    for (std::size_t i = 3; i < a.size(); ++i) {
      std::int64_t id = 0;
      if (!protocol::parse_int64(a[i], id) || id <= 0) {
        s.reply().error("ERR Invalid client ID");
        co_return;
      }
      ids.push_back(static_cast<std::uint64_t>(id));
    }
  } else if (a.size() != 2) {
    s.reply().syntax_error();
    co_return;
  }
  // The caller's own line shows this command as its last one, as in Redis.
  auto per_shard = co_await s.on_all_shards([](Shard& sh) { return records_of(sh); });
  std::vector<ClientRecord> all;
  for (auto& v : per_shard) {
    for (auto& r : v) all.push_back(std::move(r));
  }
  std::sort(all.begin(), all.end(),
            [](const ClientRecord& x, const ClientRecord& y) { return x.id < y.id; });
  std::string text;
  if (!none) {
    for (const ClientRecord& r : all) {
      if (by_id && std::find(ids.begin(), ids.end(), r.id) == ids.end()) continue;
      text += client_line(r);
      text += '\n';
    }
  }
  s.reply().verbatim(text);
}

void cmd_client_info(Session& s, Args) { s.reply().verbatim(client_line(own_record(s)) + "\n"); }

void cmd_client_no_evict(Session& s, Args a) {
  if (iequals(a[2], "on")) {
    s.set_no_evict(true);
  } else if (iequals(a[2], "off")) {
    s.set_no_evict(false);
  } else {
    s.reply().syntax_error();
    return;
  }
  s.reply().ok();
}

asio::awaitable<void> cmd_client_kill(Session& s, Args a) {
  KillFilter f;
  const bool old_form = a.size() == 3;
  if (old_form) {
    f.addr = std::string(a[2]);
    f.skipme = false;
  } else if (a.size() % 2 != 0) {
    s.reply().syntax_error();
    co_return;
  } else {
    for (std::size_t i = 2; i < a.size(); i += 2) {
      const std::string_view opt = a[i], value = a[i + 1];
      if (iequals(opt, "id")) {
        std::int64_t id = 0;
        if (!protocol::parse_int64(value, id) || id <= 0) {
          s.reply().error("ERR client-id should be greater than 0");
          co_return;
        }
        f.id = static_cast<std::uint64_t>(id);
      } else if (iequals(opt, "type")) {
        const auto normal = type_is_normal(value);
        if (!normal) {
          s.reply().error(fmt::format("ERR Unknown client type '{}'", value));
          co_return;
        }
        f.type_none = !*normal;
      } else if (iequals(opt, "addr")) {
        f.addr = std::string(value);
      } else if (iequals(opt, "laddr")) {
        f.laddr = std::string(value);
      } else if (iequals(opt, "user")) {
        // One user exists (no ACLs): "default", which every client is.
        if (value != "default") {
          s.reply().error(fmt::format("ERR No such user '{}'", value));
          co_return;
        }
      } else if (iequals(opt, "skipme")) {
        if (iequals(value, "yes")) {
          f.skipme = true;
        } else if (iequals(value, "no")) {
          f.skipme = false;
        } else {
          s.reply().syntax_error();
          co_return;
        }
      } else {
        s.reply().syntax_error();
        co_return;
      }
    }
  }
  // Each shard closes its own matching connections; the caller's own is closed after this reply.
  const std::uint64_t me = s.id();
  const bool skipme = f.skipme;
  auto killed = co_await s.on_all_shards([&f, me, skipme](Shard& sh) {
    std::size_t n = 0;
    bool self = false;
    for (ConnectionHook& c : sh.connections()) {
      if (!f.matches(c.describe())) continue;
      if (c.client_id() == me) {
        if (skipme) continue;
        self = true;
      } else {
        c.close_now();
      }
      ++n;
    }
    return std::pair<std::size_t, bool>(n, self);
  });
  std::size_t total = 0;
  bool self = false;
  for (const auto& [n, me_too] : killed) {
    total += n;
    self = self || me_too;
  }
  if (self) s.close_after_reply();
  if (old_form) {
    if (total == 0) {
      s.reply().error("ERR No such client");
    } else {
      s.reply().ok();
    }
  } else {
    s.reply().integer(static_cast<std::int64_t>(total));
  }
}

}  // namespace tessera::server
