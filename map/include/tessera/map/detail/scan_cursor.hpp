// The SCAN cursor's arithmetic (Redis dictScan): buckets are visited in reverse-binary order, so a
// cursor stays meaningful when the table (or, in the segmented map, a segment's share of the hash
// space) doubles or halves. hash_map.hpp's scan note says why; segmented_map.hpp builds on it.
#pragma once

#include <cstdint>

namespace tessera::map::detail {

inline std::uint64_t reverse_bits(std::uint64_t v) noexcept {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  v = ((v >> 8) & 0x00ff00ff00ff00ffull) | ((v & 0x00ff00ff00ff00ffull) << 8);
  v = ((v >> 16) & 0x0000ffff0000ffffull) | ((v & 0x0000ffff0000ffffull) << 16);
  return (v >> 32) | (v << 32);
}

// The bucket after `cursor` in reverse-binary order over the low bits selected by `mask` (a power
// of two minus one); 0 once every bucket was visited. Bits above the mask are ignored.
inline std::uint64_t next_cursor(std::uint64_t cursor, std::uint64_t mask) noexcept {
  cursor |= ~mask;
  cursor = reverse_bits(cursor);
  ++cursor;
  return reverse_bits(cursor);
}

}  // namespace tessera::map::detail
