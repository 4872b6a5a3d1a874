// Shards: threads, io_contexts, and the shard set (design note in
// tessera/server/shard/shard_set.hpp).
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

Shard::Shard(unsigned id) : id_(id) {}

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
  for (const auto& s : shards_) sum += s->store().memory_bytes();
  return sum;
}

}  // namespace tessera::server
