#include "replies.hpp"

#include <tessera/client/errors.hpp>

#include <charconv>

namespace tessera::client {

ServerError::ServerError(std::string_view command, std::string message)
    : Error(Kind::kServer,
            "tessera::client: " + std::string(command) + ": server replied: " + message),
      message_(std::move(message)) {}

std::string_view ServerError::prefix() const noexcept {
  std::string_view m = message_;
  return m.substr(0, m.find(' '));
}

void throw_if_error(const Reply& reply, std::string_view command) {
  if (reply.type == Reply::Type::kError) throw ServerError(command, reply.str);
}

Pipeline& Pipeline::command_argv(std::span<const std::string_view> argv) {
  protocol::write_command(bytes_, argv);
  ++count_;
  return *this;
}

Pipeline& Pipeline::get(std::string_view key) {
  std::string_view argv[] = {"GET", key};
  return command_argv(argv);
}
Pipeline& Pipeline::set(std::string_view key, std::string_view value) {
  std::string_view argv[] = {"SET", key, value};
  return command_argv(argv);
}
Pipeline& Pipeline::del(std::string_view key) {
  std::string_view argv[] = {"DEL", key};
  return command_argv(argv);
}
Pipeline& Pipeline::exists(std::string_view key) {
  std::string_view argv[] = {"EXISTS", key};
  return command_argv(argv);
}
Pipeline& Pipeline::ping() {
  std::string_view argv[] = {"PING"};
  return command_argv(argv);
}

}  // namespace tessera::client

namespace tessera::client::detail {

void unexpected(const Reply& reply, std::string_view name, std::string_view wanted) {
  throw ProtocolError("tessera::client: " + std::string(name) + ": expected " +
                      std::string(wanted) + ", got " + std::string(type_name(reply.type)) +
                      " reply");
}

std::string_view type_name(Reply::Type type) {
  // In the order of Reply::Type's enumerators.
  static constexpr std::string_view kNames[] = {
      "simple string", "error",      "integer", "bulk string", "null bulk",
      "array",         "null array", "double",  "boolean",     "big number",
      "verbatim",      "map",        "set",     "push",        "attribute"};
  const auto i = static_cast<std::size_t>(type);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Reply checked(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  return std::move(reply);
}

std::optional<std::string> to_optional_string(Reply&& reply, std::string_view name) {
  switch (reply.type) {
    case Reply::Type::kBulk:
      return std::move(reply.str);
    case Reply::Type::kNull:
      return std::nullopt;
    case Reply::Type::kError:
      throw ServerError(name, std::move(reply.str));
    default:
      unexpected(reply, name, "a bulk string or null");
  }
}

void expect_ok(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type != Reply::Type::kSimple) unexpected(reply, name, "+OK");
}

std::int64_t to_integer(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type != Reply::Type::kInteger) unexpected(reply, name, "an integer");
  return reply.integer;
}

std::string to_status(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type != Reply::Type::kSimple && reply.type != Reply::Type::kBulk) {
    unexpected(reply, name, "a status reply");
  }
  return std::move(reply.str);
}

std::vector<std::optional<std::string>> to_optional_strings(Reply&& reply, std::string_view name) {
  if (reply.type == Reply::Type::kError) throw ServerError(name, std::move(reply.str));
  if (reply.type != Reply::Type::kArray) unexpected(reply, name, "an array");
  std::vector<std::optional<std::string>> out;
  out.reserve(reply.elements.size());
  for (auto& e : reply.elements) {
    if (e.type == Reply::Type::kBulk) {
      out.emplace_back(std::move(e.str));
    } else if (e.type == Reply::Type::kNull) {
      out.emplace_back(std::nullopt);
    } else {
      unexpected(e, name, "bulk strings or nulls in the array");
    }
  }
  return out;
}

ScanPage to_scan_page(Reply&& reply) {
  if (reply.type == Reply::Type::kError) throw ServerError("SCAN", std::move(reply.str));
  if (reply.type != Reply::Type::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != Reply::Type::kBulk ||
      reply.elements[1].type != Reply::Type::kArray) {
    throw ProtocolError(
        "tessera::client: SCAN: expected a [cursor bulk string, array of keys] reply, got " +
        std::string(type_name(reply.type)) + " reply");
  }
  ScanPage page;
  const std::string& c = reply.elements[0].str;
  auto res = std::from_chars(c.data(), c.data() + c.size(), page.cursor);
  if (res.ec != std::errc() || res.ptr != c.data() + c.size()) {
    throw ProtocolError("tessera::client: SCAN: invalid cursor \"" + c + "\" in the reply");
  }
  page.keys.reserve(reply.elements[1].elements.size());
  for (auto& k : reply.elements[1].elements) {
    if (k.type != Reply::Type::kBulk) unexpected(k, "SCAN", "bulk string keys");
    page.keys.push_back(std::move(k.str));
  }
  return page;
}

std::string encode_scan(std::uint64_t cursor, std::string_view match, std::size_t count) {
  std::string c = std::to_string(cursor);
  std::string n = std::to_string(count);
  std::vector<std::string_view> argv{"SCAN", c};
  if (!match.empty()) {
    argv.push_back("MATCH");
    argv.push_back(match);
  }
  if (count > 0) {
    argv.push_back("COUNT");
    argv.push_back(n);
  }
  std::string out;
  protocol::write_command(out, argv);
  return out;
}

}  // namespace tessera::client::detail
