// CycleClock: the clock that times every command (commandstats, latencystats, SLOWLOG), read twice
// per command.
//
// WHY. std::chrono::steady_clock goes through the vDSO's clock_gettime: about 50 ns a read on this
// project's VMs (clocksource tsc), 4% of the server's CPU at redis-benchmark -P 16 for the two
// reads (bench/README.md, "Where the server's time goes"). The TSC read itself is about 23 ns.
// Where the TSC ticks at a constant rate through every power state (/proc/cpuinfo's constant_tsc
// and nonstop_tsc), now() is that counter and durations are converted to nanoseconds with a rate
// measured against steady_clock once at start-up; elsewhere now() is steady_clock's nanoseconds.
// The TSCs of the cores are synchronised on such machines, so a command that starts on one core
// and ends on another (a coroutine resumed elsewhere) still measures right; a difference that
// would be negative reads as 0.
#pragma once

#include <chrono>
#include <cstdint>

namespace tessera::server {

class CycleClock {
 public:
  using Ticks = std::uint64_t;

  static Ticks now() noexcept {
#if defined(__x86_64__)
    if (rate().use_tsc) return read_tsc();
#endif
    return steady_ns();
  }
  // Nanoseconds from `since` (a now()) to now.
  static std::uint64_t ns_since(Ticks since) noexcept {
    const Ticks t = now();
    if (t <= since) return 0;
    const Rate& r = rate();
    return r.use_tsc ? static_cast<std::uint64_t>(static_cast<double>(t - since) * r.ns_per_tick)
                     : t - since;
  }
  // Whether the TSC is in use, and its measured rate (for tests and the start-up log).
  static bool uses_tsc() noexcept { return rate().use_tsc; }
  static double ns_per_tick() noexcept { return rate().ns_per_tick; }

 private:
  struct Rate {
    bool use_tsc = false;
    double ns_per_tick = 1.0;
  };
  static Ticks steady_ns() noexcept {
    return static_cast<Ticks>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count());
  }
  static Ticks read_tsc() noexcept;
  // Measured on first use (the server's start-up: about 10 ms), then read-only.
  static const Rate& rate() noexcept {
    static const Rate r = calibrate();
    return r;
  }
  static Rate calibrate() noexcept;
};

}  // namespace tessera::server
