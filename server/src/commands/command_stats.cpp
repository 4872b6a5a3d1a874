// Command statistics: per-thread blocks, summed when read (design note in
// tessera/server/commands/command_stats.hpp).
#include <tessera/server/commands/command_stats.hpp>

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include <tessera/server/commands/latency_histogram.hpp>

namespace tessera::server::command_stats {

namespace {

// Redis 7.0's ERROR_STATS_NUMBER: distinct error prefixes tracked.
constexpr unsigned kMaxErrorPrefixes = 128;
constexpr std::size_t kMaxPrefixLen = 64;

// Owner thread: a load and a store (nobody else writes the counter).
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct PerCommand {
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> ns{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> failed{0};
  // Allocated by the owner on the first call, published with release.
  std::atomic<LatencyHistogram*> latency{nullptr};
};

struct ErrorSlot {
  std::array<char, kMaxPrefixLen> prefix{};
  std::size_t len = 0;
  std::atomic<std::uint64_t> count{0};
};

// One thread's counters. Only that thread writes them; any thread reads them under the registry's
// mutex (which keeps the block alive: a thread unregisters it before freeing it).
struct Block {
  explicit Block(unsigned commands)
      : commands(std::make_unique<PerCommand[]>(commands + 1)), n(commands) {}
  ~Block() {
    for (unsigned i = 0; i <= n; ++i) delete commands[i].latency.load(std::memory_order_relaxed);
  }
  std::unique_ptr<PerCommand[]> commands;
  unsigned n;
  std::array<ErrorSlot, kMaxErrorPrefixes> errors;
  std::atomic<unsigned> error_prefixes{0};  // slots in use, published with release
  std::atomic<std::uint64_t> error_replies{0};
};

// Raw sums (not yet less the baseline).
struct Totals {
  std::vector<CommandFigures> commands;
  std::map<std::string, std::uint64_t, std::less<>> errors;
  std::uint64_t error_replies = 0;
};

void add_block(Totals& t, const Block& b) {
  if (t.commands.size() < b.n + 1) t.commands.resize(b.n + 1);
  for (unsigned i = 1; i <= b.n; ++i) {
    const PerCommand& c = b.commands[i];
    CommandFigures& f = t.commands[i];
    f.calls += c.calls.load(std::memory_order_relaxed);
    f.ns += c.ns.load(std::memory_order_relaxed);
    f.rejected += c.rejected.load(std::memory_order_relaxed);
    f.failed += c.failed.load(std::memory_order_relaxed);
    if (const LatencyHistogram* h = c.latency.load(std::memory_order_acquire)) h->add_to(f.latency);
  }
  const unsigned used = b.error_prefixes.load(std::memory_order_acquire);
  for (unsigned i = 0; i < used; ++i) {
    const ErrorSlot& e = b.errors[i];
    t.errors[std::string(e.prefix.data(), e.len)] += e.count.load(std::memory_order_relaxed);
  }
  t.error_replies += b.error_replies.load(std::memory_order_relaxed);
}

void add_totals(Totals& into, const Totals& t) {
  if (into.commands.size() < t.commands.size()) into.commands.resize(t.commands.size());
  for (std::size_t i = 0; i < t.commands.size(); ++i) {
    CommandFigures& f = into.commands[i];
    const CommandFigures& g = t.commands[i];
    f.calls += g.calls;
    f.ns += g.ns;
    f.rejected += g.rejected;
    f.failed += g.failed;
    if (!g.latency.empty()) {
      f.latency.resize(g.latency.size());
      for (std::size_t b = 0; b < g.latency.size(); ++b) f.latency[b] += g.latency[b];
    }
  }
  for (const auto& [prefix, count] : t.errors) into.errors[prefix] += count;
  into.error_replies += t.error_replies;
}

struct Registry {
  std::mutex mutex;
  std::vector<Block*> live;
  Totals retired;   // what exited threads counted
  Totals baseline;  // the raw sums at the last RESETSTAT

  Totals raw_locked() {
    Totals t;
    add_totals(t, retired);
    for (const Block* b : live) add_block(t, *b);
    return t;
  }
};

// Never destroyed: threads may exit (and fold their block in) during static destruction.
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

// The calling thread's block: the pointer is constant-initialized (a plain TLS load on the hot
// path); the owner object, touched only when the block is made, folds it into the registry's
// retired totals when the thread exits.
constinit thread_local Block* tls_block = nullptr;
struct BlockOwner {
  Block* block = nullptr;
  ~BlockOwner() {
    if (block == nullptr) return;
    Registry& r = registry();
    {
      std::lock_guard lock(r.mutex);
      add_block(r.retired, *block);
      std::erase(r.live, block);
    }
    tls_block = nullptr;
    delete block;
  }
};
thread_local BlockOwner tls_owner;

Block& make_block() {
  auto block = std::make_unique<Block>(count());
  Registry& r = registry();
  {
    std::lock_guard lock(r.mutex);
    r.live.push_back(block.get());
  }
  tls_owner.block = block.get();
  tls_block = block.release();
  return *tls_block;
}

inline Block& here() {
  if (tls_block != nullptr) [[likely]]
    return *tls_block;
  return make_block();
}

// "-WRONGTYPE Operation..." -> "WRONGTYPE" (afterErrorReply: the first word of the error).
std::string_view error_prefix(std::string_view reply) {
  if (!reply.empty() && reply.front() == '-') reply.remove_prefix(1);
  const std::size_t end = reply.find_first_of(" \r\n");
  return reply.substr(0,
                      std::min(end == std::string_view::npos ? reply.size() : end, kMaxPrefixLen));
}

void count_error(Block& b, std::string_view reply) {
  bump(b.error_replies);
  const std::string_view prefix = error_prefix(reply);
  const unsigned used = b.error_prefixes.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < used; ++i) {
    ErrorSlot& e = b.errors[i];
    if (std::string_view(e.prefix.data(), e.len) == prefix) {
      bump(e.count);
      return;
    }
  }
  if (used == kMaxErrorPrefixes) return;
  ErrorSlot& e = b.errors[used];
  std::memcpy(e.prefix.data(), prefix.data(), prefix.size());
  e.len = prefix.size();
  e.count.store(1, std::memory_order_relaxed);
  b.error_prefixes.store(used + 1, std::memory_order_release);
}

}  // namespace

void record_call(unsigned index, std::uint64_t ns, bool failed) {
  PerCommand& c = here().commands[index];
  bump(c.calls);
  bump(c.ns, ns);
  if (failed) bump(c.failed);
  LatencyHistogram* h = c.latency.load(std::memory_order_relaxed);
  if (h == nullptr) [[unlikely]] {
    h = new LatencyHistogram;
    c.latency.store(h, std::memory_order_release);
  }
  h->record(ns);
}

void record_rejected(unsigned index) { bump(here().commands[index].rejected); }

void record_error_reply(std::string_view reply) {
  if (!reply.empty()) count_error(here(), reply);
}

void record_failed_op(unsigned index, std::string_view reply) {
  Block& b = here();
  if (index != 0) bump(b.commands[index].failed);
  count_error(b, reply);
}

std::uint64_t errors_counted_here() { return here().error_replies.load(std::memory_order_relaxed); }

Snapshot snapshot() {
  Registry& r = registry();
  Totals raw;
  Totals base;
  {
    std::lock_guard lock(r.mutex);
    raw = r.raw_locked();
    base = r.baseline;
  }
  Snapshot s;
  s.commands.resize(std::max<std::size_t>(raw.commands.size(), count() + 1));
  for (std::size_t i = 0; i < raw.commands.size(); ++i) {
    CommandFigures f = std::move(raw.commands[i]);
    if (i < base.commands.size()) {
      const CommandFigures& b = base.commands[i];
      f.calls -= b.calls;
      f.ns -= b.ns;
      f.rejected -= b.rejected;
      f.failed -= b.failed;
      for (std::size_t k = 0; k < b.latency.size() && k < f.latency.size(); ++k) {
        f.latency[k] -= b.latency[k];
      }
    }
    if (f.calls == 0) f.latency.clear();
    s.commands[i] = std::move(f);
  }
  for (auto& [prefix, n] : raw.errors) {
    const auto b = base.errors.find(prefix);
    const std::uint64_t since = n - (b == base.errors.end() ? 0 : b->second);
    if (since != 0) s.errors.emplace_back(prefix, since);
  }
  s.error_replies = raw.error_replies - base.error_replies;
  return s;
}

void reset() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.baseline = r.raw_locked();
}

