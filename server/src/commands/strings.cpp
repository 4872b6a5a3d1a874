// The string family: GET, SET, PUT, MGET, MSET, STRLEN, the counters (INCR, DECR, INCRBY, DECRBY,
// INCRBYFLOAT), the edits (APPEND, SETRANGE), GETRANGE/SUBSTR, GETDEL, GETSET, SETNX, MSETNX.
// MGET, MSET and MSETNX are atomic across shards: they hold the shards of their keys
// (shard/shard_hold.hpp) and read or write those stores directly. Each command
// parses its options on the home shard and hands one KeyOp per key to the session; the op_* bodies
// run on the shard that owns the key, ask the Store, and write the reply (t_string.c's replies,
// byte for byte).
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <limits>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>

#include "expiry_args.hpp"
#include "families.hpp"

namespace tessera::server {

namespace {

using protocol::iequals;
using protocol::ReplyWriter;

// KeyOp::flags of a SET.
constexpr std::uint32_t kSetNx = 1;
constexpr std::uint32_t kSetXx = 2;
constexpr std::uint32_t kSetGet = 4;
constexpr std::uint32_t kSetDeadline = 8;  // KeyOp::param1 is the absolute deadline (ms)
constexpr std::uint32_t kSetKeepTtl = 16;

std::int64_t op_get(Store& store, const KeyOp& op, ReplyWriter& w) {
  if (auto value = store.get(op.key)) {
    w.bulk(*value);
  } else {
    w.null_bulk();
  }
  return 0;
}

std::int64_t op_set(Store& store, const KeyOp& op, ReplyWriter& w) {
  const SetCondition condition = (op.flags & kSetNx)   ? SetCondition::kIfAbsent
                                 : (op.flags & kSetXx) ? SetCondition::kIfPresent
                                                       : SetCondition::kAlways;
  const bool want_old = (op.flags & kSetGet) != 0;
  const DeadlineUpdate deadline = (op.flags & kSetDeadline)  ? DeadlineUpdate::at(op.param1)
                                  : (op.flags & kSetKeepTtl) ? DeadlineUpdate::keep()
                                                             : DeadlineUpdate::clear();
  const SetResult r = store.set(op.key, op.value, condition, want_old, deadline);
  if (want_old) {
    if (r.old_value) {
      w.bulk(*r.old_value);
    } else {
      w.null_bulk();
    }
  } else if (r.written) {
    w.ok();
  } else {
    w.null_bulk();
  }
  return 0;
}

std::int64_t op_strlen(Store& store, const KeyOp& op, ReplyWriter& w) {
  const auto size = store.value_size(op.key);
  w.integer(size ? static_cast<std::int64_t>(*size) : 0);
  return 0;
}

// The reply for an edit the store refused (t_string.c's texts).
void edit_error(ReplyWriter& w, EditStatus status) {
  switch (status) {
    case EditStatus::kNotInteger:
      w.not_integer();
      return;
    case EditStatus::kOverflow:
      w.error(errors::kIncrOverflow);
      return;
    case EditStatus::kNotFloat:
      w.error(protocol::errors::kNotFloat);
      return;
    case EditStatus::kNanOrInf:
      w.error(protocol::errors::kIncrNanOrInfinity);
      return;
    case EditStatus::kTooLarge:
      w.error(errors::kStringTooLong);
      return;
    case EditStatus::kDone:
      return;
  }
}

// INCR, DECR, INCRBY, DECRBY: param1 is the increment.
std::int64_t op_incr_by(Store& store, const KeyOp& op, ReplyWriter& w) {
  const IntEdit r = store.incr_by(op.key, op.param1);
  if (r.status == EditStatus::kDone) {
    w.integer(r.value);
  } else {
    edit_error(w, r.status);
  }
  return 0;
}

// INCRBYFLOAT: value is the increment's text. The stored value is read first, then the argument,
// as t_string.c does (both refusals have the same text).
std::int64_t op_incr_by_float(Store& store, const KeyOp& op, ReplyWriter& w) {
  long double delta = 0;
  if (auto current = store.get(op.key)) {
    long double ignored = 0;
    if (!protocol::parse_long_double(*current, ignored)) {
      w.error(protocol::errors::kNotFloat);
      return 0;
    }
  }
  if (!protocol::parse_long_double(op.value, delta)) {
    w.error(protocol::errors::kNotFloat);
    return 0;
  }
  const FloatEdit r = store.incr_by_float(op.key, delta);
  if (r.status == EditStatus::kDone) {
    w.bulk(r.text);
  } else {
    edit_error(w, r.status);
  }
  return 0;
}

std::int64_t op_append(Store& store, const KeyOp& op, ReplyWriter& w) {
  const SizeEdit r = store.append(op.key, op.value);
  if (r.status == EditStatus::kDone) {
    w.integer(static_cast<std::int64_t>(r.size));
  } else {
    edit_error(w, r.status);
  }
  return 0;
}

// SETRANGE: param1 is the offset (already checked to be >= 0).
std::int64_t op_set_range(Store& store, const KeyOp& op, ReplyWriter& w) {
  const SizeEdit r = store.set_range(op.key, static_cast<std::uint64_t>(op.param1), op.value);
  if (r.status == EditStatus::kDone) {
    w.integer(static_cast<std::int64_t>(r.size));
  } else {
    edit_error(w, r.status);
  }
  return 0;
}

// GETRANGE / SUBSTR: param1 and param2 are start and end, Redis's index rules (t_string.c
// getrangeCommand): negative indexes count from the end, both are clamped, an empty range is "".
std::int64_t op_get_range(Store& store, const KeyOp& op, ReplyWriter& w) {
  std::int64_t start = op.param1;
  std::int64_t end = op.param2;
  const auto value = store.get(op.key);
  if (!value) {
    w.bulk("");
    return 0;
  }
  const auto size = static_cast<std::int64_t>(value->size());
  if (start < 0 && end < 0 && start > end) {
    w.bulk("");
    return 0;
  }
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::max<std::int64_t>(start, 0);
  end = std::max<std::int64_t>(end, 0);
  if (end >= size) end = size - 1;
  if (start > end || size == 0) {
    w.bulk("");
    return 0;
  }
  w.bulk(value->substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start + 1)));
  return 0;
}

