// The expiry family: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME,
// PERSIST, SETEX, PSETEX, GETEX (expire.c and t_string.c's arguments, replies and error texts).
// What does not depend on the key (option syntax, the number, overflow) is checked on the home
// shard before any hop, in Redis's order; the op_* bodies run on the owning shard against the
// Store, which owns what a deadline means (store.hpp).
#include <climits>
#include <string>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>

#include "expiry_args.hpp"
#include "families.hpp"

namespace tessera::server {

namespace {

using protocol::iequals;
using protocol::ReplyWriter;

// ---- TTL, PTTL, EXPIRETIME, PEXPIRETIME (expire.c ttlGenericCommand) ----

constexpr std::uint32_t kTtlMs = 1;
constexpr std::uint32_t kTtlAbsolute = 2;

std::int64_t op_ttl(Store& store, const KeyOp& op, ReplyWriter& w) {
  const KeyDeadline d = store.deadline(op.key);
  if (!d.exists) {
    w.integer(-2);
  } else if (!d.at_ms) {
    w.integer(-1);
  } else {
    std::int64_t ttl = (op.flags & kTtlAbsolute) ? *d.at_ms : *d.at_ms - store.now_ms();
    if (ttl < 0) ttl = 0;
    w.integer((op.flags & kTtlMs) ? ttl : (ttl + 500) / 1000);
  }
  return 0;
}

template <std::uint32_t Flags>
void cmd_ttl(Session& s, Args a) {
  s.key_op({.run = &guarded<op_ttl>, .key = a[1], .flags = Flags});
}

// ---- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (expire.c expireGenericCommand) ----

std::int64_t op_expire(Store& store, const KeyOp& op, ReplyWriter& w) {
  const ExpireOutcome r = store.expire(op.key, op.param1, static_cast<std::uint8_t>(op.flags));
  w.integer(r == ExpireOutcome::kSet || r == ExpireOutcome::kDeleted ? 1 : 0);
  return 0;
}

// `relative`: EXPIRE/PEXPIRE (the time is added to now); `seconds`: EXPIRE/EXPIREAT.
template <bool Relative, bool Seconds>
void cmd_expire(Session& s, Args a) {
  std::uint8_t conditions = kExpireAlways;
  bool nx = false, xx = false, gt = false, lt = false;
  for (std::size_t i = 3; i < a.size(); ++i) {
    if (iequals(a[i], "nx")) {
      nx = true;
    } else if (iequals(a[i], "xx")) {
      xx = true;
    } else if (iequals(a[i], "gt")) {
      gt = true;
    } else if (iequals(a[i], "lt")) {
      lt = true;
    } else {
      s.reply().error("ERR Unsupported option " + std::string(a[i]));
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    s.reply().error(errors::kExpireNxConflict);
    return;
  }
  if (gt && lt) {
    s.reply().error(errors::kExpireGtLtConflict);
    return;
  }
  conditions = static_cast<std::uint8_t>((nx ? kExpireNx : 0) | (xx ? kExpireXx : 0) |
                                         (gt ? kExpireGt : 0) | (lt ? kExpireLt : 0));
  std::int64_t when = 0;
  if (!protocol::parse_int64(a[2], when)) {
    s.reply().not_integer();
    return;
  }
  // EXPIRE accepts negative times, but an overflow of the unit conversion or of the addition of
  // the base time is an error.
  if (Seconds) {
    if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
      s.reply().error(invalid_expire_time(a[0]));
      return;
    }
    when *= 1000;
  }
  if (Relative) {
    const std::int64_t base = s.shards().settings().clock->now_ms();
    if (when > LLONG_MAX - base) {
      s.reply().error(invalid_expire_time(a[0]));
      return;
    }
    when += base;
  }
  s.key_op({.run = &guarded<op_expire>, .key = a[1], .param1 = when, .flags = conditions});
}

// ---- PERSIST ----

std::int64_t op_persist(Store& store, const KeyOp& op, ReplyWriter& w) {
  w.integer(store.persist(op.key) ? 1 : 0);
  return 0;
}

void cmd_persist(Session& s, Args a) { s.key_op({.run = &guarded<op_persist>, .key = a[1]}); }

// ---- SETEX, PSETEX ----

std::int64_t op_set_with_deadline(Store& store, const KeyOp& op, ReplyWriter& w) {
  store.set(op.key, op.value, SetCondition::kAlways, false, DeadlineUpdate::at(op.param1));
  w.ok();
  return 0;
}

template <ExpireUnit Unit>
void cmd_setex(Session& s, Args a) {
  const auto at = expire_deadline(s, a[0], a[2], Unit, /*relative=*/true);
  if (!at) return;
  s.key_op({.run = &guarded<op_set_with_deadline>, .key = a[1], .value = a[3], .param1 = *at});
}

// ---- GETEX (t_string.c getexCommand) ----

// KeyOp::flags of a GETEX: which option, if any.
enum GetexOption : std::uint32_t {
  kGetexNone,
  kGetexEx,
  kGetexPx,
  kGetexExat,
  kGetexPxat,
  kGetexPersist
};

std::int64_t op_getex(Store& store, const KeyOp& op, ReplyWriter& w) {
  auto value = store.get(op.key);
  if (!value) {
    w.null_bulk();
    return 0;
  }
  std::optional<std::int64_t> at;
  if (op.flags != kGetexNone && op.flags != kGetexPersist) {
    // The time is checked only once the key is known to exist (Redis's order).
    const ExpireUnit unit =
        op.flags == kGetexEx || op.flags == kGetexExat ? ExpireUnit::kSeconds : ExpireUnit::kMs;
    const bool relative = op.flags == kGetexEx || op.flags == kGetexPx;
    std::string error;
    at = checked_deadline(op.value, unit, relative, store.now_ms(), "getex", error);
    if (!at) {
      w.error(error);
      return 0;
    }
  }
  w.bulk(*value);  // before the deadline changes: the change may move or free the value
  if (at) {
    store.expire(op.key, *at);  // a deadline not in the future deletes (as a DEL)
  } else if (op.flags == kGetexPersist) {
    store.persist(op.key);
  }
  return 0;
}

void cmd_getex(Session& s, Args a) {
  // t_string.c parseExtendedStringArgumentsOrReply (COMMAND_GET): one of EX, PX, EXAT, PXAT,
  // PERSIST; the same option twice is allowed (the last one wins), two different ones are not.
  std::uint32_t option = kGetexNone;
  std::string_view time;
  for (std::size_t i = 2; i < a.size(); ++i) {
    const bool has_next = i + 1 < a.size();
    std::uint32_t this_option = kGetexNone;
    if (iequals(a[i], "persist")) {
      this_option = kGetexPersist;
    } else if (iequals(a[i], "ex") && has_next) {
      this_option = kGetexEx;
    } else if (iequals(a[i], "px") && has_next) {
      this_option = kGetexPx;
    } else if (iequals(a[i], "exat") && has_next) {
      this_option = kGetexExat;
    } else if (iequals(a[i], "pxat") && has_next) {
      this_option = kGetexPxat;
    }
    if (this_option == kGetexNone || (option != kGetexNone && option != this_option)) {
      s.reply().syntax_error();
      return;
    }
    option = this_option;
    if (option != kGetexPersist) time = a[++i];
  }
  s.key_op({.run = &guarded<op_getex>, .key = a[1], .value = time, .flags = option});
}

constexpr std::uint32_t kWriteFast = kCmdWrite | kCmdFast;
constexpr std::uint32_t kReadFast = kCmdReadonly | kCmdFast;

constexpr ArgDoc kExpireCondition[] = {{.name = "nx", .type = "pure-token", .token = "NX"},
                                       {.name = "xx", .type = "pure-token", .token = "XX"},
                                       {.name = "gt", .type = "pure-token", .token = "GT"},
                                       {.name = "lt", .type = "pure-token", .token = "LT"}};
constexpr ArgDoc kExpireArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "seconds", .type = "integer"},
    {.name = "condition", .type = "oneof", .optional = true, .children = kExpireCondition}};
