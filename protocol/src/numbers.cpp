// Ports of Redis 7.0's util.c number functions (string2ll, string2ld, ld2string) and of
// addReplyDouble's formatting. See numbers.hpp for what each accepts and writes.
#include "tessera/protocol/numbers.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

namespace {

// MAX_LONG_DOUBLE_CHARS: string2ld copies its input into a buffer of this size (so a longer
// string is refused), and ld2string formats into one.
constexpr std::size_t kMaxLongDoubleChars = 5 * 1024;

}  // namespace

bool parse_long_double(std::string_view s, long double& value) noexcept {
  if (s.empty() || s.size() >= kMaxLongDoubleChars) return false;
  char buf[kMaxLongDoubleChars];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  // isspace() in the C locale: strtold would skip these, string2ld refuses them.
  const char first = buf[0];
  if (first == ' ' || (first >= '\t' && first <= '\r')) return false;
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(buf, &end);
  // A NUL byte inside `s` ends strtold's string early, which the length check catches.
  if (static_cast<std::size_t>(end - buf) != s.size()) return false;
  if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0.0L)) return false;
  if (errno == EINVAL || std::isnan(v)) return false;
  value = v;
  return true;
}

std::string format_long_double(long double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // "%.17Lf" of the largest finite long double has about 4950 characters: it always fits.
  char buf[kMaxLongDoubleChars];
  const int n = std::snprintf(buf, sizeof buf, "%.17Lf", value);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return "nan";  // NaN never reaches here
  std::size_t len = static_cast<std::size_t>(n);
  if (std::memchr(buf, '.', len) != nullptr) {
    while (buf[len - 1] == '0') --len;
    if (buf[len - 1] == '.') --len;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, len);
}

std::size_t format_double(double value, char (&buf)[kMaxDoubleChars]) noexcept {
  // Spelled out rather than left to the C library: Redis writes these itself (addReplyDouble's
  // isinf branch), and glibc's "%.17g" of NaN ("nan", "-nan" with the sign bit set) is what Redis
  // 7.0 sends for NaN, so that is written the same way on every C library.
  const char* special = nullptr;
  if (std::isinf(value)) special = value > 0 ? "inf" : "-inf";
  if (std::isnan(value)) special = std::signbit(value) ? "-nan" : "nan";
  if (special != nullptr) {
    const std::size_t len = std::strlen(special);
    std::memcpy(buf, special, len);
    return len;
  }
  // At most 24 characters: "-1.2345678901234567e-308".
  const int n = std::snprintf(buf, kMaxDoubleChars, "%.17g", value);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::string format_double(double value) {
  char buf[kMaxDoubleChars];
  return std::string(buf, format_double(value, buf));
}

}  // namespace tessera::protocol
