// Hash flooding against the real process (issue 21, item 1): keys chosen by brute force to collide
// under one seed (same home slot in every 1024-slot segment, same top directory bits) are ordinary
// keys for a server that drew its own seed, and a server whose seed was fixed to that one defends
// itself (rehashes under a fresh seed, map/segmented_map.hpp FLOODING) and says so in INFO and the
// log.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <tessera/map/hash.hpp>

#include "e2e_util.hpp"
#include "reliability_util.hpp"

using namespace tessera::test;

namespace {

std::vector<std::string> chosen_keys(std::uint64_t seed, std::size_t n) {
  constexpr std::uint64_t kMask = 0x3ffull | (0x3ull << 55);  // home bits, top directory bits
  std::vector<std::string> out;
  for (std::uint64_t i = 0; out.size() < n; ++i) {
    std::string k = "flood:" + std::to_string(i);
    if ((tessera::map::hash_string(k, seed) & kMask) == 0x155) out.push_back(std::move(k));
  }
  return out;
}

void set_all(Conn& c, const std::vector<std::string>& keys) {
  std::string batch;
  for (const auto& k : keys) batch += encode({"SET", k, "v"});
  REQUIRE(c.send_all(batch));
  std::vector<Reply> replies;
  REQUIRE(c.read_replies(keys.size(), replies));
  for (const auto& r : replies) REQUIRE(r.str == "OK");
}

// One field of shard 0's line in INFO shards ("shard0:keys=...,max_probe=...,reseeds=..."); -1
// when absent.
std::int64_t shard_field(Conn& c, const std::string& field) {
  std::vector<Reply> r;
  if (!c.send_all(encode({"INFO", "shards"})) || !c.read_replies(1, r)) return -1;
  const std::string& text = r[0].str;
  const auto line = text.find("shard0:");
  if (line == std::string::npos) return -1;
  const auto end = text.find("\r\n", line);
  for (auto at = text.find(field + "=", line); at < end; at = text.find(field + "=", at + 1)) {
    if (text[at - 1] == ':' || text[at - 1] == ',') {
      return std::strtoll(text.c_str() + at + field.size() + 1, nullptr, 10);
    }
  }
  return -1;
}

}  // namespace

TEST_CASE("e2e flooding: keys chosen under seed 0 are ordinary keys for a server's random seed") {
  const auto keys = chosen_keys(0, 1500);
  auto server = start_tessera(1);
  Conn c(server.port());
  set_all(c, keys);
  CHECK(shard_field(c, "keys") == 1500);
  CHECK(shard_field(c, "reseeds") == 0);
  CHECK(shard_field(c, "long_probes") == 0);
  CHECK(shard_field(c, "lopsided_splits") == 0);
  // Ordinary keys: 16M random inserts into full 1024-slot tables never probed past 237 slots.
  // The same keys under seed 0 without the defence: a probe of about 1,000.
  CHECK(shard_field(c, "max_probe") < 240);
  // The seed is not a setting CONFIG SET can change.
  std::vector<Reply> r;
  REQUIRE(c.send_all(encode({"CONFIG", "SET", "hash-seed", "5"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].str.find("immutable") != std::string::npos);
}

TEST_CASE("e2e flooding: with --hash-seed fixed to the chosen seed the server defends itself") {
  constexpr std::uint64_t kSeed = 0x5eed;
  const auto keys = chosen_keys(kSeed, 1500);
  auto server = start_tessera(1, {"--hash-seed", std::to_string(kSeed)});
  Conn c(server.port());
  std::vector<Reply> r;
  REQUIRE(c.send_all(encode({"CONFIG", "GET", "hash-seed"})));
  REQUIRE(c.read_replies(1, r));
  REQUIRE(r[0].elements.size() == 2);
  CHECK(r[0].elements[1].str == std::to_string(kSeed));
  set_all(c, keys);
  CHECK(shard_field(c, "reseeds") >= 1);
  CHECK(shard_field(c, "long_probes") + shard_field(c, "lopsided_splits") > 0);
  CHECK(shard_field(c, "max_probe") < 240);
  const std::int64_t depth = shard_field(c, "directory_depth");
  const std::int64_t segments = shard_field(c, "segments");
  CHECK((std::int64_t{1} << depth) <= 4 * segments);
  // Every key is still there, and a full SCAN returns each.
  std::set<std::string> seen;
  std::string cursor = "0";
  do {
    r.clear();
    REQUIRE(c.send_all(encode({"SCAN", cursor, "COUNT", "200"})));
    REQUIRE(c.read_replies(1, r));
    REQUIRE(r[0].elements.size() == 2);
    cursor = r[0].elements[0].str;
    for (const auto& k : r[0].elements[1].elements) seen.insert(k.str);
  } while (cursor != "0");
  CHECK(seen.size() == keys.size());
  CHECK(
      eventually([&] { return server.output().find("rehashed the store") != std::string::npos; }));
}
