// MapStats: what a map reports about itself, O(1) to read. One struct for the engine
// (HashMapUnmanaged / HashMap) and the server's store (KvMap); the server's INFO reads these names.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::map {

struct MapStats {
  std::size_t count = 0;
  std::size_t capacity = 0;  // slots
  std::size_t tombstones = 0;
  std::size_t memory_bytes = 0;  // what the map allocated: the table block for HashMap; the table
                                 // block plus every entry block for KvMap
  std::size_t max_probe = 0;     // the longest probe (slots visited to find a key) at insertion
                                 // since the table was last built (grow or rehash, which recompute
                                 // it exactly); removals do not lower it
  double mean_probe = 0;         // exact mean probe length over the live keys
  std::uint64_t grows = 0;       // growth events since the table was first allocated
  std::uint64_t rehashes = 0;    // automatic or explicit in-place rehashes since then
};

}  // namespace tessera::map
