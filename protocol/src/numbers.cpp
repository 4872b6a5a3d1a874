// A port of Redis 7.0's string2ll (util.c): the grammar of every length in the protocol and of
// integer arguments. Kept byte-for-byte compatible because clients see its verdicts as errors.
#include "tessera/protocol/numbers.hpp"

#include <cstddef>
#include <limits>

namespace tessera::protocol {

bool parse_int64(std::string_view s, std::int64_t& value) noexcept {
  // LONG_STR_SIZE is 21: a string of 21 or more characters is never a valid long long.
  constexpr std::size_t kLongStrSize = 21;
  const std::size_t n = s.size();
  if (n == 0 || n >= kLongStrSize) return false;
  if (n == 1 && s[0] == '0') {
    value = 0;
    return true;
  }
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == n) return false;
  }
  if (s[i] < '1' || s[i] > '9') return false;
  std::uint64_t v = static_cast<std::uint64_t>(s[i++] - '0');
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  for (; i < n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > kMax / 10) return false;
    v *= 10;
    if (v > kMax - d) return false;
    v += d;
  }
  if (negative) {
    // |INT64_MIN| = INT64_MAX + 1.
    constexpr auto kMinMagnitude =
        static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
    if (v > kMinMagnitude) return false;
    value = static_cast<std::int64_t>(0 - v);
  } else {
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    value = static_cast<std::int64_t>(v);
  }
  return true;
}

}  // namespace tessera::protocol
