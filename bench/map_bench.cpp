// map_bench: tessera::map against absl::flat_hash_map, boost::unordered_flat_map (1.81) and
// std::unordered_map, plus the server's store (KvMap). Two tessera rows: `tessera` is the seed's
// single table (StringHashMap), `segmented` the segmented map (SegmentedStringHashMap: the seed's
// table as <= 1024-slot segments under a directory), which KvMap uses.
//
// Workload (issue 3): 1,000,000 std::string keys of 16 bytes -> 32-byte std::string values.
// Benchmarks are named <op>/<map>; each run times one pass over the 1M keys and reports the time
// PER OPERATION (manual time = the loop's thread CPU time / ops), so "Time" reads as ns/op. Run
// with
//   map_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// and read the medians.
//
//   insert       1M inserts into an empty map (no reserve): includes every growth
//   lookup_hit   1M successful lookups in random order
//   lookup_miss  1M lookups of absent keys
//   erase        1M erases in random order
//   churn        after 50 rounds of (erase 10% of the keys + insert 10% new keys), 1M successful
//                lookups in random order: the figure is the lookups (compare with lookup_hit)
//   iterate      one pass over every entry (ns per entry)
//   memory       bytes per entry after 1M inserts (counter bytes_per_entry: heap bytes the map and
//                its strings hold, measured by this binary's operator new; peak_bytes_per_entry:
//                the most held at any moment while inserting, i.e. during the last growth)
//   growth       growing from empty to TESSERA_GROWTH_KEYS keys (default 20M) one insert at a
//                time, u64 -> u64 (so that every heap byte is table), and KvMap with the server's
//                entries: counters longest_insert_us (the slowest single insert, wall time, which
//                includes any preemption on a busy machine), inserts_over_1ms, and
//                peak_table_ratio (the most table memory held at any moment / what the table holds
//                at the end; for KvMap, 1 + the transient excess / its table bytes); the segmented
//                maps also report longest_step_us and longest_step_moves (their own record of the
//                longest split / grow / merge). Run it alone: --benchmark_filter=^growth/
//
// Hash functions: each map uses its library's default for std::string (what a user gets):
// tessera its own (hash.hpp), absl its string hash (absl::Hash<absl::string_view>, which is what
// flat_hash_map<std::string, ...> uses), boost boost::hash<std::string>, std std::hash.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <absl/container/flat_hash_map.h>
#include <algorithm>
#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "tessera/map/hash_map.hpp"
#include "tessera/map/kv_map.hpp"
#include "tessera/map/segmented_map.hpp"

// ---- heap accounting: every allocation of this process, by usable size
// ----------------------------

namespace {
std::size_t g_live = 0;
std::size_t g_peak = 0;
void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  g_live += malloc_usable_size(p);
  g_peak = std::max(g_peak, g_live);
  return p;
}
void counted_free(void* p) noexcept {
  if (!p) return;
  g_live -= malloc_usable_size(p);
  std::free(p);
}
void* counted_aligned(std::size_t n, std::size_t a) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max(a, sizeof(void*)), n ? n : 1) != 0) throw std::bad_alloc();
  g_live += malloc_usable_size(p);
  g_peak = std::max(g_peak, g_live);
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_aligned(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_aligned(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }

namespace {

constexpr std::size_t kN = 1'000'000;
constexpr int kChurnRounds = 50;
constexpr std::size_t kChurnBatch = kN / 10;

// 16 random characters; the first one tells the families apart so hits and misses never collide.
std::string random_key(std::mt19937_64& rng, char family) {
  static constexpr char kAlphabet[] =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string s(16, family);
  for (std::size_t i = 1; i < 16; ++i) s[i] = kAlphabet[rng() % 62];
  return s;
}

struct Data {
  std::vector<std::string> keys;     // the 1M keys ('k...')
  std::vector<std::string> values;   // 32-byte values
  std::vector<std::string> misses;   // 1M absent keys ('m...')
  std::vector<std::uint32_t> order;  // a random permutation of 0..kN-1
  Data() {
    std::mt19937_64 rng(42);
    keys.reserve(kN);
    values.reserve(kN);
    misses.reserve(kN);
    for (std::size_t i = 0; i < kN; ++i) {
      keys.push_back(random_key(rng, 'k'));
      values.push_back(random_key(rng, 'v') + random_key(rng, 'v'));
      misses.push_back(random_key(rng, 'm'));
    }
    order.resize(kN);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), rng);
  }
};
const Data& data() {
  static const Data d;
  return d;
}

