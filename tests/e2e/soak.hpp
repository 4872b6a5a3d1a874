// The soak with a model (issue 9), shared by the short run in reliability_test.cpp and the long
// one in soak_test.cpp.
//
// Many connections, each on its own thread and its own key range (soak:<conn>:<n>), run random
// pipelined SET/SET PX/PUT/GET/DEL and SCAN pages while a model (one vector per connection)
// tracks what the server acknowledged:
//   - a GET must return exactly the model's value, a DEL the model's count;
//   - keys with deadlines (SET ... PX 1..3000 ms; SET and PUT clear a deadline): the model knows
//     each deadline within the window the SET ran in ([sent, acknowledged] + the TTL, on the system
//     clock the server reads too). A read that ran well before the window (kDeadlineSlackMs) must
//     find the key, one well after it must not, one in between may do either (a read that misses
//     it tells the model the key is gone). SCAN never returns a key after its deadline, and a key
//     with a deadline is not among those a SCAN must return. At the end, once every deadline has
//     passed, DBSIZE must come down to the keys without one (the active cycle reclaims the rest
//     unread) before the final reads;
//   - a SCAN iteration (MATCH soak:<conn>:*) must return every key live for the whole iteration,
//     and only keys live at some moment of it;
//   - a connection sometimes vanishes mid-pipeline (close, or an RST) after reading only part of
//     its replies. The unacknowledged commands may or may not have run, and a key's final value
//     is then its value after some prefix of them: the key is "maybe" (a set of candidates) and
//     left alone until the next phase boundary.
// Phases: every few seconds every connection finishes its batch and disconnects; once the server's
// descriptor count is back to its baseline (no connection left, so no dropped pipeline can still
// run) each thread reads its maybe keys back, checks the value is one of the candidates and
// adopts it. At the end: every key reads back its model value, DBSIZE matches, a full SCAN returns
// every live key and no other, and after FLUSHALL the RSS is back near where it started.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "reliability_util.hpp"

