// The typed calls' encodings (options in Redis's argument order) and their reply conversions.
#include <tessera/client/typed.hpp>

#include <tessera/client/errors.hpp>

#include "replies.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <system_error>

namespace tessera::client::detail {

std::string to_string(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type != Reply::Type::kBulk) unexpected(reply, name, "a bulk string");
  return std::move(reply.str);
}

bool to_bool(Reply&& reply, std::string_view name) {
  const std::int64_t n = to_integer(std::move(reply), name);
  if (n != 0 && n != 1) {
    throw ProtocolError("tessera::client: " + std::string(name) + ": expected 0 or 1, got " +
                        std::to_string(n));
  }
  return n == 1;
}

bool ok_or_nil(Reply&& reply, std::string_view name) {
  switch (reply.type) {
    case Reply::Type::kSimple:
      return true;
    case Reply::Type::kNull:
      return false;
    case Reply::Type::kError:
      throw ServerError(name, std::move(reply.str));
    default:
      unexpected(reply, name, "+OK or null");
  }
}

double to_double(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type == Reply::Type::kDouble) return reply.number;
  if (reply.type != Reply::Type::kBulk) unexpected(reply, name, "a number as a bulk string");
  const std::string& s = reply.str;
  double value = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), value);
  // Out of range: Redis's long double result beyond a double's range (from_chars leaves `value`).
  if (res.ptr != s.data() + s.size() || s.empty() ||
      (res.ec != std::errc() && res.ec != std::errc::result_out_of_range)) {
    throw ProtocolError("tessera::client: " + std::string(name) + ": not a number: \"" + s + "\"");
  }
  // Beyond a double's range (Redis computes in long double): strtod's infinity or zero.
  if (res.ec == std::errc::result_out_of_range) value = std::strtod(s.c_str(), nullptr);
  return value;
}

namespace {

void add_expiry(ArgvBuilder& b, const std::optional<chrono::seconds>& ex,
                const std::optional<chrono::milliseconds>& px,
                const std::optional<UnixSeconds>& exat,
                const std::optional<UnixMilliseconds>& pxat) {
  if (ex) {
    b.add(std::string_view("EX"));
    b.add(ex->count());
  }
  if (px) {
    b.add(std::string_view("PX"));
    b.add(px->count());
  }
  if (exat) {
    b.add(std::string_view("EXAT"));
    b.add(exat->time_since_epoch().count());
  }
  if (pxat) {
    b.add(std::string_view("PXAT"));
    b.add(pxat->time_since_epoch().count());
  }
}

std::string encoded(const ArgvBuilder& b) {
  std::string out;
  protocol::write_command(out, b.argv());
  return out;
}

}  // namespace

std::string encode_set(std::string_view key, std::string_view value, const SetOptions& options,
                       bool get) {
  ArgvBuilder b;
  b.add(std::string_view("SET"));
  b.add(key);
  b.add(value);
  if (options.nx) b.add(std::string_view("NX"));
  if (options.xx) b.add(std::string_view("XX"));
  if (get) b.add(std::string_view("GET"));
  add_expiry(b, options.ex, options.px, options.exat, options.pxat);
  if (options.keepttl) b.add(std::string_view("KEEPTTL"));
  return encoded(b);
}

std::string encode_getex(std::string_view key, const GetExOptions& options) {
  ArgvBuilder b;
  b.add(std::string_view("GETEX"));
  b.add(key);
  add_expiry(b, options.ex, options.px, options.exat, options.pxat);
  if (options.persist) b.add(std::string_view("PERSIST"));
  return encoded(b);
}

std::string encode_expire(std::string_view command, std::string_view key, std::int64_t when,
                          ExpireCondition condition) {
  ArgvBuilder b;
  b.add(command);
  b.add(key);
  b.add(when);
  switch (condition) {
    case ExpireCondition::kAlways:
      break;
    case ExpireCondition::kNx:
      b.add(std::string_view("NX"));
      break;
    case ExpireCondition::kXx:
      b.add(std::string_view("XX"));
      break;
    case ExpireCondition::kGt:
      b.add(std::string_view("GT"));
      break;
    case ExpireCondition::kLt:
      b.add(std::string_view("LT"));
      break;
  }
  return encoded(b);
}

std::string encode_incrbyfloat(std::string_view key, double increment) {
  // The shortest decimal that reads back as `increment` ("0.1", not 0.1000000000000000055...):
  // Redis adds it in long double, where extra digits would show in the result.
  std::array<char, 64> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), increment);
  ArgvBuilder b;
  b.add(std::string_view("INCRBYFLOAT"));
  b.add(key);
  b.add(std::string_view(buf.data(), static_cast<std::size_t>(res.ptr - buf.data())));
  return encoded(b);
}

std::string encode_pairs(std::string_view command,
                         std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<std::string_view> argv;
  argv.reserve(1 + 2 * pairs.size());
  argv.push_back(command);
  for (const auto& pair : pairs) {
    argv.push_back(pair.first);
    argv.push_back(pair.second);
  }
  std::string out;
  protocol::write_command(out, argv);
  return out;
}

}  // namespace tessera::client::detail
