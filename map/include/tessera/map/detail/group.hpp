// The group scan: a probe tests several metadata bytes (detail/metadata.hpp) at once. With SSE2,
// 16 bytes per load; otherwise one byte, the seed's loop (-DTESSERA_MAP_NO_SIMD forces that). The
// layout, the byte and the probe order are the same either way; only the reading is wider. A load
// at the last slot reads up to kGroupWidth - 1 bytes past the metadata: the table's block carries
// that much slack (hash_map.hpp, THE TABLE).
#pragma once

#include <cstdint>

#include "tessera/map/detail/metadata.hpp"

#if defined(__SSE2__) && !defined(TESSERA_MAP_NO_SIMD)
#include <emmintrin.h>
#define TESSERA_MAP_SSE2 1
#endif

namespace tessera::map::detail {

// Masks have bit i set for byte i of the group.
#ifdef TESSERA_MAP_SSE2
inline constexpr Size kGroupWidth = 16;
struct Group {
  __m128i v;
  explicit Group(const std::uint8_t* p) noexcept
      : v(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))) {}
  std::uint32_t eq(std::uint8_t b) const noexcept {
    return static_cast<std::uint32_t>(
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(b)))));
  }
  std::uint32_t used() const noexcept { return static_cast<std::uint32_t>(_mm_movemask_epi8(v)); }
};
#else
inline constexpr Size kGroupWidth = 1;
struct Group {
  std::uint8_t b;
  explicit Group(const std::uint8_t* p) noexcept : b(*p) {}
  std::uint32_t eq(std::uint8_t x) const noexcept { return b == x ? 1u : 0u; }
  std::uint32_t used() const noexcept { return b >> 7; }
};
#endif

// Lanes of a group that lie before the first free byte (all valid lanes when none is free).
inline std::uint32_t before_first(std::uint32_t free_mask, std::uint32_t valid) noexcept {
  return free_mask ? (free_mask & (0u - free_mask)) - 1 : valid;
}

}  // namespace tessera::map::detail
