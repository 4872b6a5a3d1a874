// Shards: the share-nothing core of the server, threading only.
//
// A shard is one thread running one io_context, which hosts the shard's Store (its keyspace,
// store/store.hpp) and a share of the client connections. Only that thread ever touches the store,
// the counters or the connection list of its shard; other threads reach a shard by posting a
// closure to its io_context (ShardSet::post), which also gives the happens-before edge for
// whatever the closure reads. Nothing here takes a lock besides the one inside io_context's queue.
// What a data operation means is the Store's business; how an operation travels to its shard is
// the session's (KeyOp, session/session.hpp) and shard_calls.hpp's. Operations on several shards
// that must be atomic hold the shards they involve (shard_hold.hpp): while a shard is held, the
// work that would touch its store waits in the shard's FIFO (Shard::when_free).
//
// A key's shard is fastrange(hash_string(key, shard seed)) on the hash's top 32 bits: the map's
// own hash with the process's hash seed (StoreSettings::hash_seed, random per start unless
// --hash-seed fixes it) XOR a constant of the shard layer's, so the shard choice shares no bits
// with the hash the maps derive their directory bits, buckets and fingerprints from (the hash seed
// itself): within a shard the map still sees well-spread hashes, and nobody who does not know the
// seed can aim keys at one shard.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/intrusive/list.hpp>
#include <tessera/map/hash.hpp>
#include <tessera/server/network/client_record.hpp>
#include <tessera/server/shard/shard_limits.hpp>
#include <tessera/server/store/store.hpp>

namespace tessera::server {

namespace asio = boost::asio;

// Counters of one shard, touched only by its own thread (INFO reads them through a hop).
struct ShardCounters {
  std::uint64_t commands = 0;  // commands run by connections hosted on this shard
  std::uint64_t connections_received = 0;
};

// A client connection as its shard sees it, for the idle sweep and for shutdown. Linked into its
// shard's list while the connection runs; the auto-unlink hook takes it out when it is destroyed,
// however the connection ends. Only the shard's thread touches it.
using ConnectionListHook =
    boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;
class ConnectionHook : public ConnectionListHook {
 public:
  virtual ~ConnectionHook() = default;
  // Stop reading; finish writing what was computed; then end. Idempotent.
  virtual void shut_down() = 0;
  // Close at once (idle timeout): pending operations complete with an error.
  virtual void close_now() = 0;
  // Give back the buffers kept for the next request (the connection is idle). A no-op unless the
  // connection is waiting for input.
  virtual void release_idle_memory() = 0;
  // CLIENT LIST / INFO / KILL (network/client_record.hpp); on this shard's thread.
  virtual std::uint64_t client_id() const = 0;
  virtual ClientRecord describe() const = 0;
  std::uint64_t last_active_s = 0;  // shard clock (seconds) of the last read or write
  bool timeout_exempt = false;      // a monitor: never closed by the idle timeout (as in Redis)
};
// auto_unlink hooks require a list without a stored size (size() counts: INFO only).
using ConnectionList =
    boost::intrusive::list<ConnectionHook, boost::intrusive::constant_time_size<false>>;

// A move-only nullary callable (work queued behind a shard hold; asio handlers are move-only).
class DeferredWork {
 public:
  DeferredWork() = default;
  template <class F>
  explicit DeferredWork(F f) : impl_(std::make_unique<Impl<F>>(std::move(f))) {}
  void operator()() { impl_->run(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void run() = 0;
  };
  template <class F>
  struct Impl final : Base {
    explicit Impl(F f) : f(std::move(f)) {}
    void run() override { f(); }
    F f;
  };
  std::unique_ptr<Base> impl_;
};

// A shard's io_context, with execution_context::shutdown() reachable: ~ShardSet destroys every
// shard's queued handlers before it destroys any shard (see there).
class ShardContext : public asio::io_context {
 public:
  using asio::execution_context::shutdown;
  using asio::io_context::io_context;
};

class Shard {
 public:
  Shard(unsigned id, const StoreSettings* settings, unsigned shard_count);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  unsigned id() const { return id_; }
  asio::io_context& context() { return context_; }
  // Destroys the handlers still queued (the threads must have stopped); see ~ShardSet.
  // Work waiting behind a hold may own a connection's coroutine as well.
  void destroy_queued_handlers() {
    waiting_.clear();
    context_.shutdown();
  }
  // Only from this shard's thread.
  Store& store() { return store_; }
  ShardCounters& counters() { return counters_; }
  ConnectionList& connections() { return connections_; }
  // Seconds since start, advanced by the shard's own once-a-second timer (cheap "now" for
  // timeouts).
  std::uint64_t clock_s() const { return clock_s_; }
  void set_clock_s(std::uint64_t s) { clock_s_ = s; }