namespace tessera::test {

struct SoakOptions {
  int seconds = 15;
  int connections = 48;
  int keys_per_connection = 400;
  int phase_seconds = 5;
  unsigned shards = 2;
};

struct SoakResult {
  std::vector<std::string> errors;  // empty when the server behaved
  std::uint64_t commands = 0, batches = 0, drops = 0, maybe_keys = 0, scans_completed = 0;
  // Keys with a deadline: SET ... PX acknowledged; reads of such keys that had to find them (well
  // before the deadline) and that had to miss them (well after); reads in the slack window.
  std::uint64_t ttl_sets = 0, ttl_reads_before = 0, ttl_reads_after = 0, ttl_reads_near = 0;
  double reclaim_seconds = 0;  // from the last deadline until DBSIZE counted live keys only
  std::int64_t live_keys = 0;
  std::int64_t rss_start_kb = 0, rss_peak_kb = 0, rss_before_flush_kb = 0, rss_after_flush_kb = 0;
  int fds_baseline = 0, fds_end = 0;
  double seconds = 0;
};

namespace soak_detail {

using Value = std::optional<std::string>;  // nullopt: the key does not exist

// Milliseconds on the system clock, the one the server measures deadlines against.
inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// How far from a deadline's window a read must be for the model to insist on the key being there
// (before) or gone (after): the clock's millisecond steps on both sides, and some room.
inline constexpr std::int64_t kDeadlineSlackMs = 5;

// What the model knows of a key: its value, and when it has a deadline, the window it lies in.
struct Slot {
  Value value;
  bool timed = false;
  std::int64_t lo = 0, hi = 0;  // the deadline is within [lo, hi] (system ms)
};
// Whether a key a read saw in [sent, acked] (system ms) must be there, must be gone, or either.
enum class Presence { kThere, kGone, kEither };
inline Presence presence(const Slot& s, std::int64_t sent, std::int64_t acked) {
  if (!s.value) return Presence::kGone;
  if (!s.timed) return Presence::kThere;
  // Expired when the server's now > deadline: certainly not yet if the read ran by acked and the
  // deadline is at least lo; certainly so if the read ran from sent on and the deadline is <= hi.
  if (acked + kDeadlineSlackMs < s.lo) return Presence::kThere;
  if (sent - kDeadlineSlackMs > s.hi) return Presence::kGone;
  return Presence::kEither;
}

struct Errors {
  std::mutex mu;
  std::vector<std::string> list;
  void add(std::string e) {
    std::lock_guard lock(mu);
    if (list.size() < 20) list.push_back(std::move(e));
  }
  bool any() {
    std::lock_guard lock(mu);
    return !list.empty();
  }
};

enum class Op { kSet, kSetPx, kPut, kGet, kDel, kScan };
struct Cmd {
  Op op;
  int key = -1;  // -1 for SCAN
  std::string value;
  std::int64_t ttl_ms = 0;  // kSetPx
};
// A value a key may hold after a dropped pipeline, with the deadline the write gave it.
struct Candidate {
  Value value;
  std::int64_t ttl_ms = 0;  // 0: no deadline
  std::int64_t sent = 0;    // when the write was sent (system ms)
  bool timed = false;
  std::int64_t lo = 0, hi = 0;  // the model's window when this candidate is the model's own slot
};

// GETs in chunks, reading each chunk's replies before sending the next, so that neither side's
// socket buffers fill with the other waiting.
bool get_all(Conn& c, const std::vector<std::string>& names, std::vector<Reply>& out) {
  constexpr std::size_t kChunk = 256;
  for (std::size_t i = 0; i < names.size(); i += kChunk) {
    std::string req;
    const std::size_t n = std::min(kChunk, names.size() - i);
    for (std::size_t j = i; j < i + n; ++j) req += encode({"GET", names[j]});
    if (!c.send_all(req) || !c.read_replies(n, out, Ms(30000))) return false;
  }
  return true;
}

std::string key_name(int conn, int key) {
  std::string k = "soak:";
  k += std::to_string(conn);
  k += ':';
  k += std::to_string(key);
  return k;
}

class Worker {
 public:
  Worker(int id, int port, const SoakOptions& o, Errors& errors)
      : id_(id),
        port_(port),
        keys_(o.keys_per_connection),
        errors_(errors),
        rng_(0x5eed0000u + static_cast<unsigned>(id)),
        model_(static_cast<std::size_t>(o.keys_per_connection)) {}

  // Runs batches until `phase_end`, then disconnects.
  void run_phase(std::chrono::steady_clock::time_point phase_end) {
    while (std::chrono::steady_clock::now() < phase_end && !errors_.any()) {
      if (!conn_) {
        try {
          conn_ = std::make_unique<Conn>(port_);
        } catch (const std::exception& e) {
          fail(std::string("connect: ") + e.what());
          return;
        }
        scanning_ = false;
      }
      one_batch();
    }
    conn_.reset();
  }

  // Called once the server has no connection left: reads every maybe key back. Every dropped
  // command has run by now (or never will), so a write's deadline window ends now.
  void resolve_maybes() {
    scanning_ = false;
    if (maybe_.empty()) return;
    Conn c(port_);
    std::vector<int> keys;
    std::vector<std::string> names;
    for (auto& [key, candidates] : maybe_) {
      keys.push_back(key);
      names.push_back(key_name(id_, key));
    }
    const std::int64_t sent = wall_ms();
    std::vector<Reply> replies;
    if (!get_all(c, names, replies)) {
      fail("resolving maybe keys: " + c.error());
      return;
    }
    const std::int64_t acked = wall_ms();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const Value got = as_value(replies[i]);
      std::optional<Slot> adopted;
      for (const Candidate& cand : maybe_[keys[i]]) {
        Slot slot{cand.value, cand.timed, cand.lo, cand.hi};
        if (cand.ttl_ms != 0) {
          slot.timed = true;
          slot.lo = cand.sent + cand.ttl_ms - 1;
          slot.hi = sent + cand.ttl_ms + 1;
        }
        const Presence p = presence(slot, sent, acked);
        const bool fits = got ? (slot.value == got && p != Presence::kGone)
                              : (!slot.value || p != Presence::kThere);
        if (fits) {
          adopted = got ? slot : Slot{};
          break;
        }
      }
      if (!adopted) {
        fail("maybe key " + key_name(id_, keys[i]) + " holds a value no prefix of its dropped " +
             "pipeline could leave");
        adopted = Slot{got};
      }
      model_[static_cast<std::size_t>(keys[i])] = *adopted;
    }
    maybe_.clear();
  }

