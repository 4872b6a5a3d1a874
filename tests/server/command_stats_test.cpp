// INFO commandstats, errorstats, latencystats and total_error_replies (issue 20), in process
// through the real command table on several shards: what Redis 7.0.15 reports for the same commands
// (calls, rejected_calls, failed_calls, errorstat_<PREFIX>), key operations failing on another
// shard counted against their command, CONFIG RESETSTAT; and the latency histogram's buckets
// against the values Redis's HDR histogram prints.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include <tessera/server/commands/latency_histogram.hpp>

#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;

namespace {

// "calls=2,usec=14,..." -> {calls: "2", usec: "14", ...}
std::map<std::string, std::string> pairs(const std::string& value) {
  std::map<std::string, std::string> out;
  for (std::size_t pos = 0; pos <= value.size();) {
    std::size_t end = value.find(',', pos);
    if (end == std::string::npos) end = value.size();
    const std::string item = value.substr(pos, end - pos);
    const std::size_t eq = item.find('=');
    REQUIRE(eq != std::string::npos);
    out[item.substr(0, eq)] = item.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

std::string counts(const std::map<std::string, std::string>& cmd) {
  return "calls=" + cmd.at("calls") + " rejected=" + cmd.at("rejected_calls") +
         " failed=" + cmd.at("failed_calls");
}

}  // namespace

TEST_CASE("latency histogram: Redis's HDR figures (2 significant digits, highest equivalent)") {
  // The values redis-server 7.0.15 printed for commands of 7, 10 and 6 us (recorded as ns).
  auto reported = [](std::uint64_t ns) {
    return LatencyHistogram::highest_value_of(LatencyHistogram::bucket_of(ns));
  };
  CHECK(reported(7000) == 7007);
  CHECK(reported(10000) == 10047);
  CHECK(reported(6000) == 6015);
  CHECK(reported(64000) == 64255);
  CHECK(reported(12000) == 12031);
  CHECK(reported(200) == 200);
  CHECK(reported(0) == 1);
  CHECK(reported(5'000'000'000ull) >= 1'000'000'000ull);
  CHECK(LatencyHistogram::bucket_of(5'000'000'000ull) < LatencyHistogram::kBuckets);
  // Every bucket's highest value maps back to it, and buckets never overlap or leave gaps.
  for (unsigned b = 1; LatencyHistogram::highest_value_of(b) < LatencyHistogram::kMaxValue; ++b) {
    const std::uint64_t hi = LatencyHistogram::highest_value_of(b);
    REQUIRE(LatencyHistogram::bucket_of(hi) == b);
    REQUIRE(LatencyHistogram::bucket_of(hi + 1) == b + 1);
  }
  // Percentiles as hdr_value_at_percentile: 100 samples of 1..100 us.
  LatencyHistogram h;
  for (std::uint64_t us = 1; us <= 100; ++us) h.record(us * 1000);
  std::vector<std::uint64_t> buckets;
  h.add_to(buckets);
  CHECK(value_at_percentile(buckets, 50) == reported(50'000));
  CHECK(value_at_percentile(buckets, 99) == reported(99'000));
  CHECK(value_at_percentile(buckets, 99.9) == reported(100'000));
  CHECK(value_at_percentile(std::vector<std::uint64_t>(LatencyHistogram::kBuckets), 50) == 0);
}

TEST_CASE("commandstats: calls, rejected and failed calls, errorstats, as Redis counts them") {
  for (unsigned shards : {1u, 2u}) {
    CAPTURE(shards);
    Env env(shards);
    InProcessSession c(env.set, env.state);
    REQUIRE(c.call({"CONFIG", "RESETSTAT"}) == "+OK\r\n");
    // A key on the last shard: with two shards its operations run on the other shard's thread.
    const std::string far = env.key_on(shards - 1);
    const std::string text = env.key_on(0, "t");
    CHECK(c.call({"SET", far, "1"}) == "+OK\r\n");
    CHECK(c.call({"SET", text, "x"}) == "+OK\r\n");
    CHECK(c.call({"GET", far}) == bulk("1"));
    CHECK(c.call({"GET"}) == "-ERR wrong number of arguments for 'get' command\r\n");
    CHECK(c.call({"INCR", far}) == ":2\r\n");
    // Failing where the key lives (another shard's thread when there are two).
    CHECK(c.call({"INCR", text}) == "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"CONFIG", "FOO"}).starts_with("-ERR unknown subcommand 'FOO'"));
    CHECK(c.call({"CONFIG", "GET"}).starts_with("-ERR wrong number of arguments"));
    CHECK(c.call({"NOSUCH", "a"}).starts_with("-ERR unknown command 'NOSUCH'"));
    CHECK(c.call({"SELECT", "5"}) == "-ERR DB index is out of range\r\n");

    auto stats = info_fields(c, "commandstats");
    CHECK(counts(pairs(stats.at("cmdstat_set"))) == "calls=2 rejected=0 failed=0");
    CHECK(counts(pairs(stats.at("cmdstat_get"))) == "calls=1 rejected=1 failed=0");
    CHECK(counts(pairs(stats.at("cmdstat_incr"))) == "calls=2 rejected=0 failed=1");
    CHECK(counts(pairs(stats.at("cmdstat_config|get"))) == "calls=0 rejected=1 failed=0");
    CHECK(counts(pairs(stats.at("cmdstat_config|resetstat"))) == "calls=1 rejected=0 failed=0");
    CHECK(counts(pairs(stats.at("cmdstat_select"))) == "calls=1 rejected=0 failed=1");
    // An unknown command or subcommand has no line (Redis counts it only in errorstats).
    CHECK(stats.count("cmdstat_config") == 0);
    CHECK(stats.count("cmdstat_nosuch") == 0);
    const auto set = pairs(stats.at("cmdstat_set"));
    // usec is whole microseconds; usec_per_call the exact mean (2 decimals).
    const double per_call = std::stod(set.at("usec_per_call"));
    CHECK(per_call * 2 >= std::stod(set.at("usec")) - 0.02);
    CHECK(per_call * 2 < std::stod(set.at("usec")) + 1.02);

    auto errors = info_fields(c, "errorstats");
    CHECK(errors.at("errorstat_ERR") == "count=6");
    CHECK(errors.size() == 1);
    CHECK(info_fields(c, "stats").at("total_error_replies") == "6");

    auto latency = info_fields(c, "latencystats");
    const auto get = pairs(latency.at("latency_percentiles_usec_get"));
    CHECK(get.size() == 3);
    CHECK(std::stod(get.at("p50")) > 0);
    CHECK(std::stod(get.at("p50")) <= std::stod(get.at("p99")));
    CHECK(std::stod(get.at("p99")) <= std::stod(get.at("p99.9")));
    CHECK(latency.count("latency_percentiles_usec_config|get") == 0);  // never ran

    // Not in the default INFO; errorstats is.
    auto all = parse_all(c.call({"INFO"}))[0].str;
    CHECK(all.find("# Commandstats") == std::string::npos);
    CHECK(all.find("# Latencystats") == std::string::npos);
    CHECK(all.find("# Errorstats\r\nerrorstat_ERR:count=6\r\n") != std::string::npos);
    auto everything = parse_all(c.call({"INFO", "everything"}))[0].str;
    CHECK(everything.find("# Commandstats\r\ncmdstat_") != std::string::npos);
    CHECK(everything.find("# Latencystats\r\nlatency_percentiles_usec_") != std::string::npos);

    // RESETSTAT clears them all; its own call is counted after it (as in Redis).
    REQUIRE(c.call({"CONFIG", "RESETSTAT"}) == "+OK\r\n");
    stats = info_fields(c, "commandstats");
    CHECK(stats.size() == 1);
    CHECK(counts(pairs(stats.at("cmdstat_config|resetstat"))) == "calls=1 rejected=0 failed=0");
    CHECK(info_fields(c, "errorstats").empty());
    CHECK(info_fields(c, "stats").at("total_error_replies") == "0");
    latency = info_fields(c, "latencystats");
    CHECK(latency.count("latency_percentiles_usec_get") == 0);
  }
}

TEST_CASE("commandstats: MULTI/EXEC counts queued commands when EXEC runs them, NOAUTH rejects") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  REQUIRE(c.call({"CONFIG", "RESETSTAT"}) == "+OK\r\n");
  const std::string text = env.key_on(1, "t");
  c.call({"SET", text, "x"});
  CHECK(c.call({"MULTI"}) == "+OK\r\n");
  CHECK(c.call({"INCR", text}) == "+QUEUED\r\n");
  CHECK(c.call({"GET", text}) == "+QUEUED\r\n");
  InProcessSession observer(env.set, env.state);
  auto stats = info_fields(observer, "commandstats");
  CHECK(stats.count("cmdstat_incr") == 0);  // queued, not run
  auto exec = parse_all(c.call({"EXEC"}));
  REQUIRE(exec.size() == 1);
  REQUIRE(exec[0].elements.size() == 2);
  CHECK(exec[0].elements[0].str == "ERR value is not an integer or out of range");
  stats = info_fields(c, "commandstats");
  CHECK(counts(pairs(stats.at("cmdstat_incr"))) == "calls=1 rejected=0 failed=1");
  CHECK(counts(pairs(stats.at("cmdstat_get"))) == "calls=1 rejected=0 failed=0");
  CHECK(counts(pairs(stats.at("cmdstat_exec"))) == "calls=1 rejected=0 failed=0");
  CHECK(counts(pairs(stats.at("cmdstat_multi"))) == "calls=1 rejected=0 failed=0");
  // A command refused while queueing is rejected; EXEC then fails with EXECABORT.
  CHECK(c.call({"MULTI"}) == "+OK\r\n");
  CHECK(c.call({"GET"}).starts_with("-ERR wrong number"));
  CHECK(c.call({"EXEC"}).starts_with("-EXECABORT"));
  stats = info_fields(c, "commandstats");
  CHECK(counts(pairs(stats.at("cmdstat_get"))) == "calls=1 rejected=1 failed=0");
  CHECK(counts(pairs(stats.at("cmdstat_exec"))) == "calls=2 rejected=0 failed=1");
  auto errors = info_fields(c, "errorstats");
  CHECK(errors.at("errorstat_ERR") == "count=2");
  CHECK(errors.at("errorstat_EXECABORT") == "count=1");

  Config locked;
  locked.requirepass = "pw";
  Env secured(1, locked);
  InProcessSession d(secured.set, secured.state);
  CHECK(d.call({"GET", "k"}) == "-NOAUTH Authentication required.\r\n");
  CHECK(d.call({"AUTH", "pw"}) == "+OK\r\n");
  stats = info_fields(d, "commandstats");
  CHECK(counts(pairs(stats.at("cmdstat_get"))) == "calls=1 rejected=2 failed=0");
  CHECK(info_fields(d, "errorstats").at("errorstat_NOAUTH") == "count=1");
}
