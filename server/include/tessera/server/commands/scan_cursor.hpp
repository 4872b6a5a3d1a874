// SCAN cursors across shards.
//
//   63                                10 9          0
//   +-----------------------------------+------------+
//   |  the shard map's own cursor (<2^48) |  shard id  |
//   +-----------------------------------+------------+
//
// A shard's map cursor is a position in its hash space (see KvMap::scan), so it stays valid across
// growth and rehash (below 2^32; above it, the map's SCAN epoch, which only a reseed against hash
// flooding changes: a cursor of an older epoch restarts that shard's walk, segmented_map.hpp);
// shards are iterated in order and a shard that finishes hands over to the next one with map cursor
// 0. Cursor 0 starts (shard 0, position 0) and the reply "0" ends the iteration. A shard id at or
// past the shard count cannot come from this server: such a cursor ends the iteration (Dragonfly
// does the same) rather than erroring, since the text itself was a number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <tessera/server/shard/shard_limits.hpp>

namespace tessera::server {

struct ScanPosition {
  unsigned shard = 0;
  std::uint64_t map_cursor = 0;
};

inline std::uint64_t encode_scan_cursor(ScanPosition p) {
  return (p.map_cursor << kShardBits) | p.shard;
}
inline ScanPosition decode_scan_cursor(std::uint64_t cursor) {
  return {static_cast<unsigned>(cursor & (kMaxShards - 1)), cursor >> kShardBits};
}

// Parses a cursor argument exactly as Redis 7.0 does (db.c parseScanCursorOrReply: strtoul base 10
// on the C string): a leading space, trailing junk or overflow is invalid (nullopt); "-1" wraps to
// 2^64-1; "+5" is 5; the empty string is 0; the text ends at the first NUL byte.
std::optional<std::uint64_t> parse_scan_cursor(std::string_view text);

}  // namespace tessera::server