// ---- one adaptor per map ------------------------------------------------------------------------

struct Tessera {
  static constexpr const char* kName = "tessera";
  using Map = tessera::map::StringHashMap<std::string>;
  static void insert(Map& m, const std::string& k, const std::string& v) { m.put(k, v); }
  static const std::string* find(const Map& m, const std::string& k) {
    return m.get_ptr(std::string_view(k));
  }
  static bool erase(Map& m, const std::string& k) { return m.remove(std::string_view(k)); }
  template <class F>
  static void for_each(const Map& m, F&& f) {
    for (auto e : m) f(*e.key_ptr, *e.value_ptr);
  }
};

// The seed's table as segments under a directory (what KvMap uses), same keys and values.
struct Segmented {
  static constexpr const char* kName = "segmented";
  using Map = tessera::map::SegmentedStringHashMap<std::string>;
  static void insert(Map& m, const std::string& k, const std::string& v) { m.put(k, v); }
  static const std::string* find(const Map& m, const std::string& k) {
    return m.get_ptr(std::string_view(k));
  }
  static bool erase(Map& m, const std::string& k) { return m.remove(std::string_view(k)); }
  template <class F>
  static void for_each(const Map& m, F&& f) {
    for (auto e : m) f(*e.key_ptr, *e.value_ptr);
  }
};

// The server's store: one block per entry, 8 table bytes per slot. Built with the default seed (0),
// fixed, so that runs are comparable (the server draws a random one per start).
struct Kv {
  static constexpr const char* kName = "kvmap";
  using Map = tessera::map::KvMap;
  static void insert(Map& m, const std::string& k, const std::string& v) { m.put(k, v); }
  static std::optional<std::string_view> find(const Map& m, const std::string& k) {
    return m.get(k);
  }
  static bool erase(Map& m, const std::string& k) { return m.remove(k); }
  template <class F>
  static void for_each(const Map& m, F&& f) {
    std::uint64_t c = 0;
    do {
      c = m.scan(c, 1000, f);
    } while (c != 0);
  }
};

template <class M, const char* Name>
struct StdLike {
  static constexpr const char* kName = Name;
  using Map = M;
  static void insert(Map& m, const std::string& k, const std::string& v) {
    m.insert_or_assign(k, v);
  }
  static const std::string* find(const Map& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  }
  static bool erase(Map& m, const std::string& k) { return m.erase(k) != 0; }
  template <class F>
  static void for_each(const Map& m, F&& f) {
    for (const auto& [k, v] : m) f(k, v);
  }
};
constexpr char kAbsl[] = "absl";
constexpr char kBoost[] = "boost";
constexpr char kStd[] = "std";
using Absl = StdLike<absl::flat_hash_map<std::string, std::string>, kAbsl>;
using Boost = StdLike<boost::unordered_flat_map<std::string, std::string>, kBoost>;
using Std = StdLike<std::unordered_map<std::string, std::string>, kStd>;

// A StringHashMap<std::string> is the alternative store for the server; its memory row is
// `memory/tessera`, KvMap's is `memory/kvmap`.

template <class T>
void build(typename T::Map& m) {
  const Data& d = data();
  for (std::size_t i = 0; i < kN; ++i) T::insert(m, d.keys[i], d.values[i]);
}

// The timed loops are measured in THREAD CPU time, not wall time: the machine is shared, and
// preemption by other tenants would otherwise land in the figures (cache interference still does).
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};
void set_per_op(benchmark::State& state, double t0, std::size_t ops) {
  state.SetIterationTime((Clock::now() - t0) / static_cast<double>(ops));
}

template <class T>
std::size_t found_size(const typename T::Map& m, const std::string& k) {
  auto r = T::find(m, k);
  return r ? r->size() : 0;
}

template <class T>
void bm_insert(benchmark::State& state) {
  const Data& d = data();
  for (auto _ : state) {
    auto m = std::make_unique<typename T::Map>();
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kN; ++i) T::insert(*m, d.keys[i], d.values[i]);
    set_per_op(state, t0, kN);
    benchmark::DoNotOptimize(m.get());
  }
}

