// Turning replies into the typed results of Client and AsyncClient (private to the library).
// Each function throws ServerError for an error reply and ProtocolError for a reply of a type the
// command cannot return.
#pragma once

#include <tessera/client/command.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::client::detail {

std::string_view type_name(Reply::Type type);
Reply checked(Reply&& reply, std::string_view name);
std::optional<std::string> to_optional_string(Reply&& reply, std::string_view name);
void expect_ok(Reply&& reply, std::string_view name);
std::int64_t to_integer(Reply&& reply, std::string_view name);
std::string to_status(Reply&& reply, std::string_view name);
std::vector<std::optional<std::string>> to_optional_strings(Reply&& reply, std::string_view name);
ScanPage to_scan_page(Reply&& reply);

std::string encode_scan(std::uint64_t cursor, std::string_view match, std::size_t count);
std::string encode_mset(std::span<const std::pair<std::string_view, std::string_view>> pairs);

}  // namespace tessera::client::detail
