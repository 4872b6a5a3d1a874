// Command statistics: what INFO commandstats, errorstats, latencystats and the Stats section's
// total_error_replies report, and what CONFIG RESETSTAT clears.
//
// Where counting happens (all in commands/, none in the session):
//   - dispatch.cpp counts each command it runs (calls, duration, a latency sample) on the home
//     shard's thread, the commands its checks refuse (rejected_calls), and every error reply
//     written there (errorstat_<PREFIX>, total_error_replies; failed_calls when the command ran).
//     The duration is the handler's own time on the home shard: for a barrier (INFO, MSET, EXEC...)
//     its whole run, awaits included; for a command whose key lives on another shard, only the
//     dispatching (the key operation itself runs later, on that shard, as part of the batch).
//   - A key operation carries the command that made it (KeyOp::command, stamped from the thread's
//     current command while dispatch runs the handler), so an error reply it writes on whichever
//     shard runs it counts as that command's failure there (families.hpp guarded<>).
//
// Cost on the hot path: each thread counts into its own block (created on the thread's first
// command): plain loads and stores of relaxed atomics that no other thread writes, no
// read-modify-write and no shared cache line. Readers (INFO, any thread) sum every live block plus
// what exited threads left; RESETSTAT does not write other threads' counters but records the
// current sums as a baseline that later readings subtract. The statistics are the process's (one
// server per process; tests reset them first).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::server {

struct CommandSpec;

namespace command_stats {

// Dense indexes of commands and subcommands (1..count(); 0: none), from the command table.
unsigned count();
unsigned index_of(const CommandSpec& command, const CommandSpec* subcommand);
// "get", "config|get": the name Redis prints after cmdstat_ / latency_percentiles_usec_.
const std::string& name_of(unsigned index);

// ---- counting (any thread; each counts into its own block) ----
void record_call(unsigned index, std::uint64_t ns, bool failed);
void record_rejected(unsigned index);
// `reply` starts with an error reply ("-PREFIX message\r\n"): errorstat_PREFIX and
// total_error_replies. Redis keeps at most 128 distinct prefixes; later new ones count only in the
// total.
void record_error_reply(std::string_view reply);
// A key operation of command `index` wrote the error `reply` (on the thread running it).
void record_failed_op(unsigned index, std::string_view reply);
// Errors counted on this thread so far (dispatch uses it to tell whether a key operation that ran
// inline already counted the error it sees in the reply).
std::uint64_t errors_counted_here();

// ---- reading ----
struct CommandFigures {
  std::uint64_t calls = 0;
  std::uint64_t ns = 0;
  std::uint64_t rejected = 0;
  std::uint64_t failed = 0;
  std::vector<std::uint64_t> latency;  // LatencyHistogram buckets; empty when never called
};
struct Snapshot {
  std::vector<CommandFigures> commands;                       // by index (0 unused)
  std::vector<std::pair<std::string, std::uint64_t>> errors;  // by prefix, sorted
  std::uint64_t error_replies = 0;
};
// Since the last reset.
Snapshot snapshot();
// CONFIG RESETSTAT.
void reset();

// The INFO sections' lines (Redis 7.0.15's formats), one "name:value\r\n" each.
void write_commandstats(std::string& out, const Snapshot& s);
void write_errorstats(std::string& out, const Snapshot& s);
void write_latencystats(std::string& out, const Snapshot& s);

}  // namespace command_stats
}  // namespace tessera::server