constexpr ArgDoc kPexpireArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "milliseconds", .type = "integer"},
    {.name = "condition", .type = "oneof", .optional = true, .children = kExpireCondition}};
constexpr ArgDoc kExpireatArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "unix-time-seconds", .type = "unix-time"},
    {.name = "condition", .type = "oneof", .optional = true, .children = kExpireCondition}};
constexpr ArgDoc kPexpireatArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "unix-time-milliseconds", .type = "unix-time"},
    {.name = "condition", .type = "oneof", .optional = true, .children = kExpireCondition}};
constexpr ArgDoc kSetexArgs[] = {{.name = "key", .type = "key"},
                                 {.name = "seconds", .type = "integer"},
                                 {.name = "value", .type = "string"}};
constexpr ArgDoc kPsetexArgs[] = {{.name = "key", .type = "key"},
                                  {.name = "milliseconds", .type = "integer"},
                                  {.name = "value", .type = "string"}};
constexpr ArgDoc kGetexExpiration[] = {
    {.name = "seconds", .type = "integer", .token = "EX"},
    {.name = "milliseconds", .type = "integer", .token = "PX"},
    {.name = "unix-time-seconds", .type = "unix-time", .token = "EXAT"},
    {.name = "unix-time-milliseconds", .type = "unix-time", .token = "PXAT"},
    {.name = "persist", .type = "pure-token", .token = "PERSIST"}};
