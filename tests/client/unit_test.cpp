// Client pieces that need no server: the latency histogram, command encoding, pipelines, the
// benchmark's options, keys and values.
#include <doctest/doctest.h>

#include <tessera/client/client.hpp>
#include <tessera/client/latency_histogram.hpp>

#include "benchmark.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using namespace tessera::client;
using namespace std::string_literals;

TEST_CASE("histogram: indices are continuous and monotonic, bounds enclose every value") {
  using H = LatencyHistogram;
  std::size_t previous = 0;
  for (std::uint64_t v = 0; v < 300000; ++v) {
    std::size_t i = H::index_of(v);
    CHECK_LE(i, previous + 1);
    CHECK_GE(i, previous);
    previous = i;
  }
  std::mt19937_64 rng(7);
  for (int k = 0; k < 100000; ++k) {
    std::uint64_t v = rng() >> (rng() % 64);
    std::size_t i = H::index_of(v);
    REQUIRE(i < H::kCounters);
    CHECK_LE(H::lowest_at(i), v);
    CHECK_GE(H::highest_at(i), v);
    // relative width of a bucket: at most 1/512 of its values
    CHECK_LE(H::highest_at(i) - H::lowest_at(i), std::max<std::uint64_t>(v / 512, 0));
  }
  CHECK_EQ(H::index_of(~0ull), H::kCounters - 1);
  CHECK_EQ(H::highest_at(H::kCounters - 1), ~0ull);
}

TEST_CASE("histogram: percentiles within 0.2% of the exact ones, exact min max and mean, merge") {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.2);  // ~60 us median, long tail
  std::vector<std::uint64_t> values;
  LatencyHistogram a, b;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<std::uint64_t>(dist(rng)) + 1;
    values.push_back(v);
    (i % 2 ? a : b).record(v);
  }
  a.merge(b);
  std::sort(values.begin(), values.end());
  CHECK_EQ(a.count(), values.size());
  CHECK_EQ(a.min(), values.front());
  CHECK_EQ(a.max(), values.back());
  double sum = 0;
  for (auto v : values) sum += static_cast<double>(v);
  CHECK(a.mean() == doctest::Approx(sum / values.size()).epsilon(1e-9));
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    // The exact rank in integers (p * 100 is whole for every p here): ceil(p% of the count).
    const auto hundredths = static_cast<std::size_t>(std::llround(p * 100));
    const std::size_t rank = (hundredths * values.size() + 9999) / 10000;
    std::uint64_t exact = values[std::max<std::size_t>(rank, 1) - 1];
    std::uint64_t got = a.percentile(p);
    CAPTURE(p);
    CHECK_GE(got, exact);
    CHECK_LE(static_cast<double>(got), static_cast<double>(exact) * 1.002 + 1);
  }
  LatencyHistogram empty;
  CHECK_EQ(empty.percentile(99), 0u);
  CHECK_EQ(empty.min(), 0u);
  a.reset();
  CHECK_EQ(a.count(), 0u);
}

TEST_CASE("pipeline: commands are encoded as multibulk, binary-safe, integers in decimal") {
  Pipeline p;
  std::vector<std::string> keys{"a", "b\r\n"};
  p.set("k\0\r\n"s, "v").get("k").command("DEL", keys).command("EXPIRE", "k", 10).ping();
  CHECK_EQ(p.size(), 5u);
  CHECK_EQ(std::string(p.bytes()),
           "*3\r\n$3\r\nSET\r\n$4\r\nk\0\r\n\r\n$1\r\nv\r\n"s
           "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
           "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$3\r\nb\r\n\r\n"
           "*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n10\r\n"
           "*1\r\n$4\r\nPING\r\n");
  p.clear();
  CHECK(p.empty());
  CHECK(p.bytes().empty());
}

TEST_CASE("throw_if_error: error replies become ServerError with the reply's prefix") {
  Reply ok;
  ok.type = Reply::Type::kSimple;
  ok.str = "OK";
  CHECK_NOTHROW(throw_if_error(ok));
  Reply err;
  err.type = Reply::Type::kError;
  err.str = "WRONGTYPE Operation against a key holding the wrong kind of value";
  try {
    throw_if_error(err, "GET");
    FAIL("no exception");
  } catch (const ServerError& e) {
    CHECK_EQ(e.prefix(), "WRONGTYPE");
    CHECK_EQ(e.kind(), Error::Kind::kServer);
    CHECK(std::string(e.what()).find("GET") != std::string::npos);
  }
}

