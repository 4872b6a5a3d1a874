// The Prometheus exposition (design note in tessera/server/commands/metrics.hpp).
#include <tessera/server/commands/metrics.hpp>

#include <malloc.h>
#include <unistd.h>

#include <spdlog/fmt/fmt.h>

#include <array>
#include <chrono>
#include <fstream>
#include <string_view>

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESSERA_ASAN 1
#endif
#endif
#if TESSERA_ASAN
// The sanitizer runtime's (GCC's and clang's); declared here because GCC ships no header for it.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/commands/latency_histogram.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

// What the process has allocated from glibc's malloc, every arena (mallinfo2: the bytes in use in
// the arenas plus the chunks mmap()ed directly): Redis's used_memory, which counts everything
// (connections' buffers, the tables, the values), not only the store.
// Under AddressSanitizer malloc is the sanitizer's, and mallinfo2 reports zeros: ask it instead.
std::uint64_t process_allocated_bytes() {
#if TESSERA_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 mi = ::mallinfo2();
  return static_cast<std::uint64_t>(mi.uordblks) + static_cast<std::uint64_t>(mi.hblkhd);
#endif
}

std::uint64_t process_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

ShardFigures read_shard_figures(Shard& shard) {
  const map::MapStats map = shard.store().map_stats();
  const StoreCounters& c = shard.store().counters();
  return {.keys = map.count,
          .deadline_keys = shard.store().deadline_count(),
          .store_bytes = map.memory_bytes,
          .expired = c.expired_keys,
          .evicted = c.evicted_keys,
          .hits = c.keyspace_hits,
          .misses = c.keyspace_misses,
          .commands = shard.counters().commands,
          .connections = static_cast<std::uint64_t>(shard.connections().size())};
}

namespace {

// The histogram's upper bounds, in seconds (10 µs to 1 s; LatencyHistogram clamps at 1 s).
constexpr std::array<double, 16> kBounds = {1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                            5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 0.5,  1.0};

// A label value in the exposition format: backslash, double quote and newline escaped.
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <class V>
  void sample(std::string_view name, std::string_view labels, V value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  // One family with one sample per shard.
  template <class F>
  void per_shard(std::string_view name, std::string_view type, std::string_view help,
                 std::span<const ShardFigures> shards, F value) {
    family(name, type, help);
    for (std::size_t i = 0; i < shards.size(); ++i) {
      sample(name, fmt::format("shard=\"{}\"", i), value(shards[i]));
    }
  }

 private:
  std::string& out_;
};

void write_commands(Writer& w, const command_stats::Snapshot& s) {
  auto each = [&](auto fn) {
    for (std::size_t i = 1; i < s.commands.size(); ++i) {
      const auto& f = s.commands[i];
      if (f.calls == 0 && f.rejected == 0 && f.failed == 0) continue;
      fn(fmt::format("cmd=\"{}\"", label(command_stats::name_of(static_cast<unsigned>(i)))), f);
    }
  };
  w.family("tessera_commands_total", "counter",
           "Commands run, by command (INFO commandstats calls)");
  each(
      [&](const std::string& l, const auto& f) { w.sample("tessera_commands_total", l, f.calls); });
  w.family("tessera_commands_rejected_total", "counter",
           "Commands refused before they ran (unknown, arity, NOAUTH, OOM...), by command");
  each([&](const std::string& l, const auto& f) {
    w.sample("tessera_commands_rejected_total", l, f.rejected);
  });
  w.family("tessera_commands_failed_total", "counter",
           "Commands that ran and answered an error, by command");
  each([&](const std::string& l, const auto& f) {
    w.sample("tessera_commands_failed_total", l, f.failed);
  });
  w.family("tessera_command_duration_seconds", "histogram",
           "Time of a command's handler on its connection's shard, by command");
  each([&](const std::string& l, const auto& f) {
    std::array<std::uint64_t, kBounds.size()> at_most{};
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < f.latency.size(); ++b) {
      const std::uint64_t n = f.latency[b];
      if (n == 0) continue;
      total += n;
      // A sample counts under the first bound its bucket's highest value fits (buckets are under
      // 1% wide, so this reads at most 1% high).
      const double seconds =
          static_cast<double>(LatencyHistogram::highest_value_of(static_cast<unsigned>(b))) / 1e9;
      for (std::size_t k = 0; k < kBounds.size(); ++k) {
        if (seconds <= kBounds[k]) {
          at_most[k] += n;
          break;
        }
      }
    }
    std::uint64_t running = 0;
    for (std::size_t k = 0; k < kBounds.size(); ++k) {
      running += at_most[k];
      w.sample("tessera_command_duration_seconds_bucket",
               fmt::format("{},le=\"{}\"", l, kBounds[k]), running);
    }
    w.sample("tessera_command_duration_seconds_bucket", l + ",le=\"+Inf\"", total);
    w.sample("tessera_command_duration_seconds_sum", l, static_cast<double>(f.ns) / 1e9);
    w.sample("tessera_command_duration_seconds_count", l, total);
  });
  w.family("tessera_errors_total", "counter", "Error replies by prefix (INFO errorstats)");
  for (const auto& [prefix, n] : s.errors) {
    w.sample("tessera_errors_total", fmt::format("prefix=\"{}\"", label(prefix)), n);
  }
  w.family("tessera_error_replies_total", "counter", "Error replies (INFO total_error_replies)");
  w.sample("tessera_error_replies_total", "", s.error_replies);
}

}  // namespace