std::int64_t op_get_del(Store& store, const KeyOp& op, ReplyWriter& w) {
  if (auto value = store.get_del(op.key)) {
    w.bulk(*value);
  } else {
    w.null_bulk();
  }
  return 0;
}

// SETNX: :1 when written, :0 when the key existed.
std::int64_t op_set_nx(Store& store, const KeyOp& op, ReplyWriter& w) {
  w.integer(store.set(op.key, op.value, SetCondition::kIfAbsent).written ? 1 : 0);
  return 0;
}

void set_key(Session& s, std::string_view key, std::string_view value, std::uint32_t flags,
             std::int64_t deadline = 0) {
  s.key_op(
      {.run = &guarded<op_set>, .key = key, .value = value, .param1 = deadline, .flags = flags});
}

void cmd_get(Session& s, Args a) { s.key_op({.run = &guarded<op_get>, .key = a[1]}); }
void cmd_put(Session& s, Args a) { set_key(s, a[1], a[2], 0); }

void cmd_set(Session& s, Args a) {
  // t_string.c parseExtendedStringArgumentsOrReply: the same conflicts give the same syntax error;
  // one expiry option may repeat (the last time wins), two different ones may not.
  std::uint32_t flags = 0;
  std::string_view expire_kind, expire_time;
  for (std::size_t i = 3; i < a.size(); ++i) {
    const std::string_view opt = a[i];
    const bool has_next = i + 1 < a.size();
    const bool is_expire =
        iequals(opt, "ex") || iequals(opt, "px") || iequals(opt, "exat") || iequals(opt, "pxat");
    if (iequals(opt, "nx") && !(flags & kSetXx)) {
      flags |= kSetNx;
    } else if (iequals(opt, "xx") && !(flags & kSetNx)) {
      flags |= kSetXx;
    } else if (iequals(opt, "get")) {
      flags |= kSetGet;
    } else if (iequals(opt, "keepttl") && expire_kind.empty()) {
      flags |= kSetKeepTtl;
    } else if (is_expire && !(flags & kSetKeepTtl) &&
               (expire_kind.empty() || iequals(expire_kind, opt)) && has_next) {
      expire_kind = opt;
      expire_time = a[++i];
    } else {
      s.reply().syntax_error();
      return;
    }
  }
  std::int64_t deadline = 0;
  if (!expire_kind.empty()) {
    const bool seconds = iequals(expire_kind, "ex") || iequals(expire_kind, "exat");
    const bool relative = iequals(expire_kind, "ex") || iequals(expire_kind, "px");
    const auto at = expire_deadline(s, a[0], expire_time,
                                    seconds ? ExpireUnit::kSeconds : ExpireUnit::kMs, relative);
    if (!at) return;
    deadline = *at;
    flags |= kSetDeadline;
  }
  set_key(s, a[1], a[2], flags, deadline);
}

