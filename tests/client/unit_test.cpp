// Client pieces that need no server: the latency histogram, command encoding, pipelines, the
// benchmark's options, keys and values, the typed calls' encodings and conversions, and how a
// Transaction reads EXEC's replies.
#include <doctest/doctest.h>

#include <tessera/client/client.hpp>
#include <tessera/client/latency_histogram.hpp>

#include "benchmark.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <stdexcept>
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

// ---- typed calls and transactions without a server --------------------------------------------

namespace {
Reply simple(std::string s) {
  Reply r;
  r.type = Reply::Type::kSimple;
  r.str = std::move(s);
  return r;
}
Reply error(std::string s) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = std::move(s);
  return r;
}
Reply integer(std::int64_t n) {
  Reply r;
  r.type = Reply::Type::kInteger;
  r.integer = n;
  return r;
}
Reply bulk(std::string s) {
  Reply r;
  r.type = Reply::Type::kBulk;
  r.str = std::move(s);
  return r;
}
Reply of_type(Reply::Type type) {
  Reply r;
  r.type = type;
  return r;
}
std::string resp(std::initializer_list<std::string_view> args) {
  std::string out;
  tessera::protocol::write_command(out, args);
  return out;
}
}  // namespace

TEST_CASE("typed calls: options are encoded in Redis's argument order") {
  using namespace std::chrono_literals;
  CHECK_EQ(detail::encode_set("k", "v", {}, false), resp({"SET", "k", "v"}));
  CHECK_EQ(detail::encode_set("k", "v", {.ex = 10s, .nx = true}, true),
           resp({"SET", "k", "v", "NX", "GET", "EX", "10"}));
  CHECK_EQ(detail::encode_set("k", "v", {.px = 1500ms, .xx = true}, false),
           resp({"SET", "k", "v", "XX", "PX", "1500"}));
  CHECK_EQ(detail::encode_set("k", "v", {.exat = UnixSeconds(1700000000s)}, false),
           resp({"SET", "k", "v", "EXAT", "1700000000"}));
  CHECK_EQ(detail::encode_set("k", "v", {.pxat = UnixMilliseconds(1700000000123ms)}, false),
           resp({"SET", "k", "v", "PXAT", "1700000000123"}));
  CHECK_EQ(detail::encode_set("k", "v", {.keepttl = true}, false),
           resp({"SET", "k", "v", "KEEPTTL"}));
  CHECK_EQ(detail::encode_getex("k", {}), resp({"GETEX", "k"}));
  CHECK_EQ(detail::encode_getex("k", {.persist = true}), resp({"GETEX", "k", "PERSIST"}));
  CHECK_EQ(detail::encode_getex("k", {.px = 5ms}), resp({"GETEX", "k", "PX", "5"}));
  CHECK_EQ(detail::encode_expire("EXPIRE", "k", -3, ExpireCondition::kAlways),
           resp({"EXPIRE", "k", "-3"}));
  CHECK_EQ(detail::encode_expire("PEXPIRE", "k", 7, ExpireCondition::kGt),
           resp({"PEXPIRE", "k", "7", "GT"}));
  CHECK_EQ(detail::encode_expire("EXPIREAT", "k", 7, ExpireCondition::kLt),
           resp({"EXPIREAT", "k", "7", "LT"}));
  CHECK_EQ(detail::encode_expire("EXPIRE", "k", 7, ExpireCondition::kNx),
           resp({"EXPIRE", "k", "7", "NX"}));
  CHECK_EQ(detail::encode_expire("EXPIRE", "k", 7, ExpireCondition::kXx),
           resp({"EXPIRE", "k", "7", "XX"}));
  // The shortest decimal that reads back as the double: no binary-expansion noise for Redis's
  // long double arithmetic to carry into the result.
  CHECK_EQ(detail::encode_incrbyfloat("k", 0.1), resp({"INCRBYFLOAT", "k", "0.1"}));
  CHECK_EQ(detail::encode_incrbyfloat("k", -2.5e-7), resp({"INCRBYFLOAT", "k", "-2.5e-07"}));
  CHECK_EQ(detail::encode_incrbyfloat("k", 3), resp({"INCRBYFLOAT", "k", "3"}));
}

