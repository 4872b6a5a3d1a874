// MapStats: what a map reports about itself, O(1) to read. One struct for the engine
// (HashMapUnmanaged / HashMap), the segmented map and the server's store (KvMap); the server's INFO
// reads these names. The last group is the segmented map's (segmented_map.hpp); a single table
// leaves it at 0.
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

  std::size_t segments = 0;         // tables under the directory
  std::size_t directory_depth = 0;  // the directory has 2^directory_depth entries
  std::uint64_t splits = 0;         // full segments split in two (each also counts in grows)
  std::uint64_t merges = 0;         // sparse neighbours merged into one
  std::uint64_t shrinks = 0;        // sparse segments rebuilt smaller
  // The longest single growth step since the map was built or cleared: one segment grow, split,
  // merge or shrink, with any directory doubling or halving it caused. Wall time and entries moved.
  std::uint64_t longest_step_ns = 0;
  std::uint64_t longest_step_moves = 0;
  // Flooding (segmented_map.hpp, FLOODING): inserts that probed past the long-probe bound, splits
  // that left almost nothing on one side, directory doublings refused by its bound, and rebuilds
  // under a fresh seed (KvMap's reseeds), since the map was built or cleared.
  std::uint64_t long_probes = 0;
  std::uint64_t lopsided_splits = 0;
  std::uint64_t refused_doublings = 0;
  std::uint64_t reseeds = 0;
};

}  // namespace tessera::map
