// CycleClock's calibration (design note in tessera/server/commands/cycle_clock.hpp).
#include <tessera/server/commands/cycle_clock.hpp>

#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace tessera::server {

namespace {

// Both flags on the first processor's line: the TSC's rate does not change with the frequency
// (constant_tsc) and it keeps counting in deep idle states (nonstop_tsc).
bool invariant_tsc() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const std::string padded = line + " ";
    return padded.find(" constant_tsc ") != std::string::npos &&
           padded.find(" nonstop_tsc ") != std::string::npos;
  }
  return false;
}

}  // namespace

CycleClock::Ticks CycleClock::read_tsc() noexcept {
#if defined(__x86_64__)
  return __rdtsc();
#else
  return steady_ns();
#endif
}

CycleClock::Rate CycleClock::calibrate() noexcept {
  Rate r;
#if defined(__x86_64__)
  try {
    if (!invariant_tsc()) return r;
  } catch (...) {
    return r;
  }
  // A pair of readings taken close together (the TSC read before and after steady_clock's, within
  // 2 µs of each other, so that a preemption between them does not count), 10 ms apart.
  auto pair = [](Ticks& tsc, Ticks& ns) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const Ticks before = read_tsc();
      const Ticks n = steady_ns();
      const Ticks after = read_tsc();
      if (after - before < 5000) {
        tsc = before + (after - before) / 2;
        ns = n;
        return true;
      }
    }
    return false;
  };
  Ticks tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
  if (!pair(tsc0, ns0)) return r;
  while (steady_ns() - ns0 < 10'000'000) {
  }
  if (!pair(tsc1, ns1) || tsc1 <= tsc0) return r;
  r.ns_per_tick = static_cast<double>(ns1 - ns0) / static_cast<double>(tsc1 - tsc0);
  r.use_tsc = r.ns_per_tick > 0.01 && r.ns_per_tick < 100.0;  // 10 MHz .. 100 GHz, else distrust
  if (!r.use_tsc) r.ns_per_tick = 1.0;
#endif
  return r;
}

}  // namespace tessera::server
