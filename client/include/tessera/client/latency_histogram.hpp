// A log-linear latency histogram in the manner of HdrHistogram: constant relative precision over
// the whole 64-bit range with a fixed, small table.
//
// Layout: values below 2^kSubBucketBits (1024) have a counter each. Above that, every power-of-two
// range [2^k, 2^(k+1)) is split into 2^(kSubBucketBits-1) (512) equal sub-buckets, so a recorded
// value is known to within 1/512 (0.2%) of itself:
//
//   index(v) = v                                  for v < 1024
//            = s * 512 + (v >> s)                 otherwise, s = msb(v) - 9  (v >> s is in [512,
//            1024))
//
// The index is monotonic in v, so a percentile is one walk over the counters. Percentiles report
// the highest value equivalent to the bucket they fall in (as HdrHistogram does), capped by the
// exact maximum; min, max and the mean are kept exactly. Recording is a few integer operations and
// one increment, cheap enough for every reply of a benchmark. Not thread-safe: one histogram per
// thread, merged at the end.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace tessera::client {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 10;
  static constexpr std::uint64_t kSubBuckets = 1ull << kSubBucketBits;         // 1024
  static constexpr std::uint64_t kHalf = kSubBuckets / 2;                      // 512
  static constexpr std::size_t kCounters = (64 - kSubBucketBits + 2) * kHalf;  // covers 2^64 - 1
  static_assert(kCounters > (64 - kSubBucketBits) * kHalf + kSubBuckets - 1,
                "the largest index, for 2^64 - 1, must fit");

  LatencyHistogram() : counts_(kCounters, 0) {}

  static std::size_t index_of(std::uint64_t v) {
    if (v < kSubBuckets) return static_cast<std::size_t>(v);
    const int shift = (63 - std::countl_zero(v)) - (kSubBucketBits - 1);
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kHalf + (v >> shift));
  }
  // The smallest and the largest value that land in counter `index`.
  static std::uint64_t lowest_at(std::size_t index) {
    if (index < kSubBuckets) return index;
    const std::uint64_t shift = index / kHalf - 1;
    return (index - shift * kHalf) << shift;
  }
  static std::uint64_t highest_at(std::size_t index) {
    if (index < kSubBuckets) return index;
    const std::uint64_t shift = index / kHalf - 1;
    const std::uint64_t sub = index - shift * kHalf;
    return ((sub + 1) << shift) - 1;
  }

  void record(std::uint64_t value) {
    ++counts_[index_of(value)];
    ++total_;
    sum_ += static_cast<double>(value);
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < kCounters; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }

  // The value below or at which `percent` percent of the recorded values fall (0 when empty).
  std::uint64_t percentile(double percent) const {
    if (total_ == 0) return 0;
    percent = std::clamp(percent, 0.0, 100.0);
    // The rank of the percentile; the tiny margin keeps 99.9% of 1000 at rank 999, not 1000
    // (99.9 / 100 * 1000 is 999.0000000000001 in binary floating point).
    const double rank = percent / 100.0 * static_cast<double>(total_);
    auto target = static_cast<std::uint64_t>(std::ceil(rank - rank * 1e-12));
    target = std::max<std::uint64_t>(target, 1);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kCounters; ++i) {
      seen += counts_[i];
      if (seen >= target) return std::clamp(highest_at(i), min_, max_);
    }
    return max_;
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t min() const { return total_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }
  void reset() {
    std::fill(counts_.begin(), counts_.end(), 0);
    total_ = 0;
    sum_ = 0;
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
  }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  double sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t max_ = 0;
};

}  // namespace tessera::client