// MGET: one consistent point in time, whatever shards the keys live on (their shards are held
// while it reads, so its reply is built whole, as Redis builds it). A small request can ask for a
// huge reply (one large key named many times): past max_atomic_reply_bytes the reply built so far
// is dropped and the MGET fails, so one command cannot grow the server without bound.
asio::awaitable<void> cmd_mget(Session& s, Args a) {
  const Args keys = a.subspan(1);
  const std::uint64_t limit = s.state().config.max_atomic_reply_bytes;
  co_await atomically(s, s.shards_of(keys), [&] {
    auto& w = s.reply();
    const std::size_t mark = w.out().size();
    w.array(keys.size());
    for (std::string_view k : keys) {
      if (auto value = s.store_of(s.shard_of(k)).get(k)) {
        w.bulk(*value);
      } else {
        w.null_bulk();
      }
      if (w.out().size() - mark > limit) {
        w.out().resize(mark);
        w.out().shrink_to_fit();
        w.error(
            fmt::format("ERR MGET reply larger than {} bytes: ask for fewer keys at once", limit));
        return;
      }
    }
  });
}

// MSET: every key written in one atomic step, across shards.
asio::awaitable<void> cmd_mset(Session& s, Args a) {
  if (a.size() % 2 == 0) {
    s.reply().wrong_arity("mset");
    co_return;
  }
  co_await atomically(s, s.shards_of(a.subspan(1), 2), [&] {
    for (std::size_t i = 1; i < a.size(); i += 2) {
      s.store_of(s.shard_of(a[i])).set(a[i], a[i + 1]);
    }
    s.reply().ok();
  });
}

// MSETNX: all or nothing: nothing is written when any of the keys exists (t_string.c msetGeneric).
asio::awaitable<void> cmd_msetnx(Session& s, Args a) {
  if (a.size() % 2 == 0) {
    s.reply().wrong_arity("msetnx");
    co_return;
  }
  co_await atomically(s, s.shards_of(a.subspan(1), 2), [&] {
    for (std::size_t i = 1; i < a.size(); i += 2) {
      if (s.store_of(s.shard_of(a[i])).exists(a[i])) {
        s.reply().integer(0);
        return;
      }
    }
    for (std::size_t i = 1; i < a.size(); i += 2) {
      s.store_of(s.shard_of(a[i])).set(a[i], a[i + 1]);
    }
    s.reply().integer(1);
  });
}

void cmd_strlen(Session& s, Args a) { s.key_op({.run = &guarded<op_strlen>, .key = a[1]}); }

void incr_key(Session& s, std::string_view key, std::int64_t delta) {
  s.key_op({.run = &guarded<op_incr_by>, .key = key, .param1 = delta});
}
void cmd_incr(Session& s, Args a) { incr_key(s, a[1], 1); }
void cmd_decr(Session& s, Args a) { incr_key(s, a[1], -1); }
void cmd_incrby(Session& s, Args a) {
  std::int64_t delta = 0;
  if (!protocol::parse_int64(a[2], delta)) {
    s.reply().not_integer();
    return;
  }
  incr_key(s, a[1], delta);
}
void cmd_decrby(Session& s, Args a) {
  std::int64_t delta = 0;
  if (!protocol::parse_int64(a[2], delta)) {
    s.reply().not_integer();
    return;
  }
  // t_string.c decrbyCommand: -INT64_MIN does not exist.
  if (delta == std::numeric_limits<std::int64_t>::min()) {
    s.reply().error(errors::kDecrOverflow);
    return;
  }
  incr_key(s, a[1], -delta);
}
void cmd_incrbyfloat(Session& s, Args a) {
  s.key_op({.run = &guarded<op_incr_by_float>, .key = a[1], .value = a[2]});
}

