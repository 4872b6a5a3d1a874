// The map's 64-bit hash functions.
//
// Design note. The table takes its home slot from the LOW bits of the hash (hash & (cap - 1)) and
// its 7-bit fingerprint from the TOP bits (hash >> 57), so a hash whose entropy sits at one end
// only (an identity hash of integers, FNV's weak top bits) makes either long probe runs or useless
// fingerprints. Every function here therefore ends in a full-width "folded multiply": the 128-bit
// product of two 64-bit words, high half XOR low half, which spreads every input bit over every
// output bit.
//
// The string hash follows the published idea of wyhash / rapidhash (Wang Yi; Nicolas De Carli):
// read the input as 64-bit words, absorb 16 bytes per folded multiply with per-lane secrets,
// treat short inputs (<= 16 bytes) with two overlapping reads and no loop, and finish with one more
// folded multiply that mixes in the length. The code below is written for Tessera from that
// description; the three odd 64-bit secrets are the constants those hashes publish (public domain).
// It is not bit-compatible with either.
//
// Seeds and flooding. Every function takes a 64-bit seed; the server draws one per process
// (kv_map.hpp, --hash-seed), so that nobody who cannot learn the seed can choose keys that collide.
// That only holds if no input can make the seed drop out of the state. A plain multiply can: when
// an attacker-controlled word XOR its secret is zero, the 128-bit product is zero whatever the
// other (seeded) factor is, and everything absorbed so far is forgotten. With the unprotected
// mixing, every 16-byte key whose bytes 0-3 and 8-11 spell kSecret1 hashed to ONE value under
// every seed (2^64 such keys; tests/map/hash_flood_test.cpp has them). So every multiply that
// absorbs input keeps its factors as well ("protected" mixing, wyhash's WYHASH_CONDOM=2): the
// string loop's state is product ^ factors, the last step XORs each half into its own factor.
// A zero factor then leaves the seed in the state. This is not a keyed PRF (SipHash, which Redis
// uses, is); what it promises is that no input is known to collide independently of the seed, at
// two XORs per multiply. The map's own defence (segmented_map.hpp, FLOODING) bounds the damage if
// a seed is ever known.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tessera::map {

using Hash = std::uint64_t;

namespace detail {

__extension__ typedef unsigned __int128 U128;

inline constexpr std::uint64_t kSecret0 = 0x2d358dccaa6c78a5ull;
inline constexpr std::uint64_t kSecret1 = 0x8bb84b93962eacc9ull;
inline constexpr std::uint64_t kSecret2 = 0x4b33a62ed433d4a3ull;

// The folded multiply: 128-bit product, high XOR low.
inline std::uint64_t fold_mul(std::uint64_t a, std::uint64_t b) noexcept {
  const U128 r = static_cast<U128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

// The folded multiply with its factors XORed in (design note, Seeds and flooding): a zero factor
// cannot erase the other one. For mixing that absorbs input.
inline std::uint64_t fold_mul_protected(std::uint64_t a, std::uint64_t b) noexcept {
  return fold_mul(a, b) ^ a ^ b;
}

// Both halves of the product, each XORed into its own factor (the last step of the string hash
// needs two words; protected as above).
inline void mul_halves(std::uint64_t& a, std::uint64_t& b) noexcept {
  const U128 r = static_cast<U128>(a) * b;
  a ^= static_cast<std::uint64_t>(r);
  b ^= static_cast<std::uint64_t>(r >> 64);
}

// Unaligned little-endian-as-the-machine reads; memcpy is the defined way and compiles to one load.
inline std::uint64_t read64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint64_t read32(const unsigned char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace detail

// Hashes `len` bytes at `data`. Inputs up to 16 bytes take no loop; longer ones absorb 48 bytes per
// round in three independent lanes (so the multiplies overlap), then 16 at a time.
inline Hash hash_bytes(const void* data, std::size_t len, std::uint64_t seed = 0) noexcept {
  using detail::fold_mul;
  using detail::fold_mul_protected;
  using detail::kSecret0;
  using detail::kSecret1;
  using detail::kSecret2;
  const auto* p = static_cast<const unsigned char*>(data);
  seed ^= fold_mul(seed ^ kSecret0, kSecret1);
  std::uint64_t a;
  std::uint64_t b;
  if (len <= 16) {
    if (len >= 4) {
      // Two overlapping pairs of 32-bit reads cover every byte of 4..16 without branching on len.
      const std::size_t shift = (len >> 3) << 2;
      a = (detail::read32(p) << 32) | detail::read32(p + shift);
      b = (detail::read32(p + len - 4) << 32) | detail::read32(p + len - 4 - shift);
    } else if (len > 0) {
      a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[len >> 1]} << 8) | p[len - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    std::size_t i = len;
    if (i > 48) {
      std::uint64_t lane1 = seed;
      std::uint64_t lane2 = seed;
      do {
        seed = fold_mul_protected(detail::read64(p) ^ kSecret1, detail::read64(p + 8) ^ seed);
        lane1 =
            fold_mul_protected(detail::read64(p + 16) ^ kSecret2, detail::read64(p + 24) ^ lane1);
        lane2 =
            fold_mul_protected(detail::read64(p + 32) ^ kSecret0, detail::read64(p + 40) ^ lane2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= lane1 ^ lane2;
    }
    while (i > 16) {
      seed = fold_mul_protected(detail::read64(p) ^ kSecret1, detail::read64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    // The last 16 bytes of the input (they may overlap bytes already absorbed: that is harmless).
    a = detail::read64(p + i - 16);
    b = detail::read64(p + i - 8);
  }
  a ^= kSecret1;
  b ^= seed;
  detail::mul_halves(a, b);
  return fold_mul(a ^ kSecret0 ^ len, b ^ kSecret1);
}

inline Hash hash_string(std::string_view s, std::uint64_t seed = 0) noexcept {
  return hash_bytes(s.data(), s.size(), seed);
}

// One 64-bit word (integers, enums, pointers): two folded multiplies, every output bit depends on
// every input bit.
inline Hash hash_u64(std::uint64_t x, std::uint64_t seed = 0) noexcept {
  using detail::fold_mul;
  return fold_mul(fold_mul(x ^ detail::kSecret0, seed ^ detail::kSecret1), detail::kSecret2);
}

}  // namespace tessera::map
