// Shards: threads, io_contexts, and the shard set (design note in
// tessera/server/shard/shard_set.hpp).
#include <tessera/server/shard/shard_set.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tessera::server {

Shard::Shard(unsigned id, const StoreSettings* settings, unsigned shard_count)
    : id_(id), store_(settings, shard_count) {}

namespace {

// The active expiry cycle of one shard, on its own thread: every tick, one time-boxed cycle.
asio::awaitable<void> expire_loop(Shard& shard) {
  asio::steady_timer timer(shard.context());
  for (;;) {
    timer.expires_after(ShardSet::kExpireTick);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    shard.store().active_expire_cycle(ShardSet::kExpireBudget);
  }
}

}  // namespace

ShardSet::ShardSet(unsigned count, const StoreSettings* settings) {
  if (settings == nullptr) {
    own_settings_ = std::make_unique<StoreSettings>();
    settings = own_settings_.get();
  }
  settings_ = settings;
  if (count == 0) count = 1;
  shards_.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    shards_.push_back(std::make_unique<Shard>(i, settings, count));
  }
}

ShardSet::~ShardSet() { stop(); }

void ShardSet::start() {
  if (!threads_.empty()) return;
  for (auto& s : shards_) {
    guards_.emplace_back(s->context().get_executor());
    asio::co_spawn(s->context(), expire_loop(*s), asio::detached);
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
  for (const auto& s : shards_) sum += s->store().memory_bytes();
  return sum;
}

std::uint64_t ShardSet::deadline_keys() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s->store().published_deadline_count();
  return sum;
}

}  // namespace tessera::server
