// Expiry times as SET, SETEX, PSETEX and GETEX take them (t_string.c getExpireMillisecondsOrReply),
// shared by the string and expiry families.
#pragma once

#include <climits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/session/session.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

enum class ExpireUnit : std::uint8_t { kSeconds, kMs };

// "ERR invalid expire time in 'set' command": the command's name as the table spells it.
inline std::string invalid_expire_time(std::string_view command) {
  return "ERR invalid expire time in '" + protocol::to_lower(command) + "' command";
}

// The absolute deadline (ms) for `text` in `unit`, relative to `now_ms` or absolute. A time must be
// a positive integer whose deadline fits in int64; otherwise nullopt and `error` holds Redis's text
// for `command`.
inline std::optional<std::int64_t> checked_deadline(std::string_view text, ExpireUnit unit,
                                                    bool relative, std::int64_t now_ms,
                                                    std::string_view command, std::string& error) {
  std::int64_t ms = 0;
  if (!protocol::parse_int64(text, ms)) {
    error = "ERR value is not an integer or out of range";
    return std::nullopt;
  }
  if (ms <= 0 || (unit == ExpireUnit::kSeconds && ms > LLONG_MAX / 1000)) {
    error = invalid_expire_time(command);
    return std::nullopt;
  }
  if (unit == ExpireUnit::kSeconds) ms *= 1000;
  if (relative) {
    if (ms > LLONG_MAX - now_ms) {  // Redis's sum wraps negative and is refused the same way
      error = invalid_expire_time(command);
      return std::nullopt;
    }
    ms += now_ms;
  }
  return ms;
}

// checked_deadline against the server's clock, replying the error itself.
inline std::optional<std::int64_t> expire_deadline(Session& s, std::string_view command,
                                                   std::string_view text, ExpireUnit unit,
                                                   bool relative) {
  std::string error;
  auto at =
      checked_deadline(text, unit, relative, s.shards().settings().clock->now_ms(), command, error);
  if (!at) s.reply().error(error);
  return at;
}

}  // namespace tessera::server
