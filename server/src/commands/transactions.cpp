// The transaction family: MULTI, EXEC, DISCARD, WATCH, UNWATCH (multi.c's replies and errors).
//
// MULTI starts queueing (commands/dispatch.cpp queues every command that passes its checks and
// answers +QUEUED; one that fails them aborts the transaction). EXEC is a barrier: once every
// earlier command of the batch has run, it works out which shards the queued commands and the
// watched keys involve (from the command table's key positions; a command without keys that
// reads or changes every shard involves them all), holds them in ascending order
// (shard/shard_hold.hpp), compares the watched keys' versions, and runs the queued commands one
// after the other through the real dispatcher, while the shards are held: every key operation
// then runs at once on its held store, so no other client observes a partial state, and shards
// not involved keep serving. The replies go into one array, errors in place.
//
// WATCH registers each key with its store, which returns the key's version (store/store.hpp:
// bumped by every write, delete, expiry, eviction and flush of that key); EXEC aborts with a
// null array when any version moved. EXEC, DISCARD, UNWATCH and the end of the connection drop
// the registrations. A queued transaction is bounded by client-query-buffer-limit (dispatch.cpp).
#include <algorithm>
#include <string>
#include <vector>

#include <tessera/server/commands/dispatch.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

void clear_queue(MultiState& m) {
  m.active = false;
  m.aborted = false;
  m.queued.clear();
  m.queued.shrink_to_fit();
  m.queued_bytes = 0;
}

// Drops this session's WATCH registrations: at once on the shards it holds, else by a post to
// each shard (the work waits if another session holds it). Never waits.
void unwatch_all(Session& s) {
  MultiState& m = s.multi();
  for (auto& w : m.watched) {
    if (s.holds(w.shard) || (s.is_home(w.shard) && s.home_shard().holder() == 0)) {
      s.shards().shard(w.shard).store().unwatch(w.key);
      continue;
    }
    Shard& shard = s.shards().shard(w.shard);
    s.shards().post(w.shard, [&shard, key = std::move(w.key)]() mutable {
      shard.when_free([&shard, key = std::move(key)] { shard.store().unwatch(key); });
    });
  }
  m.watched.clear();
}

void cmd_multi(Session& s, Args) {
  MultiState& m = s.multi();
  if (m.active) {
    s.reply().error(errors::kMultiNested);
    return;
  }
  clear_queue(m);
  m.active = true;
  s.reply().ok();
}

void cmd_discard(Session& s, Args) {
  MultiState& m = s.multi();
  if (!m.active) {
    s.reply().error(errors::kDiscardWithoutMulti);
    return;
  }
  clear_queue(m);
  unwatch_all(s);
  s.reply().ok();
}

void cmd_unwatch(Session& s, Args) {
  unwatch_all(s);
  s.reply().ok();
}

asio::awaitable<void> cmd_watch(Session& s, Args a) {
  MultiState& m = s.multi();
  if (m.active) {
    s.reply().error(errors::kWatchInsideMulti);
    co_return;
  }
  // The keys not watched yet (multi.c watchForKey ignores a key already watched), per shard.
  std::vector<std::string_view> fresh;
  for (std::size_t i = 1; i < a.size(); ++i) {
    const std::string_view key = a[i];
    const bool known = std::any_of(m.watched.begin(), m.watched.end(),
                                   [&](const MultiState::WatchedKey& w) { return w.key == key; }) ||
                       std::find(fresh.begin(), fresh.end(), key) != fresh.end();
    if (!known) fresh.push_back(key);
  }
  for (unsigned shard : s.shards_of(fresh)) {
    std::vector<std::string_view> keys;
    for (std::string_view k : fresh) {
      if (s.shard_of(k) == shard) keys.push_back(k);
    }
    auto versions = co_await s.on_shard(shard, [&keys](Shard& sh) {
      std::vector<std::uint64_t> v;
      v.reserve(keys.size());
      for (std::string_view k : keys) v.push_back(sh.store().watch(k));
      return v;
    });
    for (std::size_t i = 0; i < keys.size(); ++i) {
      m.watched.push_back({std::string(keys[i]), shard, versions[i]});
    }
  }
  s.reply().ok();
}

