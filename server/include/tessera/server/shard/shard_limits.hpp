// How many shards one server may run (--shards is checked against it at start-up). SCAN cursors
// keep the shard id in their low kShardBits bits (commands/scan_cursor.hpp), and
// ShardSet::shard_of's fastrange multiplies a 32-bit hash by the shard count in 64 bits.
#pragma once

namespace tessera::server {

inline constexpr unsigned kShardBits = 10;
inline constexpr unsigned kMaxShards = 1u << kShardBits;
static_assert(kMaxShards == 1024,
              "the cursor layout and --shards limit assume 1024 shards at most");

}  // namespace tessera::server
