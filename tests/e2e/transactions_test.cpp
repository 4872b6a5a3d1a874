// Transactions and atomic multi-key commands against the real server (issue 15): concurrent
// WATCH/MULTI/EXEC transfers between counters on different shards while readers MGET them all,
// concurrent RENAMEs between shards while readers look for the key, and redis-py's default
// pipeline() (MULTI/EXEC) against tessera-server and Redis 7 alike.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <tessera/client/client.hpp>

#include "e2e_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;
using tessera::client::Client;
using tessera::client::Pipeline;
using tessera::protocol::Reply;

namespace {

Client connect(const ServerProcess& s) {
  return Client({.host = "127.0.0.1",
                 .port = static_cast<std::uint16_t>(s.port()),
                 .command_timeout = std::chrono::seconds(20)});
}

}  // namespace

TEST_CASE("e2e transactions: WATCH/MULTI/EXEC transfers keep the sum every MGET sees") {
  auto server = start_tessera(4);
  constexpr int kAccounts = 8;
  constexpr std::int64_t kStartBalance = 1000;
  std::vector<std::string> accounts;
  for (int i = 0; i < kAccounts; ++i) accounts.push_back("acct:" + std::to_string(i));
  {
    Client c = connect(server);
    for (const auto& a : accounts) c.set(a, std::to_string(kStartBalance));
    c.set("commits", "0");
  }
  constexpr int kWriters = 4, kTransfersEach = 150;
  std::atomic<bool> stop{false};
  std::atomic<int> bad_sums{0}, reads{0}, commits{0}, retries{0}, errors{0};
  std::vector<std::thread> writers, readers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      Client c = connect(server);
      std::mt19937 rng(static_cast<unsigned>(w) * 7919u + 1);
      for (int t = 0; t < kTransfersEach; ++t) {
        const int from = static_cast<int>(rng() % kAccounts);
        const int to = (from + 1 + static_cast<int>(rng() % (kAccounts - 1))) % kAccounts;
        const std::int64_t amount = 1 + static_cast<std::int64_t>(rng() % 50);
        for (;;) {  // optimistic: retry when a watched key moved
          c.command("WATCH", accounts[from], accounts[to]);
          const std::int64_t balance = std::stoll(c.get(accounts[from]).value_or("0"));
          if (balance < amount) {
            c.command("UNWATCH");
            break;
          }
          Pipeline p;
          p.command("MULTI")
              .command("DECRBY", accounts[from], amount)
              .command("INCRBY", accounts[to], amount)
              .command("INCR", "commits")
              .command("EXEC");
          auto replies = c.execute(p);
          const Reply& exec = replies.back();
          if (exec.type == Reply::Type::kNullArray) {
            ++retries;
            continue;
          }
          if (exec.type != Reply::Type::kArray || exec.elements.size() != 3 ||
              exec.elements[0].type != Reply::Type::kInteger) {
            ++errors;
          }
          ++commits;
          break;
        }
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      Client c = connect(server);
      while (!stop) {
        Reply got = c.command_argv(std::vector<std::string_view>(
            {"MGET", accounts[0], accounts[1], accounts[2], accounts[3], accounts[4], accounts[5],
             accounts[6], accounts[7]}));
        std::int64_t sum = 0;
        for (const auto& e : got.elements) sum += std::stoll(e.str);
        if (got.elements.size() != kAccounts || sum != kAccounts * kStartBalance) ++bad_sums;
        ++reads;
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  Client c = connect(server);
  std::int64_t sum = 0;
  for (const auto& a : accounts) sum += std::stoll(*c.get(a));
  MESSAGE("transfers committed: ", commits.load(), ", WATCH retries: ", retries.load(),
          ", MGETs checked: ", reads.load());
  CHECK(errors == 0);
  CHECK(bad_sums == 0);
  CHECK(reads > 0);
  CHECK(sum == kAccounts * kStartBalance);
  CHECK(std::stoll(*c.get("commits")) == commits.load());
}

TEST_CASE("e2e transactions: concurrent RENAMEs between shards: never both, never neither") {
  auto server = start_tessera(4);
  // Two tokens, each moved around its own ring of four names by its own client.
  const std::vector<std::vector<std::string>> rings = {{"ta:0", "ta:1", "ta:2", "ta:3"},
                                                       {"tb:0", "tb:1", "tb:2", "tb:3"}};
  {
    Client c = connect(server);
    for (const auto& ring : rings) c.set(ring[0], "token");
  }
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0}, moves{0};
  std::vector<std::thread> threads;
  for (std::size_t r = 0; r < rings.size(); ++r) {
    threads.emplace_back([&, r] {
      Client c = connect(server);
      const auto& ring = rings[r];
      for (int i = 0; i < 400; ++i) {
        const auto& from = ring[i % 4];
        const auto& to = ring[(i + 1) % 4];
        Reply reply =
            (i % 2 == 0) ? c.command("RENAME", from, to) : c.command("RENAMENX", from, to);
        if (reply.type == Reply::Type::kError) ++bad;
        ++moves;
      }
    });
  }
  std::vector<std::thread> readers;
  for (int k = 0; k < 2; ++k) {
    readers.emplace_back([&] {
      Client c = connect(server);
      while (!stop) {
        for (const auto& ring : rings) {
          Reply got = c.command("MGET", ring[0], ring[1], ring[2], ring[3]);
          int present = 0;
          for (const auto& e : got.elements) present += e.type == Reply::Type::kBulk ? 1 : 0;
          if (present != 1) ++bad;
          ++reads;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  MESSAGE("renames: ", moves.load(), ", MGETs checked: ", reads.load());
  CHECK(bad == 0);
  CHECK(reads > 0);
  Client c = connect(server);
  for (const auto& ring : rings) CHECK(c.get(ring[0]) == "token");  // 400 moves: back home
}

// redis-py (Debian's python3-redis) runs the same script against tessera-server and Redis 7.
TEST_CASE("e2e transactions: redis-py pipeline() and transaction() on Tessera and Redis alike") {
  if (run_command({"/usr/bin/python3", "-c", "import redis"}).exit_code != 0) {
    MESSAGE("SKIPPED: /usr/bin/python3 has no redis module (scripts/setup test installs it)");
    return;
  }
  auto tessera = start_tessera(4);
  auto redis = ServerProcess::redis();
  for (const ServerProcess* s : {&tessera, &redis}) {
    auto run = run_command({"/usr/bin/python3", TESSERA_E2E_DIR "/redis_py_transactions.py",
                            std::to_string(s->port())},
                           {}, 120s);
    CAPTURE(run.out);
    CAPTURE(run.err);
    CHECK(run.exit_code == 0);
    CHECK(run.out.find("all redis-py transaction checks passed") != std::string::npos);
  }
}
