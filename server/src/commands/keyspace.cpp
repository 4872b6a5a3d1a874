// The keyspace family: DEL/UNLINK, EXISTS/TOUCH, TYPE, OBJECT ENCODING (key operations summed or
// replied per key); the commands that read or change every shard, which run as barriers once
// every earlier operation of the batch has run (DBSIZE, FLUSHALL/FLUSHDB, KEYS, SCAN, RANDOMKEY,
// through Session::on_all_shards / on_shard); and RENAME/RENAMENX/COPY, atomic across shards
// (they hold both keys' shards, shard/shard_hold.hpp).
#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/commands/glob.hpp>
#include <tessera/server/commands/scan_cursor.hpp>
#include <tessera/server/shard/shard_calls.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

using protocol::iequals;
using protocol::ReplyWriter;

// A SCAN step that must hop to another shard's thread does at least this many keys' worth of work.
constexpr std::size_t kScanHopBatch = 100;

std::int64_t op_del(Store& store, const KeyOp& op, ReplyWriter&) {
  return store.del(op.key) ? 1 : 0;
}

std::int64_t op_exists(Store& store, const KeyOp& op, ReplyWriter&) {
  return store.exists(op.key) ? 1 : 0;
}

std::int64_t op_type(Store& store, const KeyOp& op, ReplyWriter& w) {
  w.simple(store.type(op.key) == ValueType::kString ? "string" : "none");
  return 0;
}

void cmd_del(Session& s, Args a) {
  s.begin_group();
  for (std::size_t i = 1; i < a.size(); ++i) s.group_op({.run = &guarded<op_del>, .key = a[i]});
  s.end_group_sum();
}

void cmd_exists(Session& s, Args a) {
  s.begin_group();
  for (std::size_t i = 1; i < a.size(); ++i) s.group_op({.run = &guarded<op_exists>, .key = a[i]});
  s.end_group_sum();
}

void cmd_type(Session& s, Args a) { s.key_op({.run = &guarded<op_type>, .key = a[1]}); }

std::int64_t op_touch(Store& store, const KeyOp& op, ReplyWriter&) {
  return store.touch_key(op.key) ? 1 : 0;
}

// TOUCH counts the keys that exist and bumps their access clocks (LRU time, LFU counter).
void cmd_touch(Session& s, Args a) {
  s.begin_group();
  for (std::size_t i = 1; i < a.size(); ++i) s.group_op({.run = &guarded<op_touch>, .key = a[i]});
  s.end_group_sum();
}

std::int64_t op_object_encoding(Store& store, const KeyOp& op, ReplyWriter& w) {
  const auto encoding = store.encoding(op.key);
  if (!encoding) {
    w.null_bulk();
  } else {
    w.bulk(*encoding == StringEncoding::kInt      ? "int"
           : *encoding == StringEncoding::kEmbstr ? "embstr"
                                                  : "raw");
  }
  return 0;
}

void cmd_object_encoding(Session& s, Args a) {
  s.key_op({.run = &guarded<op_object_encoding>, .key = a[2]});
}

// OBJECT IDLETIME and FREQ (object.c): the key's access clock, read without touching it; each
// answers only under the kind of policy that keeps its clock (LRU time or LFU counter).
constexpr std::uint32_t kObjectFreq = 1;

std::int64_t op_object_clock(Store& store, const KeyOp& op, ReplyWriter& w) {
  const auto access = store.access_clock(op.key);
  if (!access) {
    w.null_bulk();
    return 0;
  }
  const bool lfu = policy_is_lfu(store.policy());
  if (op.flags == kObjectFreq) {
    if (!lfu) {
      w.error(errors::kObjectFreqWithoutLfu);
    } else {
      w.integer(store.lfu_frequency(*access));
    }
  } else if (lfu) {
    w.error(errors::kObjectIdletimeWithLfu);
  } else {
    w.integer(static_cast<std::int64_t>(store.idle_ms(*access) / 1000));
  }
  return 0;
}

void cmd_object_idletime(Session& s, Args a) {
  s.key_op({.run = &guarded<op_object_clock>, .key = a[2]});
}
void cmd_object_freq(Session& s, Args a) {
  s.key_op({.run = &guarded<op_object_clock>, .key = a[2], .flags = kObjectFreq});
}