// Lookups of keys[order[i]] for every i, timed; expect_found of them must hit.
template <class T>
void lookups(benchmark::State& state, const typename T::Map& m,
             const std::vector<std::string>& keys, std::size_t expect_found) {
  const Data& d = data();
  const auto t0 = Clock::now();
  std::size_t found = 0;
  for (std::size_t i = 0; i < kN; ++i) found += found_size<T>(m, keys[d.order[i]]) != 0;
  set_per_op(state, t0, kN);
  benchmark::DoNotOptimize(found);
  if (found != expect_found) state.SkipWithError("wrong lookup result");
}

// Once per benchmark iteration: builds a map of the kN entries (untimed), then runs op(state, map),
// which times itself.
template <class T, class Op>
void on_built_map(benchmark::State& state, Op&& op) {
  for (auto _ : state) {
    typename T::Map m;
    build<T>(m);
    op(state, m);
  }
}

template <class T>
void bm_lookup_hit(benchmark::State& state) {
  on_built_map<T>(state, [](benchmark::State& st, auto& m) { lookups<T>(st, m, data().keys, kN); });
}

template <class T>
void bm_lookup_miss(benchmark::State& state) {
  on_built_map<T>(state,
                  [](benchmark::State& st, auto& m) { lookups<T>(st, m, data().misses, 0); });
}

template <class T>
void bm_erase(benchmark::State& state) {
  on_built_map<T>(state, [](benchmark::State& st, auto& m) {
    const Data& d = data();
    const auto t0 = Clock::now();
    std::size_t erased = 0;
    for (std::size_t i = 0; i < kN; ++i) erased += T::erase(m, d.keys[d.order[i]]);
    set_per_op(st, t0, kN);
    if (erased != kN) st.SkipWithError("wrong erase result");
  });
}

template <class T>
void bm_churn(benchmark::State& state) {
  on_built_map<T>(state, [](benchmark::State& st, auto& m) {
    const Data& d = data();
    std::vector<std::string> live = d.keys;
    std::mt19937_64 rng(7);
    for (int round = 0; round < kChurnRounds; ++round) {
      // Erase 10% chosen at random (the chosen keys move to the tail of `live`), then insert as
      // many new keys in their place.
      for (std::size_t j = 0; j < kChurnBatch; ++j) {
        const std::size_t at = rng() % (live.size() - j);
        std::swap(live[at], live[live.size() - 1 - j]);
        T::erase(m, live[live.size() - 1 - j]);
      }
      for (std::size_t j = 0; j < kChurnBatch; ++j) {
        std::string k = random_key(rng, 'n');
        T::insert(m, k, d.values[j]);
        live[live.size() - 1 - j] = std::move(k);
      }
    }
    lookups<T>(st, m, live, kN);  // the timed part: every live key, in a random order
  });
}

template <class T>
void bm_iterate(benchmark::State& state) {
  on_built_map<T>(state, [](benchmark::State& st, auto& m) {
    const auto t0 = Clock::now();
    std::size_t n = 0;
    std::size_t bytes = 0;
    T::for_each(m, [&](const auto& k, const auto& v) {
      ++n;
      bytes += k.size() + v.size();
    });
    set_per_op(st, t0, kN);
    benchmark::DoNotOptimize(bytes);
    if (n != kN) st.SkipWithError("wrong iteration count");
  });
}

template <class T>
void bm_memory(benchmark::State& state) {
  data();
  for (auto _ : state) {
    const std::size_t before = g_live;
    g_peak = g_live;
    auto m = std::make_unique<typename T::Map>();
    const auto t0 = Clock::now();
    build<T>(*m);
    set_per_op(state, t0, kN);
    state.counters["bytes_per_entry"] = static_cast<double>(g_live - before) / kN;
    state.counters["peak_bytes_per_entry"] = static_cast<double>(g_peak - before) / kN;
  }
}

// ---- growth: the longest single insert and the peak table memory while growing ------------------

std::size_t growth_keys() {
  const char* e = std::getenv("TESSERA_GROWTH_KEYS");
  const long long v = e ? std::atoll(e) : 0;
  return v > 0 ? static_cast<std::size_t>(v) : 20'000'000;
}

using U64Seed = tessera::map::AutoHashMap<std::uint64_t, std::uint64_t>;
using U64Segmented = tessera::map::SegmentedHashMap<std::uint64_t, std::uint64_t,
                                                    tessera::map::AutoContext<std::uint64_t>>;
