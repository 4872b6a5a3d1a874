// Shards and the data operations they run (design note in shard_set.hpp).
#include <tessera/server/shard_set.hpp>

#include <chrono>
#include <cstring>
#include <new>
#include <tessera/protocol/reply_writer.hpp>

namespace tessera::server {

namespace {
std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
std::uint64_t fmix64(std::uint64_t k) {  // MurmurHash3's finaliser
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}
}  // namespace

std::uint64_t shard_hash(std::string_view key) {
  // Seeded multiply-xor over 8-byte words, then a full avalanche: a hash of our own, so that the
  // shard choice (its top bits, via fastrange) is independent of the map's internal hash bits.
  constexpr std::uint64_t kSeed = 0x7e55e7a5eed5a1a7ULL;
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  std::uint64_t h = kSeed ^ (key.size() * kMul);
  const char* p = key.data();
  std::size_t n = key.size();
  while (n >= 8) {
    h = (h ^ fmix64(load64(p))) * kMul;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    std::uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h = (h ^ fmix64(tail ^ (static_cast<std::uint64_t>(n) << 56))) * kMul;
  }
  return fmix64(h);
}

Shard::Shard(unsigned id) : id_(id) {}

bool Shard::put_timed(std::string_view key, std::string_view value) {
  // Growth and in-place rehash run inline in the put that triggers them; time every put and keep
  // the ones during which the map's growth/rehash counters moved (the pause a client can see).
  const auto before = map_.stats();
  const auto t0 = std::chrono::steady_clock::now();
  const bool inserted = map_.put(key, value);
  const auto t1 = std::chrono::steady_clock::now();
  const auto after = map_.stats();
  if (after.grows != before.grows || after.rehashes != before.rehashes) {
    const auto ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
    ++counters_.growth_events;
    counters_.last_growth_ns = ns;
    if (ns > counters_.longest_growth_ns) counters_.longest_growth_ns = ns;
  }
  publish_memory();
  return inserted;
}

std::int64_t Shard::apply(OpKind kind, std::uint8_t flags, std::string_view key,
                          std::string_view value, std::string& out) {
  const std::size_t mark = out.size();
  try {
    return apply_unchecked(kind, flags, key, value, out);
  } catch (const std::bad_alloc&) {
    out.resize(mark);
    protocol::ReplyWriter(out).error("ERR out of memory");
    return 0;
  }
}

std::int64_t Shard::apply_unchecked(OpKind kind, std::uint8_t flags, std::string_view key,
                                    std::string_view value, std::string& out) {
  protocol::ReplyWriter w(out);
  switch (kind) {
    case OpKind::kGet: {
      auto v = map_.get(key);
      if (v) {
        ++counters_.keyspace_hits;
        w.bulk(*v);
      } else {
        ++counters_.keyspace_misses;
        w.null_bulk();
      }
      return 0;
    }
    case OpKind::kSet: {
      bool exists;
      if (flags & kSetGet) {
        auto old = map_.get(key);
        exists = old.has_value();
        if (exists) {
          w.bulk(*old);  // written before the put invalidates the view
        } else {
          w.null_bulk();
        }
      } else if (flags & (kSetNx | kSetXx)) {
        exists = map_.contains(key);
      } else {
        exists = false;
      }
      const bool blocked = ((flags & kSetNx) && exists) || ((flags & kSetXx) && !exists);
      if (!blocked) put_timed(key, value);
      if (!(flags & kSetGet)) {
        if (blocked) {
          w.null_bulk();
        } else {
          w.ok();
        }
      }
      return 0;
    }
    case OpKind::kSetSilent:
      put_timed(key, value);
      return 0;
    case OpKind::kDel: {
      const bool removed = map_.remove(key);
      if (removed) publish_memory();
      return removed ? 1 : 0;
    }
    case OpKind::kExists:
      return map_.contains(key) ? 1 : 0;
    case OpKind::kStrlen: {
      auto v = map_.get(key);
      w.integer(v ? static_cast<std::int64_t>(v->size()) : 0);
      return 0;
    }
    case OpKind::kType:
      w.simple(map_.contains(key) ? "string" : "none");
      return 0;
  }
  return 0;
}

void Shard::clear() {
  map_.clear();
  publish_memory();
}

ShardSet::ShardSet(unsigned count) {
  if (count == 0) count = 1;
  shards_.reserve(count);
  for (unsigned i = 0; i < count; ++i) shards_.push_back(std::make_unique<Shard>(i));
}

ShardSet::~ShardSet() { stop(); }

void ShardSet::start() {
  if (!threads_.empty()) return;
  for (auto& s : shards_) {
    guards_.emplace_back(s->context().get_executor());
    threads_.emplace_back([ctx = &s->context()] { ctx->run(); });
  }
}

void ShardSet::stop() {
  for (auto& g : guards_) g.reset();
  guards_.clear();
  for (auto& s : shards_) s->context().stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::uint64_t ShardSet::used_memory() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s->memory_bytes();
  return sum;
}

}  // namespace tessera::server