void cmd_append(Session& s, Args a) {
  s.key_op({.run = &guarded<op_append>, .key = a[1], .value = a[2]});
}

void cmd_getrange(Session& s, Args a) {
  std::int64_t start = 0, end = 0;
  if (!protocol::parse_int64(a[2], start) || !protocol::parse_int64(a[3], end)) {
    s.reply().not_integer();
    return;
  }
  s.key_op({.run = &guarded<op_get_range>, .key = a[1], .param1 = start, .param2 = end});
}

void cmd_setrange(Session& s, Args a) {
  std::int64_t offset = 0;
  if (!protocol::parse_int64(a[2], offset)) {
    s.reply().not_integer();
    return;
  }
  if (offset < 0) {
    s.reply().error(errors::kOffsetOutOfRange);
    return;
  }
  s.key_op({.run = &guarded<op_set_range>, .key = a[1], .value = a[3], .param1 = offset});
}

void cmd_getdel(Session& s, Args a) { s.key_op({.run = &guarded<op_get_del>, .key = a[1]}); }

void cmd_getset(Session& s, Args a) {
  s.key_op({.run = &guarded<op_set>, .key = a[1], .value = a[2], .flags = kSetGet});
}

void cmd_setnx(Session& s, Args a) {
  s.key_op({.run = &guarded<op_set_nx>, .key = a[1], .value = a[2]});
}

constexpr std::uint32_t kRead = kCmdReadonly | kCmdFast;
constexpr std::uint32_t kWriteGrow = kCmdWrite | kCmdDenyOom;
constexpr std::uint32_t kWriteGrowFast = kWriteGrow | kCmdFast;

constexpr ArgDoc kKeyValue[] = {{.name = "key", .type = "key"},
                                {.name = "value", .type = "string"}};
constexpr ArgDoc kSetCondition[] = {{.name = "nx", .type = "pure-token", .token = "NX"},
                                    {.name = "xx", .type = "pure-token", .token = "XX"}};
constexpr ArgDoc kSetExpiration[] = {
    {.name = "seconds", .type = "integer", .token = "EX"},
    {.name = "milliseconds", .type = "integer", .token = "PX"},
    {.name = "unix-time-seconds", .type = "unix-time", .token = "EXAT"},
    {.name = "unix-time-milliseconds", .type = "unix-time", .token = "PXAT"},
    {.name = "keepttl", .type = "pure-token", .token = "KEEPTTL"}};
constexpr ArgDoc kSetArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "value", .type = "string"},
    {.name = "condition", .type = "oneof", .optional = true, .children = kSetCondition},
    {.name = "get", .type = "pure-token", .token = "GET", .optional = true},
    {.name = "expiration", .type = "oneof", .optional = true, .children = kSetExpiration}};
constexpr ArgDoc kIncrementArgs[] = {{.name = "key", .type = "key"},
                                     {.name = "increment", .type = "integer"}};
constexpr ArgDoc kDecrementArgs[] = {{.name = "key", .type = "key"},
                                     {.name = "decrement", .type = "integer"}};
constexpr ArgDoc kFloatIncrementArgs[] = {{.name = "key", .type = "key"},
                                          {.name = "increment", .type = "double"}};
constexpr ArgDoc kRangeArgs[] = {{.name = "key", .type = "key"},
                                 {.name = "start", .type = "integer"},
                                 {.name = "end", .type = "integer"}};
constexpr ArgDoc kSetRangeArgs[] = {{.name = "key", .type = "key"},
                                    {.name = "offset", .type = "integer"},
                                    {.name = "value", .type = "string"}};
constexpr ArgDoc kMsetArgs[] = {
    {.name = "data", .type = "block", .multiple = true, .children = kKeyValue}};