using U64Absl = absl::flat_hash_map<std::uint64_t, std::uint64_t>;

template <class M>
void insert_key(M& m, std::uint64_t k) {
  if constexpr (std::is_same_v<M, tessera::map::KvMap>) {
    char key[24];
    char value[32];
    const int n = std::snprintf(key, sizeof key, "key:%llu", static_cast<unsigned long long>(k));
    std::memset(value, 'v', sizeof value);
    m.put(std::string_view(key, static_cast<std::size_t>(n)),
          std::string_view(value, sizeof value));
  } else if constexpr (std::is_same_v<M, U64Absl>) {
    m.insert_or_assign(k, k);
  } else {
    m.put(k, k);
  }
}

template <class M>
std::size_t table_bytes(const M& m) {
  if constexpr (std::is_same_v<M, U64Absl>) {
    return m.capacity() * (sizeof(typename M::value_type) + 1);
  } else if constexpr (std::is_same_v<M, tessera::map::KvMap>) {
    return m.table_bytes();
  } else {
    return m.memory_bytes();
  }
}

template <class M>
void bm_growth(benchmark::State& state) {
  const std::size_t n = growth_keys();
  for (auto _ : state) {
    const std::size_t base = g_live;
    g_peak = g_live;
    auto m = std::make_unique<M>();
    std::uint64_t longest_ns = 0;
    std::uint64_t over_1ms = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::uint64_t k = 0; k < n; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      insert_key(*m, k * 0x9e3779b97f4a7c15ull);
      const auto ns =
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count());
      longest_ns = std::max(longest_ns, ns);
      over_1ms += ns > 1'000'000;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds / static_cast<double>(n));
    const std::size_t held = g_live - base;
    const std::size_t table = table_bytes(*m);
    // Everything held beyond the final state at the peak was transient table memory (the entries
    // only ever grow here).
    state.counters["peak_table_ratio"] =
        1.0 + static_cast<double>(g_peak - base - held) / static_cast<double>(table);
    state.counters["longest_insert_us"] = static_cast<double>(longest_ns) / 1000.0;
    state.counters["inserts_over_1ms"] = static_cast<double>(over_1ms);
    state.counters["table_bytes_per_key"] = static_cast<double>(table) / static_cast<double>(n);
    if constexpr (!std::is_same_v<M, U64Absl> && !std::is_same_v<M, U64Seed>) {
      const auto st = m->stats();
      state.counters["longest_step_us"] = static_cast<double>(st.longest_step_ns) / 1000.0;
      state.counters["longest_step_moves"] = static_cast<double>(st.longest_step_moves);
      state.counters["segments"] = static_cast<double>(st.segments);
    }
  }
}

void reg_growth(const char* name, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark((std::string("growth/") + name).c_str(), fn)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kNanosecond);
}

template <class T>
void reg(const char* op, void (*fn)(benchmark::State&)) {
  benchmark::RegisterBenchmark((std::string(op) + "/" + T::kName).c_str(), fn)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kNanosecond);
}

// One op for every map, one after the other, so that the figures compared sit close in time.
#define TESSERA_REGISTER_OP(op)            \
  reg<Tessera>(#op, bm_##op<Tessera>);     \
  reg<Segmented>(#op, bm_##op<Segmented>); \
  reg<Absl>(#op, bm_##op<Absl>);           \
  reg<Boost>(#op, bm_##op<Boost>);         \
  reg<Std>(#op, bm_##op<Std>);             \
  reg<Kv>(#op, bm_##op<Kv>)

}  // namespace

int main(int argc, char** argv) {
  TESSERA_REGISTER_OP(insert);
  TESSERA_REGISTER_OP(lookup_hit);
  TESSERA_REGISTER_OP(lookup_miss);
  TESSERA_REGISTER_OP(erase);
  TESSERA_REGISTER_OP(churn);
  TESSERA_REGISTER_OP(iterate);
  TESSERA_REGISTER_OP(memory);
  reg_growth("tessera", bm_growth<U64Seed>);
  reg_growth("segmented", bm_growth<U64Segmented>);
  reg_growth("absl", bm_growth<U64Absl>);
  reg_growth("kvmap", bm_growth<tessera::map::KvMap>);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