void cmd_object_help(Session& s, Args) {
  write_help(s, "OBJECT",
             {"ENCODING <key>",
              "    Return the kind of internal representation used in order to store the value",
              "    associated with a <key>.", "FREQ <key>",
              "    Return the access frequency index of the <key>. The returned integer is",
              "    proportional to the logarithm of the recent access frequency of the key.",
              "IDLETIME <key>",
              "    Return the idle time of the <key>, that is the approximated number of",
              "    seconds elapsed since the last access to the key."});
}

// RENAME / RENAMENX (db.c renameGenericCommand): the key's content (value and deadline) moves to
// the new name in one atomic step, across shards too: no client ever sees both keys or neither.
asio::awaitable<void> rename_key(Session& s, Args a, bool only_if_absent) {
  const std::string_view from = a[1], to = a[2];
  co_await atomically(s, s.shards_of(a.subspan(1, 2)), [&] {
    Store& source = s.store_of(s.shard_of(from));
    Store& target = s.store_of(s.shard_of(to));
    if (!source.exists(from)) {
      s.reply().error(errors::kNoSuchKey);
      return;
    }
    if (from == to) {
      if (only_if_absent) {
        s.reply().integer(0);
      } else {
        s.reply().ok();
      }
      return;
    }
    if (only_if_absent && target.exists(to)) {
      s.reply().integer(0);
      return;
    }
    // Written before the source goes: a failed allocation leaves both keys as they were.
    target.put_content(to, *source.copy_out(from));
    source.del(from);
    if (only_if_absent) {
      s.reply().integer(1);
    } else {
      s.reply().ok();
    }
  });
}

asio::awaitable<void> cmd_rename(Session& s, Args a) { co_await rename_key(s, a, false); }
asio::awaitable<void> cmd_renamenx(Session& s, Args a) { co_await rename_key(s, a, true); }

// COPY source destination [DB 0] [REPLACE] (db.c copyCommand): one database, so DB other than 0 is
// refused as SELECT refuses it.
asio::awaitable<void> cmd_copy(Session& s, Args a) {
  bool replace = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "replace")) {
      replace = true;
    } else if (iequals(a[i], "db") && i + 1 < a.size()) {
      std::int64_t db = 0;
      if (!protocol::parse_int64(a[i + 1], db)) {
        s.reply().not_integer();
        co_return;
      }
      if (db != 0) {
        s.reply().out_of_range("DB index");
        co_return;
      }
      ++i;
    } else {
      s.reply().syntax_error();
      co_return;
    }
  }
  const std::string_view from = a[1], to = a[2];
  if (from == to) {
    s.reply().error(errors::kSameObject);
    co_return;
  }
  co_await atomically(s, s.shards_of(a.subspan(1, 2)), [&] {
    Store& source = s.store_of(s.shard_of(from));
    Store& target = s.store_of(s.shard_of(to));
    auto content = source.copy_out(from);
    if (!content || (!replace && target.exists(to))) {
      s.reply().integer(0);
      return;
    }
    target.put_content(to, *content);
    s.reply().integer(1);
  });
}

// RANDOMKEY: each shard offers a random key of its own and its key count; one of the offers is
// taken with a probability proportional to its shard's count, so every key has a chance.
asio::awaitable<void> cmd_randomkey(Session& s, Args) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  struct Offer {
    std::size_t count = 0;
    std::optional<std::string> key;
  };
  const std::uint64_t seed = rng();
  auto offers = co_await s.on_all_shards([seed](Shard& sh) {
    return Offer{sh.store().count(),
                 sh.store().random_key(seed ^ (sh.id() * 0x9e3779b97f4a7c15ULL))};
  });
  std::size_t total = 0;
  for (const auto& o : offers) total += o.count;
  if (total == 0) {
    s.reply().null_bulk();
    co_return;
  }
  std::size_t pick = std::uniform_int_distribution<std::size_t>(0, total - 1)(rng);
  for (const auto& o : offers) {
    if (pick < o.count && o.key) {
      s.reply().bulk(*o.key);
      co_return;
    }
    pick -= std::min(pick, o.count);
  }
  // Counts and keys came from the same moment per shard, so an offer was taken above; this is
  // only reached if a shard with keys offered none, which random_key never does.
  s.reply().null_bulk();
}

asio::awaitable<void> cmd_dbsize(Session& s, Args) {
  auto counts = co_await s.on_all_shards([](Shard& sh) { return sh.store().count(); });
  std::size_t total = 0;
  for (auto c : counts) total += c;
  s.reply().integer(static_cast<std::int64_t>(total));
}