const CommandSpec kCommands[] = {
    {.name = "append",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Append a value to a key.",
     .since = "2.0.0",
     .args = kKeyValue,
     .sync = cmd_append},
    {.name = "decr",
     .arity = 2,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Decrement the integer value of a key by one.",
     .since = "1.0.0",
     .args = kKeyArg,
     .sync = cmd_decr},
    {.name = "decrby",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Decrement the integer value of a key by the given number.",
     .since = "1.0.0",
     .args = kDecrementArgs,
     .sync = cmd_decrby},
    {.name = "getdel",
     .arity = 2,
     .flags = kCmdWrite | kCmdFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Get the value of a key and delete the key.",
     .since = "6.2.0",
     .args = kKeyArg,
     .sync = cmd_getdel},
    {.name = "getrange",
     .arity = 4,
     .flags = kCmdReadonly,
     .keys = kOneKey,
     .acl_categories = "@read @string @slow",
     .group = "string",
     .summary = "Get a substring of the string stored at a key.",
     .since = "2.4.0",
     .args = kRangeArgs,
     .sync = cmd_getrange},
    {.name = "getset",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Set the string value of a key and return its old value.",
     .since = "1.0.0",
     .args = kKeyValue,
     .sync = cmd_getset},
    {.name = "incr",
     .arity = 2,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Increment the integer value of a key by one.",
     .since = "1.0.0",
     .args = kKeyArg,
     .sync = cmd_incr},
    {.name = "incrby",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Increment the integer value of a key by the given amount.",
     .since = "1.0.0",
     .args = kIncrementArgs,
     .sync = cmd_incrby},
    {.name = "incrbyfloat",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Increment the float value of a key by the given amount.",
     .since = "2.6.0",
     .args = kFloatIncrementArgs,
     .sync = cmd_incrbyfloat},
    {.name = "setnx",
     .arity = 3,
     .flags = kWriteGrowFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Set the value of a key, only if the key does not exist.",
     .since = "1.0.0",
     .args = kKeyValue,
     .sync = cmd_setnx},
    {.name = "setrange",
     .arity = 4,
     .flags = kWriteGrow,
     .keys = kOneKey,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Overwrite part of a string at key starting at the specified offset.",
     .since = "2.2.0",
     .args = kSetRangeArgs,
     .sync = cmd_setrange},
    {.name = "substr",
     .arity = 4,
     .flags = kCmdReadonly,
     .keys = kOneKey,
     .acl_categories = "@read @string @slow",
     .group = "string",
     .summary = "Get a substring of the string stored at a key.",
     .since = "1.0.0",
     .args = kRangeArgs,
     .sync = cmd_getrange},
    {.name = "get",
     .arity = 2,
     .flags = kRead,
     .keys = kOneKey,
     .acl_categories = "@read @string @fast",
     .group = "string",
     .summary = "Returns the string value of a key.",
     .since = "1.0.0",
     .args = kKeyArg,
     .sync = cmd_get},
    {.name = "mget",
     .arity = -2,
     .flags = kRead | kCmdAllShards,
     .keys = kEveryArgKey,
     .acl_categories = "@read @string @fast",
     .group = "string",
     .summary = "Atomically returns the string values of one or more keys.",
     .since = "1.0.0",
     .args = kKeysArg,
     .async = cmd_mget},
    {.name = "mset",
     .arity = -3,
     .flags = kWriteGrow | kCmdAllShards,
     .keys = kKeyValuePairs,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Creates or modifies the string values of one or more keys.",
     .since = "1.0.1",
     .args = kMsetArgs,
     .async = cmd_mset},
    {.name = "msetnx",
     .arity = -3,
     .flags = kWriteGrow | kCmdAllShards,
     .keys = kKeyValuePairs,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Set multiple keys to multiple values, only if none of the keys exist.",
     .since = "1.0.1",
     .args = kMsetArgs,
     .async = cmd_msetnx},
    {.name = "put",
     .arity = 3,
     .flags = kWriteGrow,
     .keys = kOneKey,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Sets the string value of a key (Tessera's name for SET key value).",
     .since = "0.1.0",
     .args = kKeyValue,
     .sync = cmd_put},
    {.name = "set",
     .arity = -3,
     .flags = kWriteGrow,
     .keys = kOneKey,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Sets the string value of a key, ignoring its type. The key is created if it "
                "doesn't exist.",
     .since = "1.0.0",
     .args = kSetArgs,
     .sync = cmd_set},
    {.name = "strlen",
     .arity = 2,
     .flags = kRead,
     .keys = kOneKey,
     .acl_categories = "@read @string @fast",
     .group = "string",
     .summary = "Returns the length of a string value.",
     .since = "2.2.0",
     .args = kKeyArg,
     .sync = cmd_strlen},
};

}  // namespace

std::span<const CommandSpec> string_commands() { return kCommands; }

}  // namespace tessera::server