  // ---- holds (shard_hold.hpp); only from this shard's thread ----
  // The owner (a session id) holding this shard, 0 when free. While held, only the owner touches
  // the store; every other piece of work that would touch it goes through when_free().
  std::uint64_t holder() const { return holder_; }
  // Runs `work` now when the shard is free, else queues it until the release (FIFO).
  template <class F>
  void when_free(F&& work) {
    if (holder_ == 0) {
      work();
    } else {
      waiting_.emplace_back(std::forward<F>(work));
    }
  }
  void hold(std::uint64_t owner) { holder_ = owner; }
  // Drops the hold, then runs the waiting work in order until some of it holds the shard again.
  void release();

 private:
  unsigned id_;
  Store store_;
  ShardCounters counters_;
  ConnectionList connections_;
  std::uint64_t clock_s_ = 0;
  std::uint64_t holder_ = 0;
  std::deque<DeferredWork> waiting_;
  // Declared last so that it is destroyed first: destroying it destroys the handlers (connection
  // coroutines) still queued, whose connections unlink from connections_ on their way out.
  ShardContext context_{1};
};

// XORed into the hash seed for the shard choice (any constant but 0 would do).
inline constexpr std::uint64_t kShardSeedSalt = 0x7e55e7a5eed5a1a7ULL;

class ShardSet {
 public:
  // The stores read `settings` (clock, memory limit, eviction policy), which must outlive the set;
  // without, a default (system clock, no limit) owned by the set.
  explicit ShardSet(unsigned count, const StoreSettings* settings = nullptr);
  ~ShardSet();
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  // Starts one thread per shard, each running its io_context until stop(), with the active expiry
  // cycle on each (every kExpireTick, inline on the shard's thread, kExpireBudget of its own time
  // at most, in slices of kExpireSlice between which the shard serves what is queued).
  void start();
  static constexpr auto kExpireTick = std::chrono::milliseconds(100);      // Redis's hz 10
  static constexpr auto kExpireBudget = std::chrono::microseconds(25000);  // 25% of a tick
  static constexpr auto kExpireSlice = std::chrono::microseconds(50);      // then yield
  const StoreSettings& settings() const { return *settings_; }
  // Stops every io_context and joins the threads. Handlers still queued are destroyed, not run,
  // when the set is destroyed.
  void stop();

  unsigned size() const { return static_cast<unsigned>(shards_.size()); }
  Shard& shard(unsigned i) { return *shards_[i]; }
  unsigned shard_of(std::string_view key) const {
    // fastrange on the top 32 bits: size() <= kMaxShards, so the product fits in 64 bits.
    const map::Hash h = map::hash_string(key, shard_seed_);
    return static_cast<unsigned>(((h >> 32) * size()) >> 32);
  }
  // Runs f() on shard i's thread, later (never inline, even when called from that thread).
  template <class F>
  void post(unsigned i, F&& f) {
    asio::post(shards_[i]->context(), std::forward<F>(f));
  }
  // False once stop() began: nothing may be posted to the shards any more (they may be gone).
  bool running() const { return running_.load(std::memory_order_acquire); }
  // Sum of the shards' published store bytes; any thread.
  std::uint64_t used_memory() const;
  // Sum of the shards' published counts of keys with a deadline; any thread.
  std::uint64_t deadline_keys() const;

 private:
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::unique_ptr<StoreSettings> own_settings_;
  const StoreSettings* settings_;
  std::uint64_t shard_seed_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
};

}  // namespace tessera::server
