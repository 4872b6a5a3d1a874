// In-order visibility across shards (issue 21 item 3), against the real server with 2 shards: one
// writer pipelines "SET data:i payload; SET flag:i 1" while readers pipeline "GET flag:i; GET
// data:i" around the writer's progress. Redis runs each client's commands one after the other, so
// a reader that sees a flag must see its payload: zero flags without data. Checked to fail before
// the fix (the session ran home-shard operations at dispatch and remote ones at the batch's hop:
// dozens of flags without data per run).
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <tessera/protocol/reply_reader.hpp>
#include <thread>
#include <vector>

#include "e2e_util.hpp"

using namespace tessera::test;
using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;

namespace {

// Reads from `c` until `reader` has produced `n` replies (appended to `out`); false on EOF, error
// or a 10 s stall.
bool read_replies(RawConnection& c, ReplyReader& reader, std::size_t n, std::vector<Reply>& out) {
  Reply r;
  while (out.size() < n) {
    const auto st = reader.next(r);
    if (st == ReplyReader::Status::kError) return false;
    if (st == ReplyReader::Status::kReply) {
      out.push_back(std::move(r));
      continue;
    }
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    auto space = reader.prepare();
    const ssize_t got = ::recv(c.fd(), space.data(), space.size(), 0);
    if (got <= 0) return false;
    reader.commit(static_cast<std::size_t>(got));
  }
  return true;
}

std::string payload(int i) { return "payload-" + std::to_string(i); }

}  // namespace

TEST_CASE("e2e ordering: a flag written after its data is never seen without it (2 shards)") {
  auto server = start_tessera(2);
  constexpr int kPairs = 40000;
  constexpr int kBatch = 64;
  std::atomic<int> progress{0};  // pairs the writer had acknowledged
  std::atomic<bool> writer_ok{true};

  std::thread writer([&] {
    RawConnection c(server.port());
    ReplyReader reader;
    std::vector<Reply> replies;
    for (int base = 0; base < kPairs; base += kBatch) {
      std::string req;
      for (int i = base; i < base + kBatch; ++i) {
        req += resp({"SET", "data:" + std::to_string(i), payload(i)});
        req += resp({"SET", "flag:" + std::to_string(i), "1"});
      }
      c.send(req);
      replies.clear();
      if (!read_replies(c, reader, 2 * kBatch, replies)) {
        writer_ok = false;
        break;
      }
      for (const Reply& r : replies) {
        if (r.type != Reply::Type::kSimple || r.str != "OK") writer_ok = false;
      }
      progress = base + kBatch;
    }
  });

  constexpr int kReaders = 3;
  std::atomic<long> pairs_read{0}, flags_seen{0}, flag_without_data{0}, wrong_data{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&, t] {
      RawConnection c(server.port());
      ReplyReader reader;
      std::vector<Reply> replies;
      unsigned seed = 12345u + static_cast<unsigned>(t);
      while (!done) {
        // Just ahead of and around what the writer has acknowledged: where the race is.
        const int front = progress.load();
        std::string req;
        std::vector<int> ids;
        for (int k = 0; k < kBatch; ++k) {
          seed = seed * 1103515245u + 12345u;
          const int i = std::clamp(front - 32 + static_cast<int>((seed >> 8) % 160), 0, kPairs - 1);
          ids.push_back(i);
          req += resp({"GET", "flag:" + std::to_string(i)});
          req += resp({"GET", "data:" + std::to_string(i)});
        }
        c.send(req);
        replies.clear();
        if (!read_replies(c, reader, 2 * ids.size(), replies)) break;
        for (std::size_t k = 0; k < ids.size(); ++k) {
          const Reply& flag = replies[2 * k];
          const Reply& data = replies[2 * k + 1];
          ++pairs_read;
          if (flag.type != Reply::Type::kBulk) continue;
          ++flags_seen;
          if (data.type != Reply::Type::kBulk) {
            ++flag_without_data;
          } else if (data.str != payload(ids[k])) {
            ++wrong_data;
          }
        }
      }
    });
  }
  writer.join();
  done = true;
  for (auto& r : readers) r.join();
  MESSAGE("pairs read " << pairs_read.load() << ", flags seen " << flags_seen.load()
                        << ", flag without data " << flag_without_data.load());
  CHECK(writer_ok);
  CHECK(progress == kPairs);
  CHECK(flags_seen > 1000);  // the readers did look where the writer was writing
  CHECK(flag_without_data == 0);
  CHECK(wrong_data == 0);
}
