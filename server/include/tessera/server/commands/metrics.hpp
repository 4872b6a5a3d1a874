// The Prometheus exposition of the server's figures (text format 0.0.4), which the metrics
// endpoint (network/metrics_server.hpp) serves at GET /metrics.
//
// What it shows, all read when scraped, nothing counted for it: per shard, what each shard's own
// thread reads of its store and counters (keys, keys with a deadline, store bytes, expired and
// evicted keys, hits and misses, commands, connections); per command, what INFO commandstats
// reports (calls, time, rejected and failed calls) and a latency histogram summed from the
// per-thread histograms INFO latencystats reads; errors by prefix (INFO errorstats); and the
// process's figures (allocated bytes as INFO's used_memory, RSS, connected clients, uptime).
// Counters are cumulative since start (CONFIG RESETSTAT does not reset them: Prometheus computes
// rates from them and expects them never to go down).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <tessera/server/config/server_state.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

// One shard's figures, read on its own thread.
struct ShardFigures {
  std::uint64_t keys = 0;
  std::uint64_t deadline_keys = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t expired = 0;
  std::uint64_t evicted = 0;
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t commands = 0;
  std::uint64_t connections = 0;
};
// On `shard`'s thread, with the shard free (not held by a session).
ShardFigures read_shard_figures(Shard& shard);

// The body of GET /metrics.
std::string metrics_text(const ServerState& state, std::span<const ShardFigures> shards);

// The process's memory as INFO memory reports it: what malloc has handed out (used_memory) and
// what is resident (used_memory_rss).
std::uint64_t process_allocated_bytes();
std::uint64_t process_rss_bytes();

}  // namespace tessera::server
