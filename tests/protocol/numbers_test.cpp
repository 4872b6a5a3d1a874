// parse_int64: exactly Redis's string2ll grammar.
#include <doctest/doctest.h>

#include <cstdint>
#include <string_view>
#include <utility>

#include "tessera/protocol/numbers.hpp"

using tessera::protocol::parse_int64;

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
