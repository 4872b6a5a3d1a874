// Reliability against the real process (issue 9): clients that never read, vanish half-way or are
// killed mid-pipeline; thousands of concurrent clients; maxclients with thousands of attempts;
// SIGTERM while pipelines are in flight; many writers hitting maxmemory; and a short soak with a
// model (the long one is soak_test.cpp, label slow). Each abuse test runs a Pinger: another
// client's PING round trips, whose p99 and max are asserted and printed. Limits in limits_test.cpp
// are not repeated here; these add load, concurrency and the bounds.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <csignal>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "reliability_util.hpp"
#include "soak.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

namespace {

// Generous on a shared 2-core VM where ctest runs two suites at once and the abusing clients
// compete with the server for the cores (sanitizer builds included): the typical round trip is
// well under a millisecond, and the measured figures are printed.
// Under ASan or TSan (5-15 times slower) the bounds are ten times looser: there they only show
// that other clients keep being answered (the TSan run measured p99 0.4 s, max 2.2 s while 20
// clients at a time were killed mid-pipeline).
constexpr double kSlack = kSanitized ? 10 : 1;
constexpr double kMaxP50Ms = 10 * kSlack;
constexpr double kMaxP99Ms = 200 * kSlack;
constexpr double kMaxPingMs = 1000 * kSlack;

void check_latency(const char* what, const LatencyStats& s) {
  print_latency(what, s);
  CHECK(s.failures == 0);
  CHECK(s.count > 20);
  CHECK(s.p50_ms < kMaxP50Ms);
  CHECK(s.p99_ms < kMaxP99Ms);
  CHECK(s.max_ms < kMaxPingMs);
}

// Descriptors and RSS of a freshly started, warmed-up server.
struct Baseline {
  int fds;
  std::int64_t rss_kb;
};
Baseline settle(const ServerProcess& s) {
  {
    Conn warm(s.port());
    std::vector<Reply> r;
    warm.send_all(encode({"PING"}));
    warm.read_replies(1, r);
  }
  std::this_thread::sleep_for(200ms);
  return {open_fds(s.pid()), rss_kb(s.pid())};
}

bool fds_back_to(const ServerProcess& s, int baseline) {
  return eventually([&] { return open_fds(s.pid()) <= baseline; }, 10s);
}

std::string numbered(std::string_view prefix, std::size_t i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

}  // namespace

TEST_CASE("reliability: clients that never read big pipelined replies keep RSS bounded") {
  auto server = start_tessera(2);
  constexpr std::size_t kValue = 1024 * 1024;
  constexpr int kClients = 8;
  constexpr int kGets = 2000;  // 2 GB of replies per client: what Redis would try to buffer
  {
    Conn c(server.port());
    std::vector<Reply> r;
    REQUIRE(c.send_all(encode({"SET", "big", std::string(kValue, 'v')})));
    REQUIRE(c.read_replies(1, r));
  }
  Pinger pinger(server.port());
  const Baseline base = settle(server);  // the pinger's connection included
  RssSampler sampler(server.pid());
  std::vector<std::unique_ptr<Conn>> stuck;
  std::string req;
  for (int i = 0; i < kGets; ++i) req += encode({"GET", "big"});
  std::size_t sent = 0;
  for (int i = 0; i < kClients; ++i) {
    stuck.push_back(std::make_unique<Conn>(server.port(), 4096));
    sent += stuck.back()->send_some(req);  // as much as the kernel takes; the server stops reading
  }
  std::this_thread::sleep_for(3s);
  // Still connected and served: every stuck client gets its replies once it reads.
  CHECK(stuck[0]->drain_bytes(3 * kValue, 5s) == 3 * kValue);
  for (auto& c : stuck) c->abort();
  stuck.clear();
  CHECK(fds_back_to(server, base.fds));
  const std::int64_t peak = sampler.stop();
  check_latency("never-reading clients", pinger.stop());
  const std::int64_t growth = peak - base.rss_kb;
  std::printf(
      "never-reading clients: %d clients, %zu request bytes taken by the kernel, RSS base %lld kB "
      "peak %lld kB (growth %lld kB), fds base %d end %d\n",
      kClients, sent, static_cast<long long>(base.rss_kb), static_cast<long long>(peak),
      static_cast<long long>(growth), base.fds, open_fds(server.pid()));
  // Each stuck client pins at most one reply chunk (256 kB) plus the reply that crossed it (1 MB),
  // the batch's assembled copy of it and its read buffer: about 3 MB per client at worst.
  if (!kSanitized) CHECK(growth < kClients * 3 * 1024 + 16 * 1024);
}

TEST_CASE("reliability: thousands of clients that send half a command and vanish leak nothing") {
  auto server = start_tessera(2);
  Pinger pinger(server.port());
  const Baseline base = settle(server);  // the pinger's connection included
  RssSampler sampler(server.pid());
  constexpr int kClients = 3000;
  constexpr int kWave = 50;
  std::mt19937 rng(9);
  // Half commands of every shape: a cut multibulk header, a cut argument, a declared big bulk
  // (the parser sizes its buffer for it) with part of its bytes, a cut inline command.
  const std::string big_head = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$262144\r\n";
  const std::vector<std::string> halves = {
      "*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$10\r\nabc",
      "*2\r\n$3\r\nGET",
      "*100\r\n",
      big_head + std::string(100000, 'x'),
      "SET half value-without-newline",
      "*1\r\n$4\r\nPI",
  };
  // Two rounds: memory malloc keeps after the first is reused by the second, a leak is not.
  std::int64_t after_round[2] = {0, 0};
  for (int round = 0; round < 2; ++round) {
    for (int done = 0; done < kClients; done += kWave) {
      std::vector<std::unique_ptr<Conn>> wave;
      for (int i = 0; i < kWave; ++i) {
        wave.push_back(std::make_unique<Conn>(server.port()));
        wave.back()->send_all(halves[(done + i) % halves.size()]);
      }
      std::this_thread::sleep_for(5ms);  // let the server read them
      for (auto& c : wave) {
        if (rng() % 2) {
          c->abort();
        } else {
          c->close();
        }
      }
    }
    CHECK(fds_back_to(server, base.fds));
    std::this_thread::sleep_for(300ms);
    after_round[round] = rss_kb(server.pid());
  }
  const std::int64_t peak = sampler.stop();
  check_latency("half commands", pinger.stop());
  std::printf(
      "half commands: 2 x %d clients in waves of %d, RSS base %lld kB peak %lld kB after round 1 "
      "%lld kB after round 2 %lld kB, fds base %d end %d\n",
      kClients, kWave, static_cast<long long>(base.rss_kb), static_cast<long long>(peak),
      static_cast<long long>(after_round[0]), static_cast<long long>(after_round[1]), base.fds,
      open_fds(server.pid()));
  if (!kSanitized) {
    // At most one wave is connected at once; its worst members hold a 256 kB bulk buffer each.
    CHECK(peak - base.rss_kb < kWave * 512 + 16 * 1024);
    CHECK(after_round[0] - base.rss_kb < 16 * 1024);    // what malloc keeps
    CHECK(after_round[1] - after_round[0] < 4 * 1024);  // and no leak: round 2 adds nothing
  }
  Conn c(server.port());
  std::vector<Reply> r;
  REQUIRE(c.send_all(encode({"DBSIZE"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].integer == 0);  // no half command ever ran
}

TEST_CASE("reliability: clients killed mid-pipeline leak nothing and leave the data intact") {
  auto server = start_tessera(2);
  constexpr int kFixed = 100;
  const std::string value(10 * 1024, 'f');
  {
    Conn c(server.port());
    std::string req;
    for (int i = 0; i < kFixed; ++i) req += encode({"SET", numbered("fixed:", i), value});
    std::vector<Reply> r;
    REQUIRE(c.send_all(req));
    REQUIRE(c.read_replies(kFixed, r));
  }
  Pinger pinger(server.port());
  const Baseline base = settle(server);  // the pinger's connection included
  RssSampler sampler(server.pid());
  constexpr int kKilled = 400;
  constexpr int kWave = 20;
  std::mt19937 rng(99);
  std::int64_t after_round[2] = {0, 0};
  for (int round = 0; round < 2; ++round) {
    for (int done = 0; done < kKilled; done += kWave) {
      std::vector<std::unique_ptr<Conn>> wave;
      for (int i = 0; i < kWave; ++i) {
        // 500 commands, about 3 MB of replies: reads of the fixed keys and writes of its own.
        std::string req;
        for (int j = 0; j < 500; ++j) {
          if (j % 2) {
            req += encode({"GET", numbered("fixed:", rng() % kFixed)});
          } else {
            req += encode({"SET", numbered("own:", rng() % 1000), "x"});
          }
        }
        wave.push_back(std::make_unique<Conn>(server.port()));
        wave.back()->send_all(req);
      }
      for (auto& c : wave) {
        c->drain_bytes(rng() % (512 * 1024), 200ms);  // read some of the replies, then die
        if (rng() % 4) {
          c->abort();
        } else {
          c->close();
        }
      }
    }
    CHECK(fds_back_to(server, base.fds));
    std::this_thread::sleep_for(300ms);
    after_round[round] = rss_kb(server.pid());
  }
  const std::int64_t peak = sampler.stop();
  check_latency("killed mid-pipeline", pinger.stop());
  std::printf(
      "killed mid-pipeline: 2 x %d clients in waves of %d, RSS base %lld kB peak %lld kB after "
      "round 1 %lld kB after round 2 %lld kB, fds base %d end %d\n",
      kKilled, kWave, static_cast<long long>(base.rss_kb), static_cast<long long>(peak),
      static_cast<long long>(after_round[0]), static_cast<long long>(after_round[1]), base.fds,
      open_fds(server.pid()));
  if (!kSanitized) {
    // A wave of 20 clients, each pinning at most about a chunk per shard plus one reply.
    CHECK(peak - base.rss_kb < 64 * 1024);
    CHECK(after_round[0] - base.rss_kb < 32 * 1024);    // what malloc keeps
    CHECK(after_round[1] - after_round[0] < 8 * 1024);  // and no leak: round 2 adds ~nothing
  }
  Conn c(server.port());
  std::string req;
  for (int i = 0; i < kFixed; ++i) req += encode({"GET", numbered("fixed:", i)});
  std::vector<Reply> r;
  REQUIRE(c.send_all(req));
  REQUIRE(c.read_replies(kFixed, r));
  for (const Reply& x : r) CHECK(x.str == value);
  r.clear();
  REQUIRE(c.send_all(encode({"DBSIZE"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].integer >= kFixed);
  CHECK(r[0].integer <= kFixed + 1000);
}

TEST_CASE("reliability: thousands of concurrent clients each write and read their own key") {
  const std::uint64_t nofile = raise_nofile_limit();
  const int clients = static_cast<int>(std::min<std::uint64_t>(3000, (nofile - 100) / 2));
  REQUIRE(clients >= 1000);
  auto server = start_tessera(2);
  Pinger pinger(server.port());
  const Baseline base = settle(server);  // the pinger's connection included
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < clients; ++i) conns.push_back(std::make_unique<Conn>(server.port()));
  // Every client has its command in flight before any reply is read.
  for (int i = 0; i < clients; ++i) {
    const std::string key = numbered("client:", i);
    REQUIRE(conns[i]->send_all(encode({"SET", key, numbered("value-", i)}) + encode({"GET", key})));
  }
  int correct = 0;
  for (int i = 0; i < clients; ++i) {
    std::vector<Reply> r;
    if (conns[i]->read_replies(2, r) && r[0].str == "OK" && r[1].str == numbered("value-", i)) {
      ++correct;
    }
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  CHECK(correct == clients);
  CHECK(info_field(server.port(), "connected_clients") == clients + 2);  // + pinger + INFO's own
  const int fds_open = open_fds(server.pid());
  CHECK(fds_open >= base.fds + clients);
  conns.clear();
  CHECK(fds_back_to(server, base.fds));
  Conn c(server.port());
  std::vector<Reply> r;
  REQUIRE(c.send_all(encode({"DBSIZE"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].integer == clients);
  check_latency("thousands of clients", pinger.stop());
  std::printf(
      "thousands of clients: %d concurrent, %d answered correctly, connect+SET+GET all in %.0f ms, "
      "fds base %d with all open %d end %d\n",
      clients, correct, ms, base.fds, fds_open, open_fds(server.pid()));
}

TEST_CASE("reliability: at maxclients thousands of extra clients get Redis's error and no crash") {
  raise_nofile_limit();
  constexpr int kMax = 1000;
  constexpr int kExtra = 1000;
  auto server = start_tessera(2, {"--maxclients", std::to_string(kMax)});
  const Baseline base = settle(server);
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < kMax; ++i) {
    held.push_back(std::make_unique<Conn>(server.port()));
    REQUIRE(held.back()->send_all("PING\r\n"));
  }
  int served = 0;
  for (auto& c : held) {
    std::vector<Reply> r;
    if (c->read_replies(1, r) && r[0].str == "PONG") ++served;
  }
  CHECK(served == kMax);
  int refused = 0;
  for (int i = 0; i < kExtra; ++i) {
    Conn extra(server.port());
    std::vector<Reply> r;
    std::size_t leftover = 0;
    if (extra.read_to_eof(r, leftover, 5s) && r.size() == 1 && r[0].type == Reply::Type::kError &&
        r[0].str == "ERR max number of clients reached" && leftover == 0) {
      ++refused;
    }
  }
  CHECK(refused == kExtra);
  CHECK(server.running());
  // The held clients are still served; freeing slots lets new clients in again.
  std::vector<Reply> r;
  REQUIRE(held[0]->send_all(encode({"SET", "k", "v"})));
  REQUIRE(held[0]->read_replies(1, r));
  CHECK(r[0].str == "OK");
  held.resize(kMax - 100);
  CHECK(
      eventually([&] { return info_field(server.port(), "connected_clients") == kMax - 100 + 1; }));
  std::vector<std::unique_ptr<Conn>> again;
  for (int i = 0; i < 50; ++i) {
    again.push_back(std::make_unique<Conn>(server.port()));
    r.clear();
    REQUIRE(again.back()->send_all(encode({"GET", "k"})));
    REQUIRE(again.back()->read_replies(1, r));
    CHECK(r[0].str == "v");
  }
  held.clear();
  again.clear();
  CHECK(fds_back_to(server, base.fds));
  CHECK(info_field(server.port(), "rejected_connections") >= 0);
  std::printf("maxclients %d: %d served, %d of %d extra refused with the exact text, fds end %d\n",
              kMax, served, refused, kExtra, open_fds(server.pid()));
}

TEST_CASE("reliability: SIGTERM with pipelines in flight delivers whole replies and exits 0") {
  auto server = start_tessera(2);
  REQUIRE(eventually(
      [&] { return server.output().find("Ready to accept connections") != std::string::npos; }));
  {
    Conn c(server.port());
    std::vector<Reply> r;
    REQUIRE(c.send_all(encode({"SET", "big", std::string(1024 * 1024, 'b')})));
    REQUIRE(c.read_replies(1, r));
  }
  constexpr int kBusy = 8;
  std::atomic<bool> go{true};
  std::atomic<int> ready{0};
  struct Outcome {
    std::size_t replies = 0, leftover = 0, wrong = 0;
    bool eof = false;
    std::string error;
  };
  std::vector<Outcome> outcomes(kBusy);
  std::vector<std::thread> threads;
  for (int t = 0; t < kBusy; ++t) {
    threads.emplace_back([&, t] {
      Conn c(server.port());
      Outcome& o = outcomes[t];
      std::string req;
      for (int i = 0; i < 300; ++i) req += encode({"SET", numbered("busy:", i), "value"});
      req += encode({"GET", "busy:1"});
      std::vector<Reply> r;
      ++ready;
      // Pipelines back to back until the server goes away; then read whatever is left to EOF.
      while (go) {
        if (!c.send_all(req) || !c.read_replies(301, r, 5s)) break;
      }
      std::size_t leftover = 0;
      o.eof = c.read_to_eof(r, leftover, 5s) || c.error() == "closed by peer";
      if (!o.eof) o.error = c.error();
      o.leftover = leftover;
      o.replies = r.size();
      for (std::size_t i = 0; i < r.size(); ++i) {
        const bool ok = (i % 301 == 300) ? r[i].str == "value" : r[i].str == "OK";
        if (!ok) ++o.wrong;
      }
    });
  }
  // One client that never reads a big reply, and one idle client: neither may delay the exit.
  Conn stuck(server.port(), 4096);
  std::string gets;
  for (int i = 0; i < 50; ++i) gets += encode({"GET", "big"});
  stuck.send_some(gets);
  Conn idle(server.port());
  while (ready < kBusy) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(500ms);
  const auto t0 = std::chrono::steady_clock::now();
  auto status = server.stop(SIGTERM, 3s);
  const double exit_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  go = false;
  for (auto& t : threads) t.join();
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(exit_ms < 1000);
  std::size_t total = 0;
  for (const Outcome& o : outcomes) {
    CAPTURE(o.error);
    CHECK(o.eof);            // nothing hangs: every client sees the end
    CHECK(o.leftover == 0);  // no reply cut in half
    CHECK(o.wrong == 0);     // and every reply is the right one, in order
    CHECK(o.replies > 0);
    total += o.replies;
  }
  std::vector<Reply> r;
  std::size_t leftover = 0;
  CHECK(idle.read_to_eof(r, leftover, 2s));
  std::printf(
      "SIGTERM under load: exit status 0 in %.0f ms, %d busy clients got %zu whole replies\n",
      exit_ms, kBusy, total);
}

TEST_CASE("reliability: many writers at maxmemory get -OOM then reads deletes and recovery work") {
  auto server = start_tessera(2, {"--maxmemory", "4mb"});
  constexpr int kWriters = 16;
  const std::string oom = "OOM command not allowed when used memory > 'maxmemory'.";
  const std::string value(1000, 'm');
  std::vector<std::vector<std::string>> acked(kWriters);
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      Conn c(server.port());
      int oom_batches = 0;
      for (int batch = 0; batch < 400 && oom_batches < 3; ++batch) {
        std::string req;
        std::vector<std::string> keys;
        for (int i = 0; i < 50; ++i) {
          keys.push_back("w:" + std::to_string(t) + ":" + std::to_string(batch * 50 + i));
          req += encode({"SET", keys.back(), value});
        }
        std::vector<Reply> r;
        if (!c.send_all(req) || !c.read_replies(keys.size(), r)) {
          ++unexpected;
          return;
        }
        bool saw_oom = false;
        for (std::size_t i = 0; i < r.size(); ++i) {
          if (r[i].type == Reply::Type::kSimple && r[i].str == "OK") {
            acked[t].push_back(keys[i]);
          } else if (r[i].type == Reply::Type::kError && r[i].str == oom) {
            saw_oom = true;
          } else {
            ++unexpected;
          }
        }
        oom_batches += saw_oom;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(unexpected == 0);
  std::vector<std::string> all;
  for (auto& a : acked) all.insert(all.end(), a.begin(), a.end());
  const std::int64_t used = info_field(server.port(), "tessera_used_memory_store");
  CHECK(used > 4'000'000 * 9 / 10);
  CHECK(used < 2 * 4'000'000);  // concurrent writers overshoot the check, but not by much
  Conn c(server.port());
  std::vector<Reply> r;
  // Reads: every acknowledged write is there.
  REQUIRE(c.send_all(encode({"DBSIZE"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].integer == static_cast<std::int64_t>(all.size()));
  std::size_t bad = 0;
  for (std::size_t i = 0; i < all.size(); i += 200) {
    std::string req;
    const std::size_t n = std::min<std::size_t>(200, all.size() - i);
    for (std::size_t j = i; j < i + n; ++j) req += encode({"GET", all[j]});
    r.clear();
    REQUIRE(c.send_all(req));
    REQUIRE(c.read_replies(n, r));
    for (const Reply& x : r) bad += x.str != value;
  }
  CHECK(bad == 0);
  // Still refused, and deletes work.
  r.clear();
  REQUIRE(c.send_all(encode({"SET", "more", "x"})));
  REQUIRE(c.read_replies(1, r));
  CHECK(r[0].str == oom);
  std::string dels;
  const std::size_t half = all.size() / 2;
  for (std::size_t i = 0; i < half; ++i) dels += encode({"DEL", all[i]});
  r.clear();
  REQUIRE(c.send_all(dels));
  REQUIRE(c.read_replies(half, r));
  std::size_t deleted = 0;
  for (const Reply& x : r) deleted += x.integer == 1;
  CHECK(deleted == half);
  // Recovered without FLUSHALL: writes go through again, until the limit refuses them again.
  int ok_after = 0;
  bool refused_again = false;
  for (int i = 0; i < 6000 && !refused_again; ++i) {
    r.clear();
    REQUIRE(c.send_all(encode({"SET", numbered("again:", i), value})));
    REQUIRE(c.read_replies(1, r));
    if (r[0].str == "OK") {
      ++ok_after;
    } else {
      CHECK(r[0].str == oom);
      refused_again = true;
    }
  }
  CHECK(ok_after > static_cast<int>(half) / 2);
  CHECK(refused_again);
  std::printf(
      "maxmemory 4mb: %d writers, %zu writes acknowledged, used_memory %lld at the limit; after "
      "deleting %zu keys %d writes went through before -OOM again\n",
      kWriters, all.size(), static_cast<long long>(used), half, ok_after);
}

TEST_CASE("reliability: short soak with a model") {
  SoakOptions o;
  o.seconds = 15;
  o.phase_seconds = 5;
  const SoakResult res = run_soak(o);
  check_soak(res);
}