  const std::vector<Slot>& model() const { return model_; }
  int id() const { return id_; }
  std::uint64_t commands = 0, batches = 0, drops = 0, maybe_keys = 0, scans_completed = 0;
  std::uint64_t ttl_sets = 0, ttl_reads_before = 0, ttl_reads_after = 0, ttl_reads_near = 0;

 private:
  void fail(std::string what) { errors_.add("conn " + std::to_string(id_) + ": " + what); }

  static Value as_value(const Reply& r) {
    if (r.type == Reply::Type::kBulk) return r.str;
    return std::nullopt;
  }

  std::string next_value() {
    // Unique per write; sizes spread over 0..1.5 KB so that entries of many sizes come and go.
    std::string v = std::to_string(id_);
    v += ':';
    v += std::to_string(++seq_);
    v += ':';
    v.append(std::uniform_int_distribution<std::size_t>(0, 1500)(rng_),
             static_cast<char>('a' + seq_ % 26));
    return v;
  }

  int pick_key() {
    std::uniform_int_distribution<int> d(0, keys_ - 1);
    for (int tries = 0; tries < 8; ++tries) {
      const int k = d(rng_);
      if (!maybe_.contains(k)) return k;
    }
    return -1;
  }

  void one_batch() {
    std::uniform_int_distribution<int> pct(0, 99);
    const int n = std::uniform_int_distribution<int>(1, 64)(rng_);
    std::vector<Cmd> cmds;
    std::string req;
    bool has_scan = false;
    for (int i = 0; i < n; ++i) {
      const int roll = pct(rng_);
      if (roll < 4 && !has_scan) {
        has_scan = true;
        if (!scanning_) start_scan();
        cmds.push_back({Op::kScan, -1, {}});
        std::string pattern = "soak:" + std::to_string(id_);
        pattern += ":*";
        req += encode({"SCAN", std::to_string(scan_cursor_), "MATCH", pattern, "COUNT", "200"});
        continue;
      }
      const int key = pick_key();
      if (key < 0) continue;
      const std::string name = key_name(id_, key);
      if (roll < 22) {
        cmds.push_back({Op::kSet, key, next_value()});
        req += encode({"SET", name, cmds.back().value});
      } else if (roll < 36) {
        // Deadlines from a millisecond to 3 s: many pass during the soak, many are read before.
        const std::int64_t ttl = pct(rng_) < 50 ? std::uniform_int_distribution<int>(1, 300)(rng_)
                                                : std::uniform_int_distribution<int>(1, 3000)(rng_);
        cmds.push_back({Op::kSetPx, key, next_value(), ttl});
        req += encode({"SET", name, cmds.back().value, "PX", std::to_string(ttl)});
      } else if (roll < 50) {
        cmds.push_back({Op::kPut, key, next_value()});
        req += encode({"PUT", name, cmds.back().value});
      } else if (roll < 85) {
        cmds.push_back({Op::kGet, key, {}});
        req += encode({"GET", name});
      } else {
        cmds.push_back({Op::kDel, key, {}});
        req += encode({"DEL", name});
      }
    }
    if (cmds.empty()) return;
    ++batches;
    commands += cmds.size();
    const bool drop = pct(rng_) < 3;
    const std::int64_t sent = wall_ms();
    if (!conn_->send_all(req)) {
      fail("send failed: the server closed a healthy connection");
      return;
    }
    std::vector<Reply> replies;
    std::size_t want = cmds.size();
    if (drop) want = std::uniform_int_distribution<std::size_t>(0, cmds.size())(rng_);
    if (!conn_->read_replies(want, replies)) {
      fail("reading replies: " + conn_->error());
      conn_.reset();
      return;
    }
    const std::int64_t acked = wall_ms();
    for (std::size_t i = 0; i < want; ++i) apply(cmds[i], replies[i], sent, acked);
    if (!drop) return;
    // Vanish with the rest unread: the remaining commands ran in order up to some unknown point.
    ++drops;
    if (pct(rng_) < 50) {
      conn_->abort();
    } else {
      conn_->close();
    }
    conn_.reset();
    scanning_ = false;
    for (std::size_t i = want; i < cmds.size(); ++i) {
      const Cmd& c = cmds[i];
      if (c.op == Op::kScan || c.op == Op::kGet) continue;
      auto [it, fresh] = maybe_.try_emplace(c.key);
      if (fresh) {
        ++maybe_keys;
        const Slot& now = model_[static_cast<std::size_t>(c.key)];
        it->second.push_back(Candidate{now.value, 0, 0, now.timed, now.lo, now.hi});
      }
      if (c.op == Op::kDel) {
        it->second.push_back(Candidate{});
      } else {
        it->second.push_back(
            Candidate{c.value, c.op == Op::kSetPx ? c.ttl_ms : 0, sent, false, 0, 0});
      }
    }
  }