constexpr ArgDoc kGetexArgs[] = {
    {.name = "key", .type = "key"},
    {.name = "expiration", .type = "oneof", .optional = true, .children = kGetexExpiration}};

const CommandSpec kCommands[] = {
    {.name = "expire",
     .arity = -3,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Sets the expiration time of a key in seconds.",
     .since = "1.0.0",
     .args = kExpireArgs,
     .sync = cmd_expire<true, true>},
    {.name = "expireat",
     .arity = -3,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Sets the expiration time of a key to a Unix timestamp.",
     .since = "1.2.0",
     .args = kExpireatArgs,
     .sync = cmd_expire<false, true>},
    {.name = "expiretime",
     .arity = 2,
     .flags = kReadFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Returns the expiration time of a key as a Unix timestamp.",
     .since = "7.0.0",
     .args = kKeyArg,
     .sync = cmd_ttl<kTtlAbsolute>},
    {.name = "getex",
     .arity = -2,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@write @string @fast",
     .group = "string",
     .summary = "Returns the string value of a key after setting its expiration time.",
     .since = "6.2.0",
     .args = kGetexArgs,
     .sync = cmd_getex},
    {.name = "persist",
     .arity = 2,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Removes the expiration time of a key.",
     .since = "2.2.0",
     .args = kKeyArg,
     .sync = cmd_persist},
    {.name = "pexpire",
     .arity = -3,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Sets the expiration time of a key in milliseconds.",
     .since = "2.6.0",
     .args = kPexpireArgs,
     .sync = cmd_expire<true, false>},
    {.name = "pexpireat",
     .arity = -3,
     .flags = kWriteFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @write @fast",
     .group = "generic",
     .summary = "Sets the expiration time of a key to a Unix milliseconds timestamp.",
     .since = "2.6.0",
     .args = kPexpireatArgs,
     .sync = cmd_expire<false, false>},
    {.name = "pexpiretime",
     .arity = 2,
     .flags = kReadFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Returns the expiration time of a key as a Unix milliseconds timestamp.",
     .since = "7.0.0",
     .args = kKeyArg,
     .sync = cmd_ttl<kTtlAbsolute | kTtlMs>},
    {.name = "psetex",
     .arity = 4,
     .flags = kCmdWrite | kCmdDenyOom,
     .keys = kOneKey,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Sets both string value and expiration time in milliseconds of a key.",
     .since = "2.6.0",
     .args = kPsetexArgs,
     .sync = cmd_setex<ExpireUnit::kMs>},
    {.name = "pttl",
     .arity = 2,
     .flags = kReadFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Returns the expiration time in milliseconds of a key.",
     .since = "2.6.0",
     .args = kKeyArg,
     .sync = cmd_ttl<kTtlMs>},
    {.name = "setex",
     .arity = 4,
     .flags = kCmdWrite | kCmdDenyOom,
     .keys = kOneKey,
     .acl_categories = "@write @string @slow",
     .group = "string",
     .summary = "Sets the string value and expiration time of a key.",
     .since = "2.0.0",
     .args = kSetexArgs,
     .sync = cmd_setex<ExpireUnit::kSeconds>},
    {.name = "ttl",
     .arity = 2,
     .flags = kReadFast,
     .keys = kOneKey,
     .acl_categories = "@keyspace @read @fast",
     .group = "generic",
     .summary = "Returns the expiration time in seconds of a key.",
     .since = "1.0.0",
     .args = kKeyArg,
     .sync = cmd_ttl<0>},
};

}  // namespace

std::span<const CommandSpec> expiry_commands() { return kCommands; }

}  // namespace tessera::server