// The shards a queued command involves (ascending, no repeats), added to `need`.
void add_shards(Session& s, const std::vector<std::string>& argv, std::vector<bool>& need) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  const CommandSpec* spec = resolve_command(views);
  if (spec == nullptr) return;  // refused while queueing: never queued
  const KeyPositions& k = spec->keys;
  if (k.first > 0) {
    const int argc = static_cast<int>(views.size());
    const int last = k.last < 0 ? argc + k.last : std::min(k.last, argc - 1);
    for (int i = k.first; i <= last; i += k.step) need[s.shard_of(views[i])] = true;
  } else if ((spec->flags & kCmdAllShards) != 0) {
    std::fill(need.begin(), need.end(), true);
  }
}

asio::awaitable<void> cmd_exec(Session& s, Args) {
  MultiState& m = s.multi();
  if (!m.active) {
    s.reply().error(errors::kExecWithoutMulti);
    co_return;
  }
  if (m.aborted) {
    clear_queue(m);
    unwatch_all(s);
    s.reply().error(errors::kExecAbort);
    co_return;
  }
  std::vector<std::vector<std::string>> queued = std::move(m.queued);
  clear_queue(m);  // EXEC runs the commands: they are not queued again

  std::vector<bool> need(s.shards().size(), false);
  for (const auto& argv : queued) add_shards(s, argv, need);
  for (const auto& w : m.watched) need[w.shard] = true;
  std::vector<unsigned> shards;
  for (unsigned i = 0; i < need.size(); ++i) {
    if (need[i]) shards.push_back(i);
  }
  auto hold = co_await s.hold(std::move(shards));

  // multi.c execCommand: a watched key touched since WATCH (or expired since) aborts with a
  // null array; either way EXEC unwatches everything.
  bool touched = false;
  for (const auto& w : m.watched) {
    if (s.store_of(w.shard).watched_version(w.key) != w.version) touched = true;
  }
  unwatch_all(s);
  if (touched) {
    s.reply().null_array();
    co_return;
  }
  s.reply().array(queued.size());
  std::vector<std::string_view> views;
  m.in_exec = true;
  for (const auto& argv : queued) {
    views.assign(argv.begin(), argv.end());
    if (const Barrier barrier = dispatch(s, views)) co_await barrier(s, views);
  }
  m.in_exec = false;
}

constexpr ArgDoc kWatchArgs[] = {{.name = "key", .type = "key", .multiple = true}};

const CommandSpec kCommands[] = {
    {.name = "discard",
     .arity = 1,
     .flags = kCmdFast | kCmdNoQueue,
     .acl_categories = "@fast @transaction",
     .group = "transactions",
     .summary = "Discard all commands issued after MULTI.",
     .since = "2.0.0",
     .sync = cmd_discard},
    {.name = "exec",
     .arity = 1,
     .flags = kCmdAllShards | kCmdNoQueue | kCmdSkipSlowlog,
     .acl_categories = "@slow @transaction",
     .group = "transactions",
     .summary = "Execute all commands issued after MULTI.",
     .since = "1.2.0",
     .async = cmd_exec},
    {.name = "multi",
     .arity = 1,
     .flags = kCmdFast | kCmdNoQueue,
     .acl_categories = "@fast @transaction",
     .group = "transactions",
     .summary = "Mark the start of a transaction block.",
     .since = "1.2.0",
     .sync = cmd_multi},
    {.name = "unwatch",
     .arity = 1,
     .flags = kCmdFast,
     .acl_categories = "@fast @transaction",
     .group = "transactions",
     .summary = "Forget about all watched keys.",
     .since = "2.2.0",
     .sync = cmd_unwatch},
    {.name = "watch",
     .arity = -2,
     .flags = kCmdFast | kCmdAllShards | kCmdNoQueue,
     .keys = kEveryArgKey,
     .acl_categories = "@fast @transaction",
     .group = "transactions",
     .summary = "Watch the given keys to determine execution of the MULTI/EXEC block.",
     .since = "2.2.0",
     .args = kWatchArgs,
     .async = cmd_watch},
};

}  // namespace

std::span<const CommandSpec> transaction_commands() { return kCommands; }

}  // namespace tessera::server
