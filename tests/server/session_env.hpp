// What the in-process server tests share: a running ShardSet with its ServerState, and helpers that
// drive a real Session (InProcessSession) and read its replies.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tessera/protocol/reply_reader.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/in_process_session.hpp>

namespace tessera::server::testing {

struct Env {
  explicit Env(unsigned shards, Config c = {})
      : state(with_shards(std::move(c), shards)), set(shards, &state.store) {
    set.start();
  }
  static Config with_shards(Config c, unsigned n) {
    c.shards = n;
    return c;
  }
  // A key owned by `shard` (the first of prefix0, prefix1, ... that is).
  std::string key_on(unsigned shard, std::string_view prefix = "k") const {
    for (int i = 0;; ++i) {
      std::string k = std::string(prefix) + std::to_string(i);
      if (set.shard_of(k) == shard) return k;
    }
  }
  ServerState state;
  ShardSet set;
};

inline std::vector<protocol::Reply> parse_all(std::string_view bytes) {
  protocol::ReplyReader reader;
  reader.feed(bytes);
  std::vector<protocol::Reply> out;
  protocol::Reply r;
  for (;;) {
    auto st = reader.next(r);
    REQUIRE(st != protocol::ReplyReader::Status::kError);
    if (st == protocol::ReplyReader::Status::kNeedMore) break;
    out.push_back(r);
  }
  REQUIRE(reader.buffered() == 0);
  return out;
}

inline std::string bulk(std::string_view s) {
  std::string out;
  protocol::ReplyWriter(out).bulk(s);
  return out;
}

inline std::string integer(std::int64_t v) { return ":" + std::to_string(v) + "\r\n"; }

// "name:value" lines of INFO <section>.
inline std::map<std::string, std::string> info_fields(InProcessSession& c,
                                                      std::string_view section) {
  auto replies = parse_all(c.call({"INFO", section}));
  REQUIRE(replies.size() == 1);
  std::map<std::string, std::string> out;
  const std::string& text = replies[0].str;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find("\r\n", pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    if (auto colon = line.find(':'); colon != std::string::npos && line[0] != '#') {
      out[line.substr(0, colon)] = line.substr(colon + 1);
    }
    pos = end + 2;
  }
  return out;
}

inline constexpr unsigned kShardCounts[] = {1, 2, 4};

}  // namespace tessera::server::testing
