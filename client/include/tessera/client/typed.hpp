// The typed calls of the client: one list of commands, three faces.
//
// Design: every typed call is written once, in Commands<Self, Result> below, as a Call<T>: the
// command's bytes (encoded right away, so arguments need not outlive the call), its name for error
// messages, and the function that turns its reply into T. Each face runs a Call<T> its own way:
//   Client        runs it now and returns T                       (Commands<Client, Now>)
//   AsyncClient   returns an awaitable<T> that runs it            (Commands<AsyncClient,
//   Awaitable>) Transaction   queues it and returns a Queued<T> handle, filled by EXEC
//   (transaction.hpp)
// so a call is spelled, encoded and typed the same whichever face it goes through.
//
// Results are typed as a Redis client library's users expect: std::optional<std::string> where the
// reply may be nil, std::int64_t for counts and counters, double for INCRBYFLOAT, bool for the
// commands that answer 1/0 (or OK/nil) for "done or not", and std::chrono types for times: TTL and
// friends return an Expiry<T>, which says "no such key" (-2) and "no expiry" (-1) as states, never
// as magic numbers.
#pragma once

#include <tessera/client/command.hpp>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::client {

namespace chrono = std::chrono;

// A point in Unix time, as EXPIREAT/EXAT (seconds) and PEXPIREAT/PXAT (milliseconds) take it.
using UnixSeconds = chrono::sys_seconds;
using UnixMilliseconds = chrono::sys_time<chrono::milliseconds>;

// SET's options. At most one of ex/px/exat/pxat/keepttl and of nx/xx make sense together; the
// server judges (a conflicting pair gets its "ERR syntax error", as from any client).
struct SetOptions {
  std::optional<chrono::seconds> ex{};       // EX: expire after this long
  std::optional<chrono::milliseconds> px{};  // PX
  std::optional<UnixSeconds> exat{};         // EXAT: expire at this Unix time
  std::optional<UnixMilliseconds> pxat{};    // PXAT
  bool keepttl = false;                      // KEEPTTL: keep the key's current expiry
  bool nx = false;                           // NX: only if the key does not exist
  bool xx = false;                           // XX: only if it exists
};

// GETEX's options (none: a plain GET that leaves the expiry alone).
struct GetExOptions {
  std::optional<chrono::seconds> ex{};
  std::optional<chrono::milliseconds> px{};
  std::optional<UnixSeconds> exat{};
  std::optional<UnixMilliseconds> pxat{};
  bool persist = false;  // PERSIST: remove the expiry
};

// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT's condition (Redis 7).
enum class ExpireCondition {
  kAlways,
  kNx,  // NX: only when the key has no expiry
  kXx,  // XX: only when it has one
  kGt,  // GT: only when the new expiry is later (no expiry counts as infinitely late)
  kLt,  // LT: only when it is sooner
};

// What TTL, PTTL, EXPIRETIME and PEXPIRETIME say about a key: it does not exist (-2), it has no
// expiry (-1), or it expires (after / at value()). T is chrono::seconds or chrono::milliseconds
// for TTL/PTTL, UnixSeconds or UnixMilliseconds for EXPIRETIME/PEXPIRETIME.
template <class T>
class Expiry {
 public:
  enum class State { kNoKey, kNoExpiry, kExpires };

  static Expiry no_key() { return Expiry(State::kNoKey, T{}); }
  static Expiry no_expiry() { return Expiry(State::kNoExpiry, T{}); }
  static Expiry expires(T value) { return Expiry(State::kExpires, value); }

  State state() const noexcept { return state_; }
  bool key_exists() const noexcept { return state_ != State::kNoKey; }
  bool has_expiry() const noexcept { return state_ == State::kExpires; }
  explicit operator bool() const noexcept { return has_expiry(); }
  // The time left (TTL, PTTL) or the deadline (EXPIRETIME, PEXPIRETIME). Throws
  // std::logic_error when there is none (check has_expiry()).
  T value() const {
    if (state_ != State::kExpires) {
      throw std::logic_error(state_ == State::kNoKey ? "tessera::client: Expiry: no such key"
                                                     : "tessera::client: Expiry: the key has no "
                                                       "expiry");
    }
    return value_;
  }
  T value_or(T fallback) const noexcept { return has_expiry() ? value_ : fallback; }
  friend bool operator==(const Expiry&, const Expiry&) = default;

 private:
  Expiry(State state, T value) : state_(state), value_(value) {}
  State state_;
  T value_;
};

