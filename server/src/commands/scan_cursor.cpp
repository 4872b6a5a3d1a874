// SCAN cursor parsing with strtoul's exact acceptance rules (see scan_cursor.hpp).
#include <tessera/server/commands/scan_cursor.hpp>

#include <limits>

namespace tessera::server {

std::optional<std::uint64_t> parse_scan_cursor(std::string_view text) {
  // Redis hands strtoul the C string: it ends at the first NUL.
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  if (text.empty()) return 0;  // no conversion, but *eptr == '\0': cursor 0
  auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  if (is_space(text[0])) return std::nullopt;  // Redis rejects leading space explicitly
  std::size_t i = 0;
  bool negative = false;
  if (text[i] == '+' || text[i] == '-') {
    negative = text[i] == '-';
    ++i;
  }
  if (i == text.size() || text[i] < '0' || text[i] > '9') {
    return std::nullopt;  // no conversion: eptr is the start, which is not '\0'
  }
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t v = 0;
  bool overflow = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (kMax - d) / 10) {
      overflow = true;
    } else {
      v = v * 10 + d;
    }
  }
  if (i != text.size() || overflow) return std::nullopt;  // trailing junk, ERANGE
  return negative ? (0 - v) : v;                          // strtoul negates in unsigned
}

}  // namespace tessera::server
