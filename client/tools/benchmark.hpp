// tessera-benchmark: a multi-threaded load generator on the async client, with redis-benchmark's
// flags and output formats for what it supports.
//
// Why it exists: redis-benchmark drives all of its connections from one thread by default, and on a
// 2-core machine that thread saturates before a multi-threaded server does. Here each of --threads
// threads runs its own io_context with its share of the -c connections; each connection is one
// coroutine that claims up to -P requests from a shared counter, writes them in one go and times
// every reply from the moment its batch was written (as redis-benchmark does). Latencies go into a
// per-thread LatencyHistogram, merged when the test ends.
//
// What is sent is what redis-benchmark sends: SET key:__rand_int__ <value> / GET key:__rand_int__ /
// PING, keys "key:%012d" of random() % r with -r (the literal "key:__rand_int__" without it), and
// values of -d bytes from redis-benchmark's fixed-seed generator. `ping` runs PING as a multibulk
// (PING_MBULK); the inline form is left out because twemproxy closes connections that use it.
#pragma once

#include <tessera/client/latency_histogram.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tessera::client::bench {

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::size_t clients = 50;         // -c
  std::uint64_t requests = 100000;  // -n
  std::size_t data_size = 3;        // -d
  std::uint64_t keyspace = 0;       // -r (0: the literal key "key:__rand_int__")
  std::size_t pipeline = 1;         // -P
  std::size_t threads = 0;          // --threads (0: one per hardware thread)
  std::vector<std::string> tests{"ping", "set", "get"};  // -t
  bool csv = false;                                      // --csv
  bool quiet = false;                                    // -q
  int precision = 3;                                     // --precision
  std::optional<std::string> password;                   // -a
  std::optional<std::string> user;                       // --user
  bool help = false;
};

// Parses argv (redis-benchmark's spelling). Throws std::invalid_argument with a message to print.
Options parse_options(int argc, const char* const* argv);
std::string usage();

// redis-benchmark's value bytes (genBenchmarkRandomData: a fixed-seed LCG, '0' + ((s >> 16) & 63)).
std::string benchmark_value(std::size_t size);
// "key:%012d" of n into out (16 bytes), as redis-benchmark's -r rewrites "key:__rand_int__".
void format_key(std::uint64_t n, char out[16]);

struct TestResult {
  std::string name;  // PING_MBULK, SET, GET
  std::uint64_t requests = 0;
  double seconds = 0;
  LatencyHistogram latency_ns;
  std::string error;  // non-empty: the run stopped on this error
  double rps() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
};

// Runs one test ("ping", "set" or "get") with the options' load shape.
TestResult run_test(const Options& options, const std::string& test);

std::string format_quiet(const TestResult& r, int precision);
std::string csv_header();
std::string format_csv(const TestResult& r, int precision);
std::string format_full(const TestResult& r, const Options& options);

}  // namespace tessera::client::bench