using Ttl = Expiry<chrono::seconds>;           // TTL
using PTtl = Expiry<chrono::milliseconds>;     // PTTL
using ExpireTime = Expiry<UnixSeconds>;        // EXPIRETIME
using PExpireTime = Expiry<UnixMilliseconds>;  // PEXPIRETIME

// One typed call: the encoded command, its name (for error messages) and its reply's conversion.
template <class T>
struct Call {
  std::string encoded;
  std::string name;
  T (*convert)(Reply&&, std::string_view name);
};

namespace detail {

// Reply conversions (replies.cpp, typed.cpp). Each throws ServerError for an error reply and
// ProtocolError for a reply of a type the command cannot return.
Reply checked(Reply&& reply, std::string_view name);
std::optional<std::string> to_optional_string(Reply&& reply, std::string_view name);
std::string to_string(Reply&& reply, std::string_view name);  // a bulk string, never nil
void expect_ok(Reply&& reply, std::string_view name);
std::int64_t to_integer(Reply&& reply, std::string_view name);
bool to_bool(Reply&& reply, std::string_view name);      // :1 / :0
bool ok_or_nil(Reply&& reply, std::string_view name);    // +OK: true, nil: false (SET NX/XX)
double to_double(Reply&& reply, std::string_view name);  // a bulk string or RESP3 double
std::string to_status(Reply&& reply, std::string_view name);
std::vector<std::optional<std::string>> to_optional_strings(Reply&& reply, std::string_view name);

template <class T>
Expiry<T> to_expiry(Reply&& reply, std::string_view name) {
  const std::int64_t n = to_integer(std::move(reply), name);
  if (n == -2) return Expiry<T>::no_key();
  if (n == -1) return Expiry<T>::no_expiry();
  if constexpr (requires { typename T::clock; }) {
    return Expiry<T>::expires(T(typename T::duration(n)));
  } else {
    return Expiry<T>::expires(T(n));
  }
}

std::string encode_set(std::string_view key, std::string_view value, const SetOptions& options,
                       bool get);
std::string encode_getex(std::string_view key, const GetExOptions& options);
std::string encode_expire(std::string_view command, std::string_view key, std::int64_t when,
                          ExpireCondition condition);
std::string encode_incrbyfloat(std::string_view key, double increment);
std::string encode_pairs(std::string_view command,
                         std::span<const std::pair<std::string_view, std::string_view>> pairs);

template <class T, class... Args>
Call<T> make_call(T (*convert)(Reply&&, std::string_view), std::string_view name,
                  const Args&... args) {
  return Call<T>{encode(name, args...), std::string(name), convert};
}

}  // namespace detail

// The faces' result types: Client returns T, AsyncClient awaitable<T> (async_client.hpp).
template <class T>
using Now = T;

using KeyValuePairs = std::span<const std::pair<std::string_view, std::string_view>>;

