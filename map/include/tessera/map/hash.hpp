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
// It is not bit-compatible with either, and it is not meant to resist hash flooding (a server that
// faces untrusted keys should seed it per process: every function takes a seed).
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

// Both halves of the product, kept apart (the last step of the string hash needs two words).
inline void mul_halves(std::uint64_t& a, std::uint64_t& b) noexcept {
  const U128 r = static_cast<U128>(a) * b;
  a = static_cast<std::uint64_t>(r);
  b = static_cast<std::uint64_t>(r >> 64);
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
        seed = fold_mul(detail::read64(p) ^ kSecret1, detail::read64(p + 8) ^ seed);
        lane1 = fold_mul(detail::read64(p + 16) ^ kSecret2, detail::read64(p + 24) ^ lane1);
        lane2 = fold_mul(detail::read64(p + 32) ^ kSecret0, detail::read64(p + 40) ^ lane2);
        p += 48;
        i -= 48;
      } while (i > 48);
      seed ^= lane1 ^ lane2;
    }
    while (i > 16) {
      seed = fold_mul(detail::read64(p) ^ kSecret1, detail::read64(p + 8) ^ seed);
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
