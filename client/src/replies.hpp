// Turning replies into the typed results of Client and AsyncClient (private to the library; the
// conversions the typed calls use are declared in typed.hpp). Each function throws ServerError for
// an error reply and ProtocolError for a reply of a type the command cannot return.
#pragma once

#include <tessera/client/command.hpp>
#include <tessera/client/typed.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::client::detail {

std::string_view type_name(Reply::Type type);
[[noreturn]] void unexpected(const Reply& reply, std::string_view name, std::string_view wanted);
ScanPage to_scan_page(Reply&& reply);

std::string encode_scan(std::uint64_t cursor, std::string_view match, std::size_t count);

}  // namespace tessera::client::detail