TEST_CASE("benchmark: values and keys are redis-benchmark's") {
  namespace bench = tessera::client::bench;
  // Measured from redis-benchmark 7.0.15 -d 16 (../shared/reference/redis-compat.md 3.2).
  CHECK_EQ(bench::benchmark_value(16), "VXKeHogKgJ=[5V9_");
  CHECK_EQ(bench::benchmark_value(3), "VXK");
  char key[16];
  bench::format_key(623, key);
  CHECK_EQ(std::string(key, 16), "key:000000000623");
  bench::format_key(999999999999ull, key);
  CHECK_EQ(std::string(key, 16), "key:999999999999");
}

TEST_CASE("benchmark: redis-benchmark's flags") {
  namespace bench = tessera::client::bench;
  const char* argv[] = {"tessera-benchmark",
                        "-h",
                        "localhost",
                        "-p",
                        "7000",
                        "-c",
                        "8",
                        "-n",
                        "1000",
                        "-d",
                        "32",
                        "-r",
                        "100",
                        "-P",
                        "16",
                        "-t",
                        "SET,get",
                        "--threads",
                        "3",
                        "--csv",
                        "-q",
                        "-a",
                        "pw"};
  auto o = bench::parse_options(static_cast<int>(std::size(argv)), argv);
  CHECK_EQ(o.host, "localhost");
  CHECK_EQ(o.port, 7000);
  CHECK_EQ(o.clients, 8u);
  CHECK_EQ(o.requests, 1000u);
  CHECK_EQ(o.data_size, 32u);
  CHECK_EQ(o.keyspace, 100u);
  CHECK_EQ(o.pipeline, 16u);
  CHECK_EQ(o.tests, std::vector<std::string>{"set", "get"});
  CHECK_EQ(o.threads, 3u);
  CHECK(o.csv);
  CHECK(o.quiet);
  CHECK_EQ(o.password.value_or(""), "pw");

  const char* bad_test[] = {"x", "-t", "lpush"};
  CHECK_THROWS_AS(bench::parse_options(3, bad_test), std::invalid_argument);
  const char* bad_number[] = {"x", "-c", "0"};
  CHECK_THROWS_AS(bench::parse_options(3, bad_number), std::invalid_argument);
  const char* missing[] = {"x", "-n"};
  CHECK_THROWS_AS(bench::parse_options(2, missing), std::invalid_argument);
  const char* unknown[] = {"x", "--cluster"};
  CHECK_THROWS_AS(bench::parse_options(2, unknown), std::invalid_argument);

  // -h is the host (as in redis-benchmark); help is --help only, and lists every flag.
  const char* help[] = {"x", "--help"};
  CHECK(bench::parse_options(2, help).help);
  const char* host_only[] = {"x", "-h"};
  CHECK_THROWS_AS(bench::parse_options(2, host_only), std::invalid_argument);
  const std::string usage = bench::usage();
  for (const char* flag : {"-h", "-p", "-a", "--user", "-c", "-n", "-d", "-r", "-P", "-t",
                           "--threads", "--csv", "-q", "--precision", "--help"}) {
    CAPTURE(flag);
    CHECK(usage.find(std::string(" ") + flag + " ") != std::string::npos);
  }
  // A repeated flag takes its last value; the port and the precision keep their ranges.
  const char* repeated[] = {"x", "-c", "3", "-c", "4"};
  CHECK_EQ(bench::parse_options(5, repeated).clients, 4u);
  const char* bad_port[] = {"x", "-p", "65536"};
  CHECK_THROWS_AS(bench::parse_options(3, bad_port), std::invalid_argument);
  const char* bad_precision[] = {"x", "--precision", "10"};
  CHECK_THROWS_AS(bench::parse_options(3, bad_precision), std::invalid_argument);
  const char* defaults[] = {"x"};
  const auto d = bench::parse_options(1, defaults);
  CHECK_EQ(d.host, "127.0.0.1");
  CHECK_EQ(d.tests, std::vector<std::string>{"ping", "set", "get"});
  CHECK_FALSE(d.help);
}

TEST_CASE("benchmark: report formats") {
  namespace bench = tessera::client::bench;
  bench::TestResult r;
  r.name = "SET";
  r.requests = 1000;
  r.seconds = 0.5;
  for (int i = 1; i <= 1000; ++i) r.latency_ns.record(static_cast<std::uint64_t>(i) * 1000);
  CHECK_EQ(bench::format_quiet(r, 3),
           "SET: 2000.00 requests per second, p50=0.500 msec, p99=0.990 msec, p99.9=0.999 msec, "
           "max=1.000 msec");
  CHECK_EQ(bench::csv_header(),
           "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
           "\"p95_latency_ms\",\"p99_latency_ms\",\"p999_latency_ms\",\"max_latency_ms\"");
  CHECK_EQ(bench::format_csv(r, 3),
           "\"SET\",\"2000.00\",\"0.500\",\"0.001\",\"0.500\",\"0.950\",\"0.990\",\"0.999\","
           "\"1.000\"");
}