  void start_scan() {
    scanning_ = true;
    scan_cursor_ = 0;
    scan_must_.clear();
    scan_allowed_.clear();
    scan_seen_.clear();
    const std::int64_t now = wall_ms();
    for (int k = 0; k < keys_; ++k) {
      const Slot& slot = model_[static_cast<std::size_t>(k)];
      if (maybe_.contains(k)) {
        scan_allowed_.insert(k);  // may exist
      } else if (slot.value && !slot.timed) {
        scan_must_.insert(k);
        scan_allowed_.insert(k);
      } else if (slot.value && presence(slot, now, now) != Presence::kGone) {
        scan_allowed_.insert(k);  // may expire during the iteration
      }
    }
  }

  // Counts a read of a key with a deadline by where it fell, and tells the model when the read
  // found the key gone (expired: it never comes back).
  void saw(Slot& slot, Presence p, bool found) {
    if (!slot.timed || !slot.value) return;
    if (p == Presence::kThere) ++ttl_reads_before;
    if (p == Presence::kGone) ++ttl_reads_after;
    if (p == Presence::kEither) ++ttl_reads_near;
    if (!found) slot = Slot{};
  }

  void apply(const Cmd& c, const Reply& r, std::int64_t sent, std::int64_t acked) {
    const std::string name = c.key >= 0 ? key_name(id_, c.key) : std::string();
    Slot* slot = c.key >= 0 ? &model_[static_cast<std::size_t>(c.key)] : nullptr;
    switch (c.op) {
      case Op::kSet:
      case Op::kSetPx:
      case Op::kPut:
        if (r.type != Reply::Type::kSimple || r.str != "OK") {
          fail("SET/PUT " + name + " did not reply +OK: " + r.str);
        }
        *slot = Slot{c.value};
        if (c.op == Op::kSetPx) {
          ++ttl_sets;
          slot->timed = true;
          slot->lo = sent + c.ttl_ms - 1;
          slot->hi = acked + c.ttl_ms + 1;
          if (scanning_) scan_must_.erase(c.key);  // it may expire before the iteration ends
        }
        if (scanning_) scan_allowed_.insert(c.key);
        break;
      case Op::kGet: {
        const Value got = as_value(r);
        const Presence p = presence(*slot, sent, acked);
        const bool ok = (r.type == Reply::Type::kBulk || r.type == Reply::Type::kNull) &&
                        (got ? got == slot->value && p != Presence::kGone : p != Presence::kThere);
        if (!ok) {
          fail("GET " + name + " returned " + (r.type == Reply::Type::kBulk ? r.str : "nil") +
               " but the model holds " + (slot->value ? *slot->value : "nil") +
               (slot->timed ? " with a deadline in [" + std::to_string(slot->lo) + ", " +
                                  std::to_string(slot->hi) + "], read in [" + std::to_string(sent) +
                                  ", " + std::to_string(acked) + "]"
                            : ""));
        }
        saw(*slot, p, got.has_value());
        break;
      }
      case Op::kDel: {
        const Presence p = presence(*slot, sent, acked);
        const bool ok =
            r.type == Reply::Type::kInteger &&
            (r.integer == 1 ? p != Presence::kGone : r.integer == 0 && p != Presence::kThere);
        if (!ok) {
          fail("DEL " + name + " returned " + std::to_string(r.integer) + " but the model says " +
               (p == Presence::kThere  ? "1"
                : p == Presence::kGone ? "0"
                                       : "0 or 1"));
        }
        saw(*slot, p, r.integer == 1);
        *slot = Slot{};
        if (scanning_) scan_must_.erase(c.key);
        break;
      }
      case Op::kScan:
        apply_scan(r, sent);
        break;
    }
  }