asio::awaitable<void> cmd_flushall(Session& s, Args a) {
  if (a.size() > 2 || (a.size() == 2 && !iequals(a[1], "async") && !iequals(a[1], "sync"))) {
    s.reply().syntax_error();
    co_return;
  }
  // With the append-only file on, every shard is held, so that the flush is one unit in the file
  // (persistence/aof.hpp); else each shard frees its own memory, in parallel (ASYNC too).
  std::optional<Session::HoldGuard> hold;
  if (s.state().aof != nullptr) {
    std::vector<unsigned> all(s.shards().size());
    for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
    hold.emplace(co_await s.hold(std::move(all)));
  }
  co_await s.on_all_shards([](Shard& sh) {
    sh.store().clear();
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
  auto parts = co_await s.on_all_shards([&](Shard& sh) {
    std::vector<std::string> keys;
    std::uint64_t cursor = 0;
    do {
      cursor = sh.store().scan(cursor, 1024, [&](std::string_view k) {
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
    s.reply().error(errors::kInvalidCursor);
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
    // A map cursor is < 2^48 (its SCAN epoch above bit 32): larger ones cannot come from here.
    if (pos.map_cursor < (std::uint64_t{1} << 48)) {
      map_next = co_await s.on_shard(pos.shard, [&](Shard& sh) {
        return sh.store().scan(pos.map_cursor, want - std::min(want - 1, keys.size()),
                               [&](std::string_view k) {
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

constexpr ArgDoc kScanArgs[] = {
    {.name = "cursor", .type = "integer"},
    {.name = "pattern", .type = "pattern", .token = "MATCH", .optional = true},
    {.name = "count", .type = "integer", .token = "COUNT", .optional = true},
    {.name = "type", .type = "string", .token = "TYPE", .optional = true}};
constexpr ArgDoc kPattern[] = {{.name = "pattern", .type = "pattern"}};
constexpr ArgDoc kFlushMode[] = {{.name = "async", .type = "pure-token", .token = "ASYNC"},
                                 {.name = "sync", .type = "pure-token", .token = "SYNC"}};
constexpr ArgDoc kFlushArgs[] = {
    {.name = "flush-type", .type = "oneof", .optional = true, .children = kFlushMode}};

const CommandSpec kObjectSubcommands[] = {
    {.name = "encoding",
     .arity = 3,
     .flags = kCmdReadonly,
     .keys = {.first = 2, .last = 2, .step = 1},
     .acl_categories = "@keyspace @read @slow",
     .group = "generic",
     .summary = "Inspect the internal encoding of a Redis object.",
     .since = "2.2.3",
     .args = kKeyArg,
     .sync = cmd_object_encoding},
    {.name = "freq",
     .arity = 3,
     .flags = kCmdReadonly,
     .keys = {.first = 2, .last = 2, .step = 1},
     .acl_categories = "@keyspace @read @slow",
     .group = "generic",
     .summary = "Returns the logarithmic access frequency counter of a Redis object.",
     .since = "4.0.0",
     .args = kKeyArg,
     .sync = cmd_object_freq},
    {.name = "idletime",
     .arity = 3,
     .flags = kCmdReadonly,
     .keys = {.first = 2, .last = 2, .step = 1},
     .acl_categories = "@keyspace @read @slow",
     .group = "generic",
     .summary = "Returns the time since the last access to a Redis object.",
     .since = "2.2.3",
     .args = kKeyArg,
     .sync = cmd_object_idletime},
    {.name = "help",
     .arity = 2,
     .flags = kCmdReadonly,
     .acl_categories = "@keyspace @slow",
     .group = "generic",
     .summary = "Show helpful text about the different subcommands.",
     .since = "6.2.0",
     .sync = cmd_object_help},
};

constexpr ArgDoc kRenameArgs[] = {{.name = "key", .type = "key"},
                                  {.name = "newkey", .type = "key"}};
constexpr ArgDoc kCopyArgs[] = {
    {.name = "source", .type = "key"},
    {.name = "destination", .type = "key"},
    {.name = "destination-db", .type = "integer", .token = "DB", .optional = true},
    {.name = "replace", .type = "pure-token", .token = "REPLACE", .optional = true}};
constexpr KeyPositions kTwoKeys = {.first = 1, .last = 2, .step = 1};

const CommandSpec kCommands[] = {
    {.name = "copy",
     .arity = -3,
     .flags = kCmdWrite | kCmdDenyOom | kCmdAllShards,
     .keys = kTwoKeys,
     .acl_categories = "@keyspace @write @slow",
     .group = "generic",
     .summary = "Copy a key.",
     .since = "6.2.0",
     .args = kCopyArgs,
     .async = cmd_copy},
    {.name = "rename",
     .arity = 3,
     .flags = kCmdWrite | kCmdAllShards,
     .keys = kTwoKeys,
     .acl_categories = "@keyspace @write @slow",
     .group = "generic",
     .summary = "Rename a key.",
     .since = "1.0.0",
     .args = kRenameArgs,
     .async = cmd_rename},
    {.name = "renamenx",
     .arity = 3,
     .flags = kCmdWrite | kCmdFast | kCmdAllShards,
     .keys = kTwoKeys,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Rename a key, only if the new key does not exist.",
     .since = "1.0.0",
     .args = kRenameArgs,
     .async = cmd_renamenx},
    {.name = "object",
     .arity = -2,
     .acl_categories = "@slow",
     .group = "generic",
     .summary = "A container for object introspection commands.",
     .since = "2.2.3",
     .args = kSubcommandArg,
     .subcommands = kObjectSubcommands},
    {.name = "randomkey",
     .arity = 1,
     .flags = kCmdReadonly | kCmdAllShards,
     .acl_categories = "@keyspace @read @slow",
     .group = "generic",
     .summary = "Return a random key from the keyspace.",
     .since = "1.0.0",
     .async = cmd_randomkey},
    {.name = "touch",
     .arity = -2,
     .flags = kCmdReadonly | kCmdFast,
     .keys = kEveryArgKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Alters the last access time of a key(s). Returns the number of existing keys "
                "specified.",
     .since = "3.2.1",
     .args = kKeysArg,
     .sync = cmd_touch},
    {.name = "unlink",
     .arity = -2,
     .flags = kCmdWrite | kCmdFast,
     .keys = kEveryArgKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but "
                "non blocking.",
     .since = "4.0.0",
     .args = kKeysArg,
     .sync = cmd_del},
    {.name = "dbsize",
     .arity = 1,
     .flags = kCmdReadonly | kCmdFast | kCmdAllShards,
     .acl_categories = "@keyspace @read @fast",
     .group = "server",
     .summary = "Returns the number of keys in the database.",
     .since = "1.0.0",
     .async = cmd_dbsize},
    {.name = "del",
     .arity = -2,
     .flags = kCmdWrite,
     .keys = kEveryArgKey,
     .acl_categories = "@keyspace @write @slow",
     .group = "generic",
     .summary = "Deletes one or more keys.",
     .since = "1.0.0",
     .args = kKeysArg,
     .sync = cmd_del},
    {.name = "exists",
     .arity = -2,
     .flags = kCmdReadonly | kCmdFast,
     .keys = kEveryArgKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Determines whether one or more keys exist.",
     .since = "1.0.0",
     .args = kKeysArg,
     .sync = cmd_exists},
    {.name = "flushall",
     .arity = -1,
     .flags = kCmdWrite | kCmdAllShards,
     .acl_categories = "@keyspace @write @slow @dangerous",
     .group = "server",
     .summary = "Removes all keys from all databases.",
     .since = "1.0.0",
     .args = kFlushArgs,
     .async = cmd_flushall},
    {.name = "flushdb",
     .arity = -1,
     .flags = kCmdWrite | kCmdAllShards,
     .acl_categories = "@keyspace @write @slow @dangerous",
     .group = "server",
     .summary = "Remove all keys from the current database.",
     .since = "1.0.0",
     .args = kFlushArgs,
     .async = cmd_flushall},
    {.name = "keys",
     .arity = 2,
     .flags = kCmdReadonly | kCmdAllShards,
     .acl_categories = "@keyspace @read @slow @dangerous",
     .group = "generic",
     .summary = "Returns all key names that match a pattern.",
     .since = "1.0.0",
     .args = kPattern,
     .async = cmd_keys},
    {.name = "scan",
     .arity = -2,
     .flags = kCmdReadonly | kCmdAllShards,
     .acl_categories = "@keyspace @read @slow",
     .group = "generic",
     .summary = "Iterates over the key names in the database.",
     .since = "2.8.0",
     .args = kScanArgs,
     .async = cmd_scan},
    {.name = "type",
     .arity = 2,
     .flags = kCmdReadonly | kCmdFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Determines the type of value stored at a key.",
     .since = "1.0.0",
     .args = kKeyArg,
     .sync = cmd_type},
};

}  // namespace

std::span<const CommandSpec> keyspace_commands() { return kCommands; }

}  // namespace tessera::server