std::string metrics_text(const ServerState& state, std::span<const ShardFigures> shards) {
  std::string out;
  Writer w(out);
  w.family("tessera_info", "gauge", "Tessera's version and the Redis version it follows");
  w.sample("tessera_info", "version=\"" TESSERA_VERSION "\",redis_version=\"7.0.15\"", 1);
  w.family("tessera_uptime_seconds", "gauge", "Seconds since the server started");
  w.sample("tessera_uptime_seconds", "",
           std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                            state.started)
               .count());
  w.per_shard("tessera_keys", "gauge", "Keys in each shard's store (DBSIZE's share)", shards,
              [](const ShardFigures& f) { return f.keys; });
  w.per_shard("tessera_keys_with_deadline", "gauge", "Keys with an expiry in each shard", shards,
              [](const ShardFigures& f) { return f.deadline_keys; });
  w.per_shard("tessera_store_memory_bytes", "gauge",
              "Bytes each shard's store holds (entries and table; what maxmemory counts)", shards,
              [](const ShardFigures& f) { return f.store_bytes; });
  w.per_shard("tessera_expired_keys_total", "counter", "Keys removed because they expired", shards,
              [](const ShardFigures& f) { return f.expired; });
  w.per_shard("tessera_evicted_keys_total", "counter", "Keys evicted under maxmemory", shards,
              [](const ShardFigures& f) { return f.evicted; });
  w.per_shard("tessera_keyspace_hits_total", "counter", "Reads that found their key", shards,
              [](const ShardFigures& f) { return f.hits; });
  w.per_shard("tessera_keyspace_misses_total", "counter", "Reads that did not find their key",
              shards, [](const ShardFigures& f) { return f.misses; });
  w.per_shard("tessera_shard_commands_total", "counter",
              "Commands run by the connections each shard hosts", shards,
              [](const ShardFigures& f) { return f.commands; });
  w.per_shard("tessera_shard_connections", "gauge", "Client connections each shard hosts", shards,
              [](const ShardFigures& f) { return f.connections; });
  w.family("tessera_connected_clients", "gauge", "Client connections (INFO connected_clients)");
  w.sample("tessera_connected_clients", "",
           state.connected_clients.load(std::memory_order_relaxed));
  w.family("tessera_connections_received_total", "counter", "Connections accepted");
  w.sample("tessera_connections_received_total", "",
           state.total_connections.load(std::memory_order_relaxed));
  w.family("tessera_rejected_connections_total", "counter", "Connections refused by maxclients");
  w.sample("tessera_rejected_connections_total", "",
           state.rejected_connections.load(std::memory_order_relaxed));
  w.family("tessera_memory_used_bytes", "gauge",
           "Bytes the process has allocated (INFO used_memory)");
  w.sample("tessera_memory_used_bytes", "", process_allocated_bytes());
  w.family("tessera_memory_max_bytes", "gauge", "maxmemory (0: no limit)");
  w.sample("tessera_memory_max_bytes", "", state.store.maxmemory.load(std::memory_order_relaxed));
  w.family("process_resident_memory_bytes", "gauge", "Resident memory of the process");
  w.sample("process_resident_memory_bytes", "", process_rss_bytes());
  const command_stats::Snapshot stats = command_stats::snapshot();
  write_commands(w, stats);
  return out;
}

}  // namespace tessera::server
