// Shards: the share-nothing core of the server.
//
// A shard is one thread running one io_context, which hosts both the shard's KvMap and a share of
// the client connections. Only that thread ever touches the map, the counters or the connection
// list of its shard; other threads reach a shard by posting a closure to its io_context
// (ShardSet::post), which also gives the happens-before edge for whatever the closure reads.
// Nothing here takes a lock besides the one inside io_context's queue.
//
// A key's shard is fastrange(mix(hash(key)), n) with a hash of our own (seeded, 8 bytes at a time),
// so it shares no bits with the hash the map derives its buckets and fingerprints from: within a
// shard the map still sees well-spread hashes.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <tessera/map/kv_map.hpp>

namespace tessera::server {

namespace asio = boost::asio;

// The data operations a command is made of; each runs on the key's owning shard.
enum class OpKind : std::uint8_t {
  kGet,        // reply: bulk or null
  kSet,        // reply: +OK, or per kSetNx/kSetXx/kSetGet
  kSetSilent,  // MSET's part: no reply bytes
  kDel,        // returns 1/0 (summed by the caller)
  kExists,     // returns 1/0 (summed by the caller)
  kStrlen,     // reply: integer
  kType,       // reply: +string or +none
};
inline constexpr std::uint8_t kSetNx = 1;
inline constexpr std::uint8_t kSetXx = 2;
inline constexpr std::uint8_t kSetGet = 4;

// Counters of one shard, touched only by its own thread (INFO reads them through a hop).
struct ShardCounters {
  std::uint64_t commands = 0;  // commands run by connections hosted on this shard
  std::uint64_t connections_received = 0;
  std::uint64_t growth_events = 0;      // puts during which the map grew or rehashed in place
  std::uint64_t longest_growth_ns = 0;  // the longest of those puts
  std::uint64_t last_growth_ns = 0;
  std::uint64_t keyspace_hits = 0;
  std::uint64_t keyspace_misses = 0;
};

// A client connection as its shard sees it, for the idle sweep and for shutdown. Lives in its
// shard's list from start to end of the connection; only the shard's thread touches it.
class ConnectionHook {
 public:
  virtual ~ConnectionHook() = default;
  // Stop reading; finish writing what was computed; then end. Idempotent.
  virtual void shut_down() = 0;
  // Close at once (idle timeout): pending operations complete with an error.
  virtual void close_now() = 0;
  std::uint64_t last_active_s = 0;  // shard clock (seconds) of the last read or write
};

class Shard {
 public:
  explicit Shard(unsigned id);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  unsigned id() const { return id_; }
  asio::io_context& context() { return context_; }
  // Only from this shard's thread.
  map::KvMap& map() { return map_; }
  ShardCounters& counters() { return counters_; }
  std::list<ConnectionHook*>& connections() { return connections_; }
  // Seconds since start, advanced by the shard's own once-a-second timer (cheap "now" for
  // timeouts).
  std::uint64_t clock_s() const { return clock_s_; }
  void set_clock_s(std::uint64_t s) { clock_s_ = s; }

  // Runs one data operation on this shard's map (only from this shard's thread). Appends the reply
  // bytes, if the operation has any, to `out`; returns 1/0 for kDel/kExists, 0 otherwise. An
  // allocation failure leaves the map unchanged (the map's strong guarantee) and replies
  // "-ERR out of memory" instead: it never throws.
  std::int64_t apply(OpKind kind, std::uint8_t flags, std::string_view key, std::string_view value,
                     std::string& out);
  // Removes every key (FLUSHALL), from this shard's thread.
  void clear();

  // The map's allocated bytes as last published by this shard's thread; any thread may read it
  // (maxmemory checks and INFO), so it is a relaxed atomic updated after each mutation.
  std::uint64_t memory_bytes() const { return memory_bytes_.load(std::memory_order_relaxed); }

 private:
  void publish_memory() { memory_bytes_.store(map_.memory_bytes(), std::memory_order_relaxed); }
  bool put_timed(std::string_view key, std::string_view value);
  std::int64_t apply_unchecked(OpKind kind, std::uint8_t flags, std::string_view key,
                               std::string_view value, std::string& out);

  unsigned id_;
  map::KvMap map_;
  ShardCounters counters_;
  std::list<ConnectionHook*> connections_;
  std::uint64_t clock_s_ = 0;
  std::atomic<std::uint64_t> memory_bytes_{0};
  // Declared last so that it is destroyed first: destroying it destroys the handlers (connection
  // coroutines) still queued, which unregister from connections_ on their way out.
  asio::io_context context_{1};
};

std::uint64_t shard_hash(std::string_view key);

class ShardSet {
 public:
  explicit ShardSet(unsigned count);
  ~ShardSet();
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;

  // Starts one thread per shard, each running its io_context until stop().
  void start();
  // Stops every io_context and joins the threads. Handlers still queued are destroyed, not run.
  void stop();

  unsigned size() const { return static_cast<unsigned>(shards_.size()); }
  Shard& shard(unsigned i) { return *shards_[i]; }
  unsigned shard_of(std::string_view key) const {
    // fastrange on the top 32 bits: size() <= 1024, so the product fits in 64 bits.
    return static_cast<unsigned>(((shard_hash(key) >> 32) * size()) >> 32);
  }
  // Runs f() on shard i's thread, later (never inline, even when called from that thread).
  template <class F>
  void post(unsigned i, F&& f) {
    asio::post(shards_[i]->context(), std::forward<F>(f));
  }
  // Sum of the shards' published map bytes; any thread.
  std::uint64_t used_memory() const;

 private:
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<WorkGuard> guards_;
  std::vector<std::thread> threads_;
};

}  // namespace tessera::server