  void apply_scan(const Reply& r, std::int64_t sent) {
    if (r.type != Reply::Type::kArray || r.elements.size() != 2 ||
        r.elements[1].type != Reply::Type::kArray) {
      fail("SCAN reply is not [cursor, keys]");
      return;
    }
    const std::string prefix = "soak:" + std::to_string(id_) + ":";
    for (const Reply& k : r.elements[1].elements) {
      if (k.str.rfind(prefix, 0) != 0) {
        fail("SCAN MATCH returned a key outside the pattern: " + k.str);
        continue;
      }
      const int key = std::atoi(k.str.c_str() + prefix.size());
      if (!scan_allowed_.contains(key)) {
        fail("SCAN returned " + k.str + ", which was not live at any time of the iteration");
      } else if (!maybe_.contains(key) && key >= 0 && key < keys_ &&
                 model_[static_cast<std::size_t>(key)].timed &&
                 presence(model_[static_cast<std::size_t>(key)], sent, sent) == Presence::kGone) {
        fail("SCAN returned " + k.str + " after its deadline");
      }
      scan_seen_.insert(key);
    }
    scan_cursor_ = std::strtoull(r.elements[0].str.c_str(), nullptr, 10);
    if (scan_cursor_ != 0) return;
    for (int k : scan_must_) {
      if (!scan_seen_.contains(k)) {
        fail("SCAN missed " + key_name(id_, k) + ", live for the whole iteration");
      }
    }
    ++scans_completed;
    scanning_ = false;
  }

  int id_;
  int port_;
  int keys_;
  Errors& errors_;
  std::mt19937_64 rng_;
  std::vector<Slot> model_;
  std::map<int, std::vector<Candidate>> maybe_;  // key -> the values it may hold
  std::unique_ptr<Conn> conn_;
  std::uint64_t seq_ = 0;
  bool scanning_ = false;
  std::uint64_t scan_cursor_ = 0;
  std::unordered_set<int> scan_must_, scan_allowed_, scan_seen_;
};

}  // namespace soak_detail

