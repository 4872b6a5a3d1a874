// numbers.hpp: Redis 7.0's string2ll, string2ld, ld2string (LD_STR_HUMAN) and addReplyDouble's
// text, checked against what Debian's redis-server 7.0.15 replies.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/protocol/numbers.hpp"

using tessera::protocol::format_double;
using tessera::protocol::format_long_double;
using tessera::protocol::parse_int64;
using tessera::protocol::parse_long_double;

TEST_CASE("parse_int64: accepts what string2ll accepts") {
  const std::pair<std::string_view, std::int64_t> good[] = {
      {"0", 0},
      {"1", 1},
      {"-1", -1},
      {"42", 42},
      {"536870912", 536870912},
      {"9223372036854775807", INT64_MAX},
      {"-9223372036854775808", INT64_MIN},
  };
  for (const auto& entry : good) {
    const std::string_view text = entry.first;
    CAPTURE(text);
    std::int64_t v = 7;
    CHECK(parse_int64(text, v));
    CHECK(v == entry.second);
  }
}

TEST_CASE("parse_int64: rejects everything else and leaves the value alone") {
  const std::string_view bad[] = {"",
                                  "-",
                                  "+1",
                                  " 1",
                                  "1 ",
                                  "01",
                                  "-0",
                                  "00",
                                  "1x",
                                  "x1",
                                  "9223372036854775808",
                                  "-9223372036854775809",
                                  "18446744073709551616",
                                  "99999999999999999999",
                                  "000000000000000000001",
                                  "1.0",
                                  "1e3",
                                  std::string_view("1\0", 2)};
  for (const std::string_view text : bad) {
    CAPTURE(text);
    std::int64_t v = 7;
    CHECK_FALSE(parse_int64(text, v));
    CHECK(v == 7);
  }
}

// Every expected text below is what Debian's redis-server 7.0.15 replied (raw RESP over a socket):
// SET k <start>, INCRBYFLOAT k <incr> -> the bulk shown. The test repeats Redis's computation
// (string2ld both, add in long double, ld2string LD_STR_HUMAN).
TEST_CASE("format_long_double: INCRBYFLOAT's results, as Redis 7.0.15 writes them") {
  struct Case {
    std::string_view start, incr, result;
  };
  const std::string max_double_plus_21 =
      "17976931348623156999592104677410443404838644694432917848531442076517662852312439635470186"
      "86083870855644287934194255206893087083634511360553578972780264776170734989776862883948356"
      "18163294045594434929537447290627480669417384648879122776218333598953852832103282504751611"
      "691208117720159985926376802466863339536384";
  const std::string ten_to_400 =
      "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363"
      "99484832416052209405392731761620029582277725925573402382897659334066101779744743454617391"
      "78624481166749717237789438243915933380474706750262466844013592375136038303437354855052449"
      "55964979021825038280091068414947402456898653040951017512658092615827588920183472511643316"
      "591362664138176309734806343732497430221946880";
  const Case cases[] = {
      {"10.5", "0.1", "10.6"},
      {"10.6", "1e20", "100000000000000000008"},
      {"0", "1.0e-300", "0"},
      {"3", "-3", "0"},
      {"0", "-0.0", "0"},  // "-0" becomes "0"
      {"5", "0x10", "21"},
      {"5", "1.7976931348623157e308", max_double_plus_21},
      {"1e400", "0", ten_to_400},
      {"1.1", "2.2", "3.3"},
      {"3.3", "3.0e3", "3003.30000000000000004"},
      {"0.1", "0.2", "0.3"},
      {"-1.5", "0.5", "-1"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.start);
    CAPTURE(c.incr);
    long double start = 0, incr = 0;
    REQUIRE(parse_long_double(c.start, start));
    REQUIRE(parse_long_double(c.incr, incr));
    CHECK(format_long_double(start + incr) == c.result);
  }
  CHECK(format_long_double(std::numeric_limits<long double>::infinity()) == "inf");
  CHECK(format_long_double(-std::numeric_limits<long double>::infinity()) == "-inf");
  CHECK(format_long_double(std::numeric_limits<long double>::max()).size() < 5000);
}

TEST_CASE("parse_long_double: string2ld's grammar") {
  // Accepted by Redis 7.0.15's INCRBYFLOAT (inf then fails as "would produce NaN or Infinity").
  const std::pair<std::string_view, long double> good[] = {
      {"+3", 3.0L},         {".5", 0.5L},          {"5.", 5.0L}, {"0x10", 16.0L},
      {"-2.5e3", -2500.0L}, {"1e-4940", 1e-4940L},  // a denormal: ERANGE, but not zero
  };
  for (const auto& entry : good) {  // no structured bindings: clang 14 cannot capture them
    const std::string_view text = entry.first;
    const long double expected = entry.second;
    CAPTURE(text);
    long double v = 0;
    CHECK(parse_long_double(text, v));
    CHECK(v == expected);
  }
  long double v = 7;
  CHECK(parse_long_double("inf", v));
  CHECK(std::isinf(v));
  CHECK(parse_long_double("-Infinity", v));
  CHECK(v < 0);
  CHECK(std::isinf(v));
  // Refused by Redis 7.0.15's INCRBYFLOAT with "ERR value is not a valid float".
  const std::string_view bad[] = {"",
                                  " 1",
                                  "1 ",
                                  "\t1",
                                  "nan",
                                  "-nan",
                                  "1e5000",
                                  "-1e5000",
                                  "1e-5000",
                                  "abc",
                                  "1.5x",
                                  "--1",
                                  std::string_view("1\0", 2)};
  for (const std::string_view text : bad) {
    CAPTURE(text);
    long double untouched = 42;
    CHECK_FALSE(parse_long_double(text, untouched));
    CHECK(untouched == 42);
  }
  CHECK_FALSE(parse_long_double(std::string(5120, '0'), v));  // MAX_LONG_DOUBLE_CHARS
  CHECK(parse_long_double(std::string(5119, '0'), v));
  CHECK(v == 0);
}

// ZSCORE of these scores on Debian's redis-server 7.0.15: under RESP2 a bulk with this text, under
// RESP3 `,` + this text (HELLO 3; ZADD z 1.5 a 0.1 b inf c -inf d 1e300 e ...).
TEST_CASE("format_double: addReplyDouble's text, as Redis 7.0.15 writes it") {
  const std::pair<double, std::string_view> cases[] = {
      {1.5, "1.5"},
      {0.1, "0.10000000000000001"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {1e300, "1.0000000000000001e+300"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {0.0, "0"},
      {3.0, "3"},
  };
  for (const auto& entry : cases) {
    const double value = entry.first;
    const std::string_view text = entry.second;
    CAPTURE(text);
    CHECK(format_double(value) == text);
  }
  // NaN: EVAL "redis.setresp(3); return {double=0/0}" 0 gives ",-nan" (x86's 0/0 has the sign
  // bit set) and {double=-(0/0)} gives ",nan".
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(format_double(std::copysign(nan, -1.0)) == "-nan");
  CHECK(format_double(std::copysign(nan, 1.0)) == "nan");
  // Not reachable through Redis 7.0's commands (no command stores -0.0 as a score): "%.17g".
  CHECK(format_double(-0.0) == "-0");
  CHECK(format_double(-std::numeric_limits<double>::denorm_min()) == "-4.9406564584124654e-324");
  char buf[tessera::protocol::kMaxDoubleChars];
  CHECK(format_double(-2.2250738585072014e-308, buf) == 24);
}
