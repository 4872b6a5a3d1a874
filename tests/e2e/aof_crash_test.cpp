// appendfsync always under SIGKILL (issue 16): 20 kills at random moments under a pipelining
// writer that records which SETs were acknowledged; after each restart every acknowledged key of
// every round so far reads back with its value. And everysec: how much an acknowledged-write
// stream loses to a SIGKILL (reported; at most about two seconds' worth).
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.hpp"
#include "persistence_util.hpp"
#include "reliability_util.hpp"

using namespace tessera::test;
using namespace tessera::test::persist;

namespace {

std::string key_of(int round, std::uint64_t i) {
  return "r" + std::to_string(round) + ":" + std::to_string(i);
}
std::string value_of(int round, std::uint64_t i) {
  return "v" + std::to_string(i * 7919 + static_cast<std::uint64_t>(round));
}

// Pipelines SETs (64 per write) on its own connection until the server goes away; `acked` counts
// the +OK replies read, which acknowledge keys 0..acked-1 in order.
void pipelining_writer(int port, int round, std::atomic<std::uint64_t>& acked) {
  Conn c(port);
  std::uint64_t sent = 0;
  std::vector<Reply> replies;
  for (;;) {
    std::string batch;
    for (int j = 0; j < 64; ++j, ++sent) {
      batch += resp_v({"SET", key_of(round, sent), value_of(round, sent)});
    }
    if (!c.send_all(batch)) break;
    replies.clear();
    const bool all = c.read_replies(64, replies);
    for (const auto& r : replies) {
      if (r.type == Reply::Type::kSimple && r.str == "OK") ++acked;
    }
    if (!all) break;
  }
}

// How many of keys 0..count-1 of `round` read back with their value (MGET, 500 at a time).
std::uint64_t count_present(int port, int round, std::uint64_t count) {
  Conn c(port);
  std::uint64_t present = 0;
  for (std::uint64_t from = 0; from < count; from += 500) {
    const std::uint64_t to = std::min<std::uint64_t>(count, from + 500);
    std::vector<std::string> args{"MGET"};
    for (std::uint64_t i = from; i < to; ++i) args.push_back(key_of(round, i));
    REQUIRE(c.send_all(resp_v(args)));
    std::vector<Reply> replies;
    REQUIRE(c.read_replies(1, replies));
    REQUIRE(replies[0].elements.size() == to - from);
    for (std::uint64_t i = from; i < to; ++i) {
      const Reply& v = replies[0].elements[i - from];
      if (v.type == Reply::Type::kBulk && v.str == value_of(round, i)) ++present;
    }
  }
  return present;
}

}  // namespace

TEST_CASE("aof: appendfsync always loses no acknowledged write across 20 SIGKILLs") {
  TempDir dir;
  std::mt19937 rng(std::random_device{}());
  std::vector<std::uint64_t> acked_per_round;
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 4, {"--appendfsync", "always"}));
    // Every acknowledged key of the earlier rounds is there, with its value.
    for (int r = 0; r < round; ++r) {
      CAPTURE(r);
      CHECK(count_present(t.port(), r, acked_per_round[r]) == acked_per_round[r]);
    }
    std::atomic<std::uint64_t> acked{0};
    std::thread writer([&] { pipelining_writer(t.port(), round, acked); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    t.stop(SIGKILL, std::chrono::milliseconds(0));
    writer.join();
    acked_per_round.push_back(acked.load());
  }
  ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 2));
  std::uint64_t total = 0;
  for (int r = 0; r < 20; ++r) {
    CAPTURE(r);
    CHECK(count_present(t.port(), r, acked_per_round[r]) == acked_per_round[r]);
    total += acked_per_round[r];
  }
  MESSAGE("acknowledged writes checked after 20 SIGKILLs: " << total);
  CHECK(total > 0);
}

TEST_CASE("aof: appendfsync everysec loses at most about two seconds of writes to SIGKILL") {
  TempDir dir;
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    std::uint64_t acked_count = 0;
    double seconds = 0;
    {
      ServerProcess t =
          ServerProcess::tessera(aof_test_args(dir, 4, {"--appendfsync", "everysec"}));
      std::atomic<std::uint64_t> acked{0};
      const auto t0 = std::chrono::steady_clock::now();
      std::thread writer([&] { pipelining_writer(t.port(), round, acked); });
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      t.stop(SIGKILL, std::chrono::milliseconds(0));
      writer.join();
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      acked_count = acked.load();
    }
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 4));
    const std::uint64_t present = count_present(t.port(), round, acked_count);
    const double rate = static_cast<double>(acked_count) / seconds;
    MESSAGE("everysec, SIGKILL: " << acked_count << " acknowledged, " << (acked_count - present)
                                  << " lost (" << (acked_count - present) / rate * 1000
                                  << " ms of writes at " << rate << "/s)");
    CHECK(static_cast<double>(acked_count - present) <= 2 * rate);
  }
}