// The typed calls, once for every face. Self provides `Result<T> run(Call<T>)`.
template <class Self, template <class> class Result>
class Commands {
 public:
  // ---- strings ----
  // GET: the value, or nullopt when the key does not exist.
  Result<std::optional<std::string>> get(std::string_view key) {
    return run(detail::make_call(&detail::to_optional_string, "GET", key));
  }
  // SET key value (with no options: always written).
  Result<void> set(std::string_view key, std::string_view value) {
    return run(detail::make_call(&detail::expect_ok, "SET", key, value));
  }
  Result<void> put(std::string_view key, std::string_view value) { return set(key, value); }
  // SET with options: true when written, false when NX/XX kept it from being written.
  Result<bool> set(std::string_view key, std::string_view value, const SetOptions& options) {
    return run(
        Call<bool>{detail::encode_set(key, value, options, false), "SET", &detail::ok_or_nil});
  }
  // SET ... GET: the value the key had before (nullopt: it had none), whether or not NX/XX let
  // this SET write.
  Result<std::optional<std::string>> set_get(std::string_view key, std::string_view value,
                                             const SetOptions& options = {}) {
    return run(Call<std::optional<std::string>>{detail::encode_set(key, value, options, true),
                                                "SET", &detail::to_optional_string});
  }
  // SETNX: true when the key was set (it did not exist).
  Result<bool> setnx(std::string_view key, std::string_view value) {
    return run(detail::make_call(&detail::to_bool, "SETNX", key, value));
  }
  Result<std::optional<std::string>> getset(std::string_view key, std::string_view value) {
    return run(detail::make_call(&detail::to_optional_string, "GETSET", key, value));
  }
  Result<std::optional<std::string>> getdel(std::string_view key) {
    return run(detail::make_call(&detail::to_optional_string, "GETDEL", key));
  }
  // APPEND: the length of the value after the append.
  Result<std::int64_t> append(std::string_view key, std::string_view value) {
    return run(detail::make_call(&detail::to_integer, "APPEND", key, value));
  }
  // GETRANGE key start end (inclusive; negative counts from the end): "" for a missing key.
  Result<std::string> getrange(std::string_view key, std::int64_t start, std::int64_t end) {
    return run(detail::make_call(&detail::to_string, "GETRANGE", key, start, end));
  }
  // SETRANGE: the length of the value after the write.
  Result<std::int64_t> setrange(std::string_view key, std::int64_t offset, std::string_view value) {
    return run(detail::make_call(&detail::to_integer, "SETRANGE", key, offset, value));
  }
  Result<std::int64_t> strlen(std::string_view key) {
    return run(detail::make_call(&detail::to_integer, "STRLEN", key));
  }
  // MGET: one optional per key, in order.
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >=
           1) Result<std::vector<std::optional<std::string>>> mget(const Keys&... keys) {
    return run(detail::make_call(&detail::to_optional_strings, "MGET", keys...));
  }
  // MSET from (key, value) pairs.
  Result<void> mset(KeyValuePairs pairs) {
    return run(Call<void>{detail::encode_pairs("MSET", pairs), "MSET", &detail::expect_ok});
  }
  Result<void> mset(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    return mset(KeyValuePairs(pairs.begin(), pairs.size()));
  }
  // MSETNX: true when every key was set (none existed), false when none was.
  Result<bool> msetnx(KeyValuePairs pairs) {
    return run(Call<bool>{detail::encode_pairs("MSETNX", pairs), "MSETNX", &detail::to_bool});
  }
  Result<bool> msetnx(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    return msetnx(KeyValuePairs(pairs.begin(), pairs.size()));
  }

  // ---- counters ----
  Result<std::int64_t> incr(std::string_view key) {
    return run(detail::make_call(&detail::to_integer, "INCR", key));
  }
  Result<std::int64_t> decr(std::string_view key) {
    return run(detail::make_call(&detail::to_integer, "DECR", key));
  }
  Result<std::int64_t> incrby(std::string_view key, std::int64_t increment) {
    return run(detail::make_call(&detail::to_integer, "INCRBY", key, increment));
  }
  Result<std::int64_t> decrby(std::string_view key, std::int64_t decrement) {
    return run(detail::make_call(&detail::to_integer, "DECRBY", key, decrement));
  }
  // INCRBYFLOAT: the new value. The increment is sent in its shortest exact decimal form.
  Result<double> incrbyfloat(std::string_view key, double increment) {
    return run(Call<double>{detail::encode_incrbyfloat(key, increment), "INCRBYFLOAT",
                            &detail::to_double});
  }

  // ---- expiry ----
  // SETEX / PSETEX: set the value with an expiry.
  Result<void> setex(std::string_view key, chrono::seconds ttl, std::string_view value) {
    return run(detail::make_call(&detail::expect_ok, "SETEX", key, ttl.count(), value));
  }
  Result<void> psetex(std::string_view key, chrono::milliseconds ttl, std::string_view value) {
    return run(detail::make_call(&detail::expect_ok, "PSETEX", key, ttl.count(), value));
  }
  // GETEX: the value (nullopt when missing), changing the expiry as the options say.
  Result<std::optional<std::string>> getex(std::string_view key, const GetExOptions& options = {}) {
    return run(Call<std::optional<std::string>>{detail::encode_getex(key, options), "GETEX",
                                                &detail::to_optional_string});
  }
  // EXPIRE & co: true when the expiry was set, false when the key does not exist or the condition
  // was not met. A time not in the future deletes the key (and returns true), as in Redis.
  Result<bool> expire(std::string_view key, chrono::seconds ttl,
                      ExpireCondition condition = ExpireCondition::kAlways) {
    return run(Call<bool>{detail::encode_expire("EXPIRE", key, ttl.count(), condition), "EXPIRE",
                          &detail::to_bool});
  }
  Result<bool> pexpire(std::string_view key, chrono::milliseconds ttl,
                       ExpireCondition condition = ExpireCondition::kAlways) {
    return run(Call<bool>{detail::encode_expire("PEXPIRE", key, ttl.count(), condition), "PEXPIRE",
                          &detail::to_bool});
  }
  Result<bool> expireat(std::string_view key, UnixSeconds when,
                        ExpireCondition condition = ExpireCondition::kAlways) {
    return run(Call<bool>{
        detail::encode_expire("EXPIREAT", key, when.time_since_epoch().count(), condition),
        "EXPIREAT", &detail::to_bool});
  }
  Result<bool> pexpireat(std::string_view key, UnixMilliseconds when,
                         ExpireCondition condition = ExpireCondition::kAlways) {
    return run(Call<bool>{
        detail::encode_expire("PEXPIREAT", key, when.time_since_epoch().count(), condition),
        "PEXPIREAT", &detail::to_bool});
  }
  Result<Ttl> ttl(std::string_view key) {
    return run(detail::make_call(&detail::to_expiry<chrono::seconds>, "TTL", key));
  }
  Result<PTtl> pttl(std::string_view key) {
    return run(detail::make_call(&detail::to_expiry<chrono::milliseconds>, "PTTL", key));
  }
  Result<ExpireTime> expiretime(std::string_view key) {
    return run(detail::make_call(&detail::to_expiry<UnixSeconds>, "EXPIRETIME", key));
  }
  Result<PExpireTime> pexpiretime(std::string_view key) {
    return run(detail::make_call(&detail::to_expiry<UnixMilliseconds>, "PEXPIRETIME", key));
  }
  // PERSIST: true when an expiry was removed.
  Result<bool> persist(std::string_view key) {
    return run(detail::make_call(&detail::to_bool, "PERSIST", key));
  }

  // ---- keyspace ----
  // DEL / UNLINK / EXISTS / TOUCH: keys as separate arguments, or ranges of keys; the server's
  // count (EXISTS counts a key given twice twice, as Redis does).
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) Result<std::int64_t> del(const Keys&... keys) {
    return run(detail::make_call(&detail::to_integer, "DEL", keys...));
  }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) Result<std::int64_t> unlink(const Keys&... keys) {
    return run(detail::make_call(&detail::to_integer, "UNLINK", keys...));
  }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) Result<std::int64_t> exists(const Keys&... keys) {
    return run(detail::make_call(&detail::to_integer, "EXISTS", keys...));
  }
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) Result<std::int64_t> touch(const Keys&... keys) {
    return run(detail::make_call(&detail::to_integer, "TOUCH", keys...));
  }
  // RENAME: throws ServerError ("ERR no such key") when the source does not exist.
  Result<void> rename(std::string_view source, std::string_view destination) {
    return run(detail::make_call(&detail::expect_ok, "RENAME", source, destination));
  }
  // RENAMENX: true when renamed, false when the destination exists.
  Result<bool> renamenx(std::string_view source, std::string_view destination) {
    return run(detail::make_call(&detail::to_bool, "RENAMENX", source, destination));
  }
  // COPY [REPLACE]: true when copied.
  Result<bool> copy(std::string_view source, std::string_view destination, bool replace = false) {
    return replace ? run(detail::make_call(&detail::to_bool, "COPY", source, destination,
                                           std::string_view("REPLACE")))
                   : run(detail::make_call(&detail::to_bool, "COPY", source, destination));
  }
  // RANDOMKEY: nullopt when the keyspace is empty.
  Result<std::optional<std::string>> randomkey() {
    return run(detail::make_call(&detail::to_optional_string, "RANDOMKEY"));
  }
  // TYPE: "string", "none" for a missing key ("list", "hash"... on Redis).
  Result<std::string> type(std::string_view key) {
    return run(detail::make_call(&detail::to_status, "TYPE", key));
  }
  Result<std::int64_t> dbsize() { return run(detail::make_call(&detail::to_integer, "DBSIZE")); }
  // PING: the server's status reply ("PONG").
  Result<std::string> ping() { return run(detail::make_call(&detail::to_status, "PING")); }

  // Any command; the reply as a value of any RESP2 or RESP3 type. A top-level error reply throws
  // ServerError; error replies nested in an aggregate stay values.
  template <CommandArg... Args>
  requires(sizeof...(Args) >= 1) Result<Reply> command(const Args&... args) {
    detail::ArgvBuilder b;
    (b.add(args), ...);
    return command_argv(b.argv());
  }
  Result<Reply> command_argv(std::span<const std::string_view> argv) {
    std::string encoded;
    protocol::write_command(encoded, argv);
    std::string name(argv.empty() ? std::string_view() : argv.front());
    return run(Call<Reply>{std::move(encoded), std::move(name), &detail::checked});
  }

 private:
  template <class T>
  Result<T> run(Call<T> call) {
    return static_cast<Self&>(*this).run(std::move(call));
  }
};

}  // namespace tessera::client