inline SoakResult run_soak(const SoakOptions& o) {
  using namespace soak_detail;
  using Clock = std::chrono::steady_clock;
  SoakResult res;
  auto server = start_tessera(o.shards);
  const int port = server.port();
  const pid_t pid = server.pid();
  {
    // Warm the server's per-connection paths once so the baseline is not the cold process.
    Conn warm(port);
    std::vector<Reply> r;
    warm.send_all(encode({"PING"}));
    warm.read_replies(1, r);
  }
  std::this_thread::sleep_for(Ms(200));
  res.fds_baseline = open_fds(pid);
  res.rss_start_kb = rss_kb(pid);

  Errors errors;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.connections; ++i) {
    workers.push_back(std::make_unique<Worker>(i, port, o, errors));
  }
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  std::atomic<std::int64_t> peak{res.rss_start_kb};
  // Between phases: no connection may be left (a dropped pipeline could otherwise still run).
  auto all_closed = [&]() noexcept {
    peak = std::max<std::int64_t>(peak, rss_kb(pid));
    if (!eventually([&] { return open_fds(pid) <= res.fds_baseline; }, std::chrono::seconds(20))) {
      errors.add("descriptors did not return to the baseline " + std::to_string(res.fds_baseline) +
                 " between phases: " + std::to_string(open_fds(pid)));
    }
  };
  std::barrier sync(o.connections, all_closed);
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, w = w.get()] {
      for (auto phase_end = start;;) {
        phase_end = std::min(end, phase_end + std::chrono::seconds(o.phase_seconds));
        w->run_phase(phase_end);
        sync.arrive_and_wait();
        try {
          w->resolve_maybes();
        } catch (const std::exception& e) {
          errors.add(std::string("resolving maybe keys: ") + e.what());
        }
        if (phase_end >= end) break;
      }
    });
  }
  RssSampler sampler(pid);
  for (auto& t : threads) t.join();
  res.rss_peak_kb = std::max<std::int64_t>(sampler.stop(), peak);
  res.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& w : workers) {
    res.commands += w->commands;
    res.batches += w->batches;
    res.drops += w->drops;
    res.maybe_keys += w->maybe_keys;
    res.scans_completed += w->scans_completed;
    res.ttl_sets += w->ttl_sets;
    res.ttl_reads_before += w->ttl_reads_before;
    res.ttl_reads_after += w->ttl_reads_after;
    res.ttl_reads_near += w->ttl_reads_near;
  }

  // The final check, over one fresh connection, once every deadline has passed: the keys with
  // one must all be gone, and nobody reads them before DBSIZE counts only the others (the active
  // cycle reclaims them unread).
  Conn c(port);
  std::set<std::string> live;
  std::vector<std::string> names;
  std::vector<std::pair<std::string, Value>> expected;
  std::int64_t last_deadline = 0;
  for (auto& w : workers) {
    for (std::size_t k = 0; k < w->model().size(); ++k) {
      const Slot& slot = w->model()[k];
      const std::string name = key_name(w->id(), static_cast<int>(k));
      expected.emplace_back(name, slot.timed ? Value() : slot.value);
      if (slot.value && !slot.timed) live.insert(name);
      if (slot.value && slot.timed) last_deadline = std::max(last_deadline, slot.hi);
      names.push_back(name);
    }
  }
  while (wall_ms() <= last_deadline + kDeadlineSlackMs) std::this_thread::sleep_for(Ms(10));
  std::vector<Reply> replies;
  const auto reclaim_start = Clock::now();
  if (!eventually(
          [&] {
            replies.clear();
            return c.send_all(encode({"DBSIZE"})) && c.read_replies(1, replies) &&
                   replies[0].integer == static_cast<std::int64_t>(live.size());
          },
          std::chrono::seconds(20))) {
    errors.add("DBSIZE " + std::to_string(replies.empty() ? -1 : replies[0].integer) +
               " 20 s after the last deadline, but the model has " + std::to_string(live.size()) +
               " keys without one (and none with one left)");
  }
  res.reclaim_seconds = std::chrono::duration<double>(Clock::now() - reclaim_start).count();
  replies.clear();
  if (!get_all(c, names, replies)) {
    errors.add("final read-back failed: " + c.error());
  } else {
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const Value got =
          replies[i].type == Reply::Type::kBulk ? Value(replies[i].str) : Value(std::nullopt);
      if (got != expected[i].second && ++wrong <= 5) {
        errors.add("final GET " + expected[i].first + " differs from its last acknowledged write");
      }
    }
  }
  res.live_keys = static_cast<std::int64_t>(live.size());
  replies.clear();
  if (!c.send_all(encode({"DBSIZE"})) || !c.read_replies(1, replies) ||
      replies[0].integer != res.live_keys) {
    errors.add("DBSIZE " + std::to_string(replies.empty() ? -1 : replies[0].integer) +
               " but the model has " + std::to_string(res.live_keys) + " live keys");
  }
  std::multiset<std::string> scanned;
  std::uint64_t cursor = 0;
  do {
    replies.clear();
    if (!c.send_all(encode({"SCAN", std::to_string(cursor), "COUNT", "200"})) ||
        !c.read_replies(1, replies)) {
      errors.add("final SCAN failed: " + c.error());
      break;
    }
    cursor = std::strtoull(replies[0].elements[0].str.c_str(), nullptr, 10);
    for (const Reply& k : replies[0].elements[1].elements) scanned.insert(k.str);
  } while (cursor != 0);
  for (const auto& k : live) {
    if (!scanned.contains(k)) errors.add("full SCAN missed live key " + k);
  }
  for (const auto& k : scanned) {
    if (!live.contains(k)) errors.add("full SCAN returned " + k + ", which the model says is gone");
  }
  std::this_thread::sleep_for(Ms(200));
  res.rss_before_flush_kb = rss_kb(pid);
  replies.clear();
  if (!c.send_all(encode({"FLUSHALL"})) || !c.read_replies(1, replies)) {
    errors.add("FLUSHALL failed");
  }
  c.close();
  std::this_thread::sleep_for(Ms(500));
  res.rss_after_flush_kb = rss_kb(pid);
  eventually([&] { return open_fds(pid) <= res.fds_baseline; });
  res.fds_end = open_fds(pid);
  res.errors = errors.list;
  std::printf(
      "soak: %.1f s, %d connections x %d keys, %u shards: %llu commands in %llu batches, "
      "%llu drops leaving %llu maybe keys, %llu SCAN iterations checked, %lld live keys at end\n"
      "soak: %llu SET PX acknowledged; reads of keys with a deadline: %llu well before it (found), "
      "%llu well after (missed), %llu near it; DBSIZE down to the keys without one %.2f s after "
      "the last deadline\n"
      "soak: RSS start %lld kB, peak %lld kB, before FLUSHALL %lld kB, after %lld kB; "
      "fds baseline %d end %d\n",
      res.seconds, o.connections, o.keys_per_connection, o.shards,
      static_cast<unsigned long long>(res.commands), static_cast<unsigned long long>(res.batches),
      static_cast<unsigned long long>(res.drops), static_cast<unsigned long long>(res.maybe_keys),
      static_cast<unsigned long long>(res.scans_completed), static_cast<long long>(res.live_keys),
      static_cast<unsigned long long>(res.ttl_sets),
      static_cast<unsigned long long>(res.ttl_reads_before),
      static_cast<unsigned long long>(res.ttl_reads_after),
      static_cast<unsigned long long>(res.ttl_reads_near), res.reclaim_seconds,
      static_cast<long long>(res.rss_start_kb), static_cast<long long>(res.rss_peak_kb),
      static_cast<long long>(res.rss_before_flush_kb),
      static_cast<long long>(res.rss_after_flush_kb), res.fds_baseline, res.fds_end);
  std::fflush(stdout);
  return res;
}

// What every soak must end with: no model error, drops and full SCANs really happened, no fd leak,
// and after FLUSHALL (which trims malloc's arenas) the RSS back within 8 MB (or a quarter of the
// growth) of the start.
inline void check_soak(const SoakResult& res) {
  for (const auto& e : res.errors) FAIL_CHECK(e);
  CHECK(res.errors.empty());
  CHECK(res.drops > 0);
  CHECK(res.scans_completed > 0);
  CHECK(res.ttl_sets > 0);
  CHECK(res.ttl_reads_before > 0);  // keys with a deadline were read while they had to be there
  CHECK(res.ttl_reads_after > 0);   // and after they had to be gone
  CHECK(res.fds_end <= res.fds_baseline);
  const std::int64_t grown = res.rss_peak_kb - res.rss_start_kb;
  if (!kSanitized) {
    CHECK(res.rss_after_flush_kb - res.rss_start_kb < std::max<std::int64_t>(8 * 1024, grown / 4));
  }
}

}  // namespace tessera::test
