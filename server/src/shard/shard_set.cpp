// Shards: threads, io_contexts, and the shard set (design note in
// tessera/server/shard/shard_set.hpp).
#include <tessera/server/shard/shard_set.hpp>

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tessera::server {

Shard::Shard(unsigned id, const StoreSettings* settings, unsigned shard_count)
    : id_(id), store_(settings, shard_count) {}

void Shard::release() {
  holder_ = 0;
  while (holder_ == 0 && !waiting_.empty()) {
    DeferredWork work = std::move(waiting_.front());
    waiting_.pop_front();
    work();
  }
}

namespace {

// Once a store's memory fell this far below its peak, the freed pages go back to the OS.
constexpr std::uint64_t kTrimAfterFreeing = 8u << 20;

#if defined(__GLIBC__)
// Hands free heap pages back to the OS (malloc_trim) on a thread of its own: a trim walks every
// arena and can take a hundred milliseconds on a large heap, which no shard should wait for (a
// shard only waits if it allocates while its own arena is being trimmed). One trim at a time: it
// covers every arena, so a request while one runs is dropped.
class Trimmer {
 public:
  ~Trimmer() {
    if (thread_.joinable()) thread_.join();
  }
  void request() {
    if (running_.exchange(true)) return;
    // Only the caller that set the flag gets here; the previous trim has cleared it, so it is
    // finishing or finished and the join is short.
    if (thread_.joinable()) thread_.join();
    thread_ = std::thread([this] {
      const auto t0 = std::chrono::steady_clock::now();
      ::malloc_trim(0);
      spdlog::debug("malloc_trim after a wave of expiries took {} ms",
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t0)
                        .count());
      running_ = false;
    });
  }

 private:
  std::atomic<bool> running_{false};
  std::thread thread_;
};

Trimmer& trimmer() {
  static Trimmer t;
  return t;
}
#endif

// The active expiry cycle of one shard, on its own thread. Every tick it may spend up to
// kExpireBudget of its own time (Redis's 25% of a tick), in slices of kExpireSlice: after a slice
// that had more to do it yields to whatever the shard has queued (commands of its connections,
// hops from other shards, the reactor's poll) and goes on, so that a wave of expiries delays a GET
// by about one slice (tens of microseconds), not by the whole budget. The budget is wall time
// from the cycle's start (slices and what ran between them), as before slices: counting only the
// slices' own time made a cycle take more of a loaded machine's CPU, and the GETs of other
// clients slower (bench/compare --workloads expiry); the ticks keep their rate (a cycle longer
// than a tick delays the next one, never stacks them).
asio::awaitable<void> expire_loop(Shard& shard) {
  asio::steady_timer timer(shard.context());
  std::uint64_t peak = 0;
  std::uint64_t reseeds = 0;
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    next_tick = std::max(next_tick + ShardSet::kExpireTick, std::chrono::steady_clock::now());
    timer.expires_at(next_tick);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    // A held shard's store belongs to its holder (shard_hold.hpp): the cycle skips the tick, or
    // stops between slices, while the shard is held.
    if (shard.holder() != 0) continue;
    const std::uint64_t expired_before = shard.store().counters().expired_keys;
    const auto start = std::chrono::steady_clock::now();
    bool capped = false;
    shard.store().begin_expire_cycle();
    for (;;) {
      const bool more = shard.store().expire_slice(ShardSet::kExpireSlice);
      if (!more) break;
      if (std::chrono::steady_clock::now() - start >= ShardSet::kExpireBudget) {
        capped = true;
        break;
      }
      co_await asio::post(shard.context(), asio::use_awaitable);
      if (shard.holder() != 0) break;
    }
    // The cycle, not each slice, counts in expired_time_cap_reached_count (Redis's meaning).
    shard.store().end_expire_cycle(capped);
    // The map rehashed itself under a fresh seed: keys chosen to collide under the old one came in
    // (map/segmented_map.hpp, FLOODING). Worth a line in the log: someone knew the seed.
    if (const map::MapStats st = shard.store().map_stats(); st.reseeds != reseeds) {
      if (st.reseeds > reseeds) {
        spdlog::warn(
            "shard {}: keys colliding under the hash seed (long_probes={} lopsided_splits={} "
            "refused_doublings={}): rehashed the store under a fresh random seed (reseeds={})",
            shard.id(), st.long_probes, st.lopsided_splits, st.refused_doublings, st.reseeds);
      }
      reseeds = st.reseeds;  // FLUSHALL clears the count
    }
    const std::uint64_t bytes = shard.store().memory_bytes();
    peak = std::max(peak, bytes);
#if defined(__GLIBC__)
    // glibc keeps the blocks of reclaimed keys in its arenas; after a large wave of expiries
    // (a million keys with one TTL), hand the free pages back so that the RSS follows the keys
    // down, as FLUSHALL does (here on the trimmer's thread). Once the wave is over (a tick that
    // expired nothing): during it the cycle frees blocks all over the heap (it walks the table in
    // hash order), so few pages are wholly free until the end, and a trim per tick would cost much
    // and return little.
    const bool wave_over = shard.store().counters().expired_keys == expired_before;
    if (wave_over && peak - bytes >= kTrimAfterFreeing) {
      trimmer().request();
      peak = bytes;
    }
#endif
  }
}

}  // namespace

ShardSet::ShardSet(unsigned count, const StoreSettings* settings) {
  if (settings == nullptr) {
    own_settings_ = std::make_unique<StoreSettings>();
    settings = own_settings_.get();
  }
  settings_ = settings;
  shard_seed_ = settings->hash_seed ^ kShardSeedSalt;
  if (count == 0) count = 1;
  shards_.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<Shard>(i, settings, count));
  }
}

ShardSet::~ShardSet() {
  stop();
  // Every shard's work has stopped; now the handlers still queued are destroyed, on every shard,
  // before any shard is. A handler queued on one shard may own a coroutine of a connection whose
  // home is another (a hop, a leg of a session's chain): destroying it unwinds that coroutine,
  // which Asio does by posting to the home shard, and the unwinding closes the connection's socket
  // (its home reactor) and unlinks it from its home shard's list. So no shard may be gone yet, and
  // a second pass destroys what the first one posted. (Destroying the shards in index order used
  // to free shard 0 while shard 1 still queued a hop of one of shard 0's connections.)
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& s : shards_) s->destroy_queued_handlers();
  }
}

void ShardSet::start() {
  if (!threads_.empty()) return;
  running_.store(true, std::memory_order_release);
  for (auto& s : shards_) {
    guards_.emplace_back(s->context().get_executor());
    asio::co_spawn(s->context(), expire_loop(*s), asio::detached);
    threads_.emplace_back([ctx = &s->context()] { ctx->run(); });
  }
}

void ShardSet::stop() {
  running_.store(false, std::memory_order_release);
  for (auto& g : guards_) g.reset();
  guards_.clear();
  for (auto& s : shards_) s->context().stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::uint64_t ShardSet::used_memory() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s->store().memory_bytes();
  return sum;
}

std::uint64_t ShardSet::deadline_keys() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s->store().published_deadline_count();
  return sum;
}

}  // namespace tessera::server