TEST_CASE("typed calls: reply conversions, Expiry's states") {
  using namespace std::chrono_literals;
  CHECK_EQ(detail::to_expiry<std::chrono::seconds>(integer(-2), "TTL"), Ttl::no_key());
  CHECK_EQ(detail::to_expiry<std::chrono::seconds>(integer(-1), "TTL"), Ttl::no_expiry());
  CHECK_EQ(detail::to_expiry<std::chrono::seconds>(integer(42), "TTL"), Ttl::expires(42s));
  CHECK_EQ(detail::to_expiry<UnixMilliseconds>(integer(1700000000123), "PEXPIRETIME").value(),
           UnixMilliseconds(1700000000123ms));
  CHECK_EQ(Ttl::no_expiry().value_or(5s), 5s);
  CHECK_FALSE(static_cast<bool>(Ttl::no_key()));
  CHECK(static_cast<bool>(Ttl::expires(0s)));
  CHECK_THROWS_AS(Ttl::no_expiry().value(), std::logic_error);
  CHECK_THROWS_AS(detail::to_expiry<std::chrono::seconds>(bulk("1"), "TTL"), ProtocolError);

  CHECK(detail::to_bool(integer(1), "X"));
  CHECK_FALSE(detail::to_bool(integer(0), "X"));
  CHECK_THROWS_AS(detail::to_bool(integer(2), "X"), ProtocolError);
  CHECK(detail::ok_or_nil(simple("OK"), "SET"));
  CHECK_FALSE(detail::ok_or_nil(of_type(Reply::Type::kNull), "SET"));
  CHECK_THROWS_AS(detail::ok_or_nil(error("ERR syntax error"), "SET"), ServerError);
  CHECK_EQ(detail::to_double(bulk("10.6"), "INCRBYFLOAT"), 10.6);
  CHECK_EQ(detail::to_double(bulk("-3"), "INCRBYFLOAT"), -3.0);
  CHECK_EQ(detail::to_double(bulk("1e400"), "INCRBYFLOAT"), HUGE_VAL);  // long double range
  Reply d = of_type(Reply::Type::kDouble);
  d.number = 2.5;
  CHECK_EQ(detail::to_double(std::move(d), "INCRBYFLOAT"), 2.5);
  CHECK_THROWS_AS(detail::to_double(bulk("1.5x"), "INCRBYFLOAT"), ProtocolError);
  CHECK_THROWS_AS(detail::to_double(bulk(""), "INCRBYFLOAT"), ProtocolError);
  CHECK_EQ(detail::to_string(bulk(""), "GETRANGE"), "");
  CHECK_THROWS_AS(detail::to_string(of_type(Reply::Type::kNull), "GETRANGE"), ProtocolError);
}

TEST_CASE("transaction: MULTI, the queue and EXEC on the wire; EXEC's three outcomes") {
  Transaction tx;
  Queued<std::int64_t> n = tx.incr("a");
  Queued<std::optional<std::string>> v = tx.get("b");
  CHECK_EQ(tx.size(), 2u);
  CHECK_EQ(tx.bytes(), resp({"MULTI"}) + resp({"INCR", "a"}) + resp({"GET", "b"}) + resp({"EXEC"}));
  CHECK_FALSE(tx.executed());

  SUBCASE("committed") {
    Reply exec = of_type(Reply::Type::kArray);
    exec.elements = {error("ERR value is not an integer or out of range"),
                     of_type(Reply::Type::kNull)};
    std::vector<Reply> replies{simple("OK"), simple("QUEUED"), simple("QUEUED"), exec};
    CHECK(tx.finish(replies));
    CHECK(tx.committed());
    CHECK_THROWS_AS(n.get(), ServerError);  // its own error, inside EXEC
    CHECK_EQ(v.get(), std::nullopt);
    CHECK_THROWS_AS(tx.check_not_executed(), std::logic_error);
  }
  SUBCASE("aborted by WATCH: RESP2's null array and RESP3's null") {
    for (Reply::Type nil : {Reply::Type::kNullArray, Reply::Type::kNull}) {
      Transaction t;
      auto h = t.ping();
      std::vector<Reply> replies{simple("OK"), simple("QUEUED"), of_type(nil)};
      CHECK_FALSE(t.finish(replies));
      CHECK_FALSE(t.committed());
      CHECK(t.executed());
      CHECK_THROWS_AS(h.get(), std::logic_error);
    }
  }
  SUBCASE("EXECABORT: the refused commands are reported") {
    std::vector<Reply> replies{
        simple("OK"), simple("QUEUED"), error("ERR unknown command 'GTE'"),
        error("EXECABORT Transaction discarded because of previous errors.")};
    try {
      tx.finish(replies);
      FAIL("no exception");
    } catch (const ExecAbortError& e) {
      CHECK_EQ(e.prefix(), "EXECABORT");
      REQUIRE_EQ(e.rejected().size(), 1u);
      CHECK_EQ(e.rejected()[0].first, 1u);
      CHECK_EQ(e.rejected()[0].second, "ERR unknown command 'GTE'");
      CHECK(std::string(e.what()).find("queued command 1") != std::string::npos);
    }
    CHECK_FALSE(tx.committed());
  }
  SUBCASE("a reply count that does not match the queue is a protocol error") {
    Reply exec = of_type(Reply::Type::kArray);
    exec.elements = {integer(1)};
    std::vector<Reply> replies{simple("OK"), simple("QUEUED"), simple("QUEUED"), exec};
    CHECK_THROWS_AS(tx.finish(replies), ProtocolError);
  }
  SUBCASE("MULTI refused") {
    std::vector<Reply> replies{error("ERR MULTI calls can not be nested"), simple("QUEUED"),
                               simple("QUEUED"), of_type(Reply::Type::kArray)};
    CHECK_THROWS_AS(tx.finish(replies), ServerError);
  }
  SUBCASE("clear() starts a new transaction; earlier handles keep their results") {
    Reply exec = of_type(Reply::Type::kArray);
    exec.elements = {integer(5), bulk("x")};
    std::vector<Reply> replies{simple("OK"), simple("QUEUED"), simple("QUEUED"), exec};
    REQUIRE(tx.finish(replies));
    tx.clear();
    CHECK(tx.empty());
    CHECK_FALSE(tx.executed());
    CHECK_EQ(tx.bytes(), resp({"MULTI"}) + resp({"EXEC"}));
    CHECK_EQ(n.get(), 5);
    CHECK_EQ(v.get(), "x");
  }
}
