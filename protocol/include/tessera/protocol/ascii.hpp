// ASCII case folding for command names, options and protocol keywords. Redis compares these with
// strcasecmp in the C locale, so only 'A'-'Z' / 'a'-'z' fold; bytes >= 0x80 never do (std::tolower
// would consult the locale). One definition for the protocol, server and client layers.
#pragma once

#include <string>
#include <string_view>

namespace tessera::protocol {

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - ('a' - 'A')) : c;
}

// Case-insensitive equality (ASCII letters only).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline std::string to_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_lower(c);
  return r;
}

inline std::string to_upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_upper(c);
  return r;
}

}  // namespace tessera::protocol
