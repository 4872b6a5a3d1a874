// SCAN cursor text rules (Redis's strtoul behaviour) and the shard/position layout.
#include <doctest/doctest.h>

#include <string>
#include <tessera/server/commands/scan_cursor.hpp>

using namespace tessera::server;
using namespace std::string_literals;

TEST_CASE("scan cursor: accepted texts") {
  CHECK(parse_scan_cursor("0") == 0u);
  CHECK(parse_scan_cursor("12345") == 12345u);
  CHECK(parse_scan_cursor("18446744073709551615") == 18446744073709551615ull);
  CHECK(parse_scan_cursor("-1") == 18446744073709551615ull);  // strtoul wraps negatives
  CHECK(parse_scan_cursor("+7") == 7u);
  CHECK(parse_scan_cursor("007") == 7u);
  CHECK(parse_scan_cursor("") == 0u);          // no digits but nothing after: cursor 0
  CHECK(parse_scan_cursor("5\0junk"s) == 5u);  // the C string ends at the NUL
}

TEST_CASE("scan cursor: rejected texts") {
  CHECK_FALSE(parse_scan_cursor("abc"));
  CHECK_FALSE(parse_scan_cursor(" 1"));
  CHECK_FALSE(parse_scan_cursor("1 "));
  CHECK_FALSE(parse_scan_cursor("12x"));
  CHECK_FALSE(parse_scan_cursor("18446744073709551616"));  // ERANGE
  CHECK_FALSE(parse_scan_cursor("-"));
  CHECK_FALSE(parse_scan_cursor("+"));
  CHECK_FALSE(parse_scan_cursor("0x10"));
  CHECK_FALSE(parse_scan_cursor("\t3"));
}

TEST_CASE("scan cursor: layout round-trips") {
  for (unsigned shard : {0u, 1u, 3u, 1023u}) {
    for (std::uint64_t pos : {0ull, 1ull, 4095ull, (1ull << 32) - 1}) {
      const auto c = encode_scan_cursor({shard, pos});
      const auto back = decode_scan_cursor(c);
      CHECK(back.shard == shard);
      CHECK(back.map_cursor == pos);
    }
  }
  CHECK(encode_scan_cursor({0, 0}) == 0u);  // the start and the end of an iteration
  CHECK(encode_scan_cursor({1, 0}) != 0u);  // moving to shard 1 is not the end
}