void write_commandstats(std::string& out, const Snapshot& s) {
  for (std::size_t i = 1; i < s.commands.size(); ++i) {
    const CommandFigures& f = s.commands[i];
    if (f.calls == 0 && f.rejected == 0 && f.failed == 0) continue;
    const double usec = static_cast<double>(f.ns) / 1000.0;
    fmt::format_to(std::back_inserter(out),
                   "cmdstat_{}:calls={},usec={},usec_per_call={:.2f},rejected_calls={},"
                   "failed_calls={}\r\n",
                   name_of(static_cast<unsigned>(i)), f.calls, f.ns / 1000,
                   f.calls == 0 ? 0.0 : usec / static_cast<double>(f.calls), f.rejected, f.failed);
  }
}

void write_errorstats(std::string& out, const Snapshot& s) {
  for (const auto& [prefix, n] : s.errors) {
    fmt::format_to(std::back_inserter(out), "errorstat_{}:count={}\r\n", prefix, n);
  }
}

void write_latencystats(std::string& out, const Snapshot& s) {
  for (std::size_t i = 1; i < s.commands.size(); ++i) {
    const CommandFigures& f = s.commands[i];
    if (f.calls == 0 || f.latency.empty()) continue;
    auto usec = [&](double p) {
      return static_cast<double>(value_at_percentile(f.latency, p)) / 1000.0;
    };
    fmt::format_to(std::back_inserter(out),
                   "latency_percentiles_usec_{}:p50={:.3f},p99={:.3f},p99.9={:.3f}\r\n",
                   name_of(static_cast<unsigned>(i)), usec(50), usec(99), usec(99.9));
  }
}

}  // namespace tessera::server::command_stats
