// The metadata byte: one per slot, the only thing a probe reads before it touches a key.
//
//     free       0 0 0 0 0 0 0 0   (0x00)  never used since the table was built: ends every probe
//     tombstone  0 0 0 0 0 0 0 1   (0x01)  held an entry that was removed: probes continue past it
//     used       1 f f f f f f f   (0x80 | fp)  fp = the top 7 bits of the 64-bit hash
//
// A used byte is recognised by bit 7 alone, so 0x81 (used, fp 1) is not a tombstone. The home slot
// comes from the low bits of the hash and the fingerprint from the top 7, so the two never overlap
// (hash_map.hpp, HASH BITS).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

#include "tessera/map/hash.hpp"

namespace tessera::map {

// Slot counts and indices: 32 bits, as in the seed (a table has at most 2^31 slots).
using Size = std::uint32_t;
inline constexpr unsigned kDefaultMaxLoadPercentage = 80;

namespace detail {

inline constexpr std::uint8_t kFree = 0x00;
inline constexpr std::uint8_t kTombstone = 0x01;
inline constexpr std::uint8_t kUsedBit = 0x80;
inline constexpr std::uint8_t kFingerprintMask = 0x7f;
// During rehash, a used byte with fingerprint 1 marks a slot claimed ahead of the cursor.
inline constexpr std::uint8_t kClaimed = kUsedBit | 0x01;
static_assert(kFree == 0, "free must be 0: a fresh table is a memset");
static_assert((kTombstone & kUsedBit) == 0 && kTombstone != kFree,
              "a tombstone is a non-used byte distinct from free");
static_assert((kUsedBit | kFingerprintMask) == 0xff, "used bit + 7-bit fingerprint fill the byte");

inline constexpr Size kMinimalCapacity = 8;
inline constexpr Size kNotFound = std::numeric_limits<Size>::max();
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 31;

inline constexpr std::uint8_t fingerprint_of(Hash h) noexcept {
  return static_cast<std::uint8_t>(h >> 57);
}
inline constexpr std::uint8_t used_byte(Hash h) noexcept { return kUsedBit | fingerprint_of(h); }
static_assert(fingerprint_of(~Hash{0}) == kFingerprintMask, "the fingerprint is the top 7 bits");

inline constexpr std::size_t align_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}

}  // namespace detail
}  // namespace tessera::map
