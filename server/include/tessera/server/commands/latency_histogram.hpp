// LatencyHistogram: command latencies in nanoseconds, bucketed as Redis 7.0's HDR histogram is
// (hdr_init(1, 1e9, 2): two significant digits), so INFO latencystats prints the same figures Redis
// would for the same durations.
//
// Buckets: values below 256 ns have one bucket each; above, each power of two [2^k, 2^(k+1)) is
// cut into 128 equal buckets (a width of 2^(k-7)), so a bucket is never wider than 1/128 of its
// values (under 1%, HDR's "2 significant digits"). A value is reported as the highest value its
// bucket holds (hdr_value_at_percentile's highest_equivalent_value): 7000 ns reads 7007 ns, as in
// Redis. Values are clamped to [1 ns, 1 s] as Redis clamps them.
//
// Concurrency: one thread (the owner) records; any thread may read. The buckets are relaxed
// atomics the owner updates with a load and a store (no read-modify-write: nobody else writes), so
// recording costs what a plain increment does and reading from another thread is not a race.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>
#include <vector>

namespace tessera::server {

class LatencyHistogram {
 public:
  static constexpr std::uint64_t kMinValue = 1;
  static constexpr std::uint64_t kMaxValue = 1'000'000'000;  // 1 s, in ns
  // Buckets 0..255 hold one value each; then 128 per power of two from 2^8 to 2^29 (1e9 < 2^30).
  static constexpr unsigned kLinear = 256;
  static constexpr unsigned kSubBuckets = 128;
  static constexpr unsigned kPowers = 30 - 8;
  static constexpr unsigned kBuckets = kLinear + kPowers * kSubBuckets;

  static unsigned bucket_of(std::uint64_t ns) {
    if (ns < kMinValue) ns = kMinValue;
    if (ns > kMaxValue) ns = kMaxValue;
    if (ns < kLinear) return static_cast<unsigned>(ns);
    const unsigned top = static_cast<unsigned>(std::bit_width(ns)) - 1;  // 2^top <= ns
    const unsigned shift = top - 7;  // ns >> shift lies in [128, 256)
    return kLinear + (top - 8) * kSubBuckets + static_cast<unsigned>((ns >> shift) - kSubBuckets);
  }
  // The highest value bucket `b` holds.
  static std::uint64_t highest_value_of(unsigned b) {
    if (b < kLinear) return b;
    const unsigned top = (b - kLinear) / kSubBuckets + 8;
    const unsigned shift = top - 7;
    const std::uint64_t sub = (b - kLinear) % kSubBuckets + kSubBuckets;
    return ((sub + 1) << shift) - 1;
  }

  // Owner thread only.
  void record(std::uint64_t ns) {
    auto& c = counts_[bucket_of(ns)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  // Any thread: adds this histogram's counts into `into` (kBuckets entries).
  void add_to(std::vector<std::uint64_t>& into) const {
    into.resize(kBuckets);
    for (unsigned b = 0; b < kBuckets; ++b) into[b] += counts_[b].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> counts_{};
};

// The value at `percentile` (0..100] of the counts in `buckets` (LatencyHistogram's buckets), as
// hdr_value_at_percentile computes it: the highest value of the first bucket at which the running
// count reaches percentile% of the total (rounded, at least 1). 0 when there are no counts.
inline std::uint64_t value_at_percentile(const std::vector<std::uint64_t>& buckets,
                                         double percentile) {
  std::uint64_t total = 0;
  for (std::uint64_t c : buckets) total += c;
  if (total == 0) return 0;
  if (percentile > 100) percentile = 100;
  auto wanted = static_cast<std::uint64_t>(percentile / 100.0 * static_cast<double>(total) + 0.5);
  if (wanted == 0) wanted = 1;
  std::uint64_t running = 0;
  for (unsigned b = 0; b < buckets.size(); ++b) {
    running += buckets[b];
    if (running >= wanted) return LatencyHistogram::highest_value_of(b);
  }
  return LatencyHistogram::highest_value_of(static_cast<unsigned>(buckets.size() - 1));
}

}  // namespace tessera::server
