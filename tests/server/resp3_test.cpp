// RESP3 against Redis 7.0.15: every command Tessera has, replayed after HELLO 3 on a real Session
// over four shards (so key operations run on other shards too, and their replies must come back
// in the connection's protocol), compared with the bytes Debian's redis-server sent for the same
// steps (resp3/steps.txt, recorded into resp3/redis_replies.inc by resp3/record.py). Bytes that
// legitimately differ (connection ids, INFO's contents, the command table's docs and counts) are
// compared by shape: the RESP3 types, not the values.
#include <doctest/doctest.h>

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/protocol/reply_reader.hpp>

#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;
using tessera::protocol::Reply;

namespace {

// One recorded step. The reply is taken as a char array, so that embedded NUL bytes are kept.
struct RawStep {
  template <std::size_t N>
  RawStep(std::string_view m, std::vector<std::string> a, const char (&reply)[N])
      : mode(m), args(std::move(a)), redis(reply, N - 1) {}
  std::string_view mode;
  std::vector<std::string> args;
  std::string_view redis;
};

const std::vector<RawStep>& redis_steps() {
  static const std::vector<RawStep> steps = {
#include "resp3/redis_replies.inc"
  };
  return steps;
}

Reply parse_one(std::string_view raw) {
  auto all = parse_all(raw);
  REQUIRE(all.size() == 1);
  return all[0];
}

char type_char(const Reply& r) {
  switch (r.type) {
    case Reply::Type::kSimple:
      return '+';
    case Reply::Type::kError:
      return '-';
    case Reply::Type::kInteger:
      return ':';
    case Reply::Type::kBulk:
      return '$';
    case Reply::Type::kNull:
      return '_';
    case Reply::Type::kArray:
      return '*';
    case Reply::Type::kNullArray:
      return '0';
    case Reply::Type::kDouble:
      return ',';
    case Reply::Type::kBoolean:
      return '#';
    case Reply::Type::kBigNumber:
      return '(';
    case Reply::Type::kVerbatim:
      return '=';
    case Reply::Type::kMap:
      return '%';
    case Reply::Type::kSet:
      return '~';
    case Reply::Type::kPush:
      return '>';
    case Reply::Type::kAttribute:
      return '|';
  }
  return '?';
}

// The types of `r` and, to `depth` levels, of its elements; a run of elements with the same shape
// counts once (Tessera's help texts and flag lists are shorter than Redis's, not shaped otherwise).
std::string shape(const Reply& r, int depth) {
  std::string out(1, type_char(r));
  if (!r.is_aggregate() || depth == 0) return out;
  out += '[';
  std::string last;
  for (const Reply& e : r.elements) {
    std::string s = shape(e, depth - 1);
    if (s != last) out += s;
    last = std::move(s);
  }
  return out + ']';
}

const Reply* map_get(const Reply& map, std::string_view key) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].str == key) return &map.elements[i + 1];
  }
  return nullptr;
}

// Each argument doc: a map whose name/type are bulk strings and whose flags (when present) are a
// set, nested arguments an array of such maps; Redis's doc of the same command must agree.
void check_arg_docs(const Reply& ours, const Reply& redis) {
  REQUIRE(ours.type == Reply::Type::kArray);
  REQUIRE(redis.type == Reply::Type::kArray);
  for (const Reply& arg : ours.elements) {
    REQUIRE(arg.type == Reply::Type::kMap);
    const Reply* name = map_get(arg, "name");
    REQUIRE(name != nullptr);
    CHECK(name->type == Reply::Type::kBulk);
    if (const Reply* flags = map_get(arg, "flags")) CHECK(flags->type == Reply::Type::kSet);
    if (const Reply* nested = map_get(arg, "arguments")) {
      const Reply* theirs = nullptr;
      for (const Reply& r : redis.elements) {
        if (const Reply* n = map_get(r, "arguments")) theirs = n;
      }
      REQUIRE(theirs != nullptr);
      check_arg_docs(*nested, *theirs);
    }
  }
  for (const Reply& arg : redis.elements) {
    CHECK(arg.type == Reply::Type::kMap);
    if (const Reply* flags = map_get(arg, "flags")) CHECK(flags->type == Reply::Type::kSet);
  }
}

void check_docs(const Reply& ours, const Reply& redis) {
  REQUIRE(ours.type == Reply::Type::kMap);
  REQUIRE(redis.type == Reply::Type::kMap);
  REQUIRE(ours.elements.size() == 2);
  REQUIRE(redis.elements.size() == 2);
  CHECK(ours.elements[0] == redis.elements[0]);  // the command's name
  const Reply& doc = ours.elements[1];
  const Reply& theirs = redis.elements[1];
  REQUIRE(doc.type == Reply::Type::kMap);
  REQUIRE(theirs.type == Reply::Type::kMap);
  for (std::string_view key : {"summary", "since", "group", "arguments"}) {
    CAPTURE(key);
    const Reply* a = map_get(doc, key);
    const Reply* b = map_get(theirs, key);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a->type == b->type);
  }
  CHECK(*map_get(doc, "since") == *map_get(theirs, "since"));
  CHECK(*map_get(doc, "group") == *map_get(theirs, "group"));
  check_arg_docs(*map_get(doc, "arguments"), *map_get(theirs, "arguments"));
}

std::string without_id(std::string_view hello) {
  static const std::regex id("\\$2\r\nid\r\n:[0-9]+\r\n");
  return std::regex_replace(std::string(hello), id, "$$2\r\nid\r\n:ID\r\n");
}

}  // namespace

TEST_CASE("RESP3: every command's reply after HELLO 3 takes Redis 7.0.15's shape") {
  Env env(4);
  InProcessSession c(env.set, env.state);
  // As record.py did on Redis: a fresh keyspace, then HELLO 3 (its reply is a step of its own).
  REQUIRE(c.call({"FLUSHALL"}) == "+OK\r\n");
  REQUIRE(c.call({"HELLO", "3"}).starts_with("%7\r\n"));
  for (const RawStep& step : redis_steps()) {
    const std::string_view mode = step.mode;
    CAPTURE(mode);
    std::string command;
    for (const auto& arg : step.args) command += arg + " ";
    CAPTURE(command);
    const std::string ours = c.call(step.args);
    CAPTURE(ours);
    CAPTURE(step.redis);
    if (mode == "=") {
      CHECK(ours == step.redis);
    } else if (mode == "hello") {
      CHECK(without_id(ours) == without_id(step.redis));
    } else if (mode.starts_with("shape")) {
      const int depth = mode.back() - '0';
      CHECK(shape(parse_one(ours), depth) == shape(parse_one(step.redis), depth));
    } else if (mode == "docs") {
      check_docs(parse_one(ours), parse_one(step.redis));
    } else if (mode == "info") {
      const Reply r = parse_one(ours);
      CHECK(r.type == Reply::Type::kVerbatim);
      CHECK(r.format == "txt");
      constexpr std::string_view kHead = "# Server\r\nredis_version:7.0.15\r\n";
      CHECK(r.str.starts_with(kHead));
      CHECK(parse_one(step.redis).str.starts_with(kHead));
    } else {
      FAIL("unknown mode ", mode);
    }
  }
  CHECK(c.closed());  // the last step is QUIT
}

TEST_CASE("RESP3: a key operation on another shard replies in its connection's protocol") {
  Env env(4);
  InProcessSession resp3(env.set, env.state, 0);
  InProcessSession resp2(env.set, env.state, 0);
  REQUIRE(resp3.call({"HELLO", "3"}).starts_with("%7\r\n"));
  for (unsigned shard = 0; shard < 4; ++shard) {
    CAPTURE(shard);
    const std::string key = env.key_on(shard, "missing");
    CHECK(resp3.call({"GET", key}) == "_\r\n");
    CHECK(resp2.call({"GET", key}) == "$-1\r\n");
    CHECK(resp3.call({"GETDEL", key}) == "_\r\n");
    CHECK(resp3.call({"SET", key, "v", "XX", "GET"}) == "_\r\n");
    CHECK(resp2.call({"SET", key, "v", "XX", "GET"}) == "$-1\r\n");
  }
  // Several keys on several shards in one reply: every missing one is RESP3's null.
  std::vector<std::string> mget = {"MGET"};
  for (unsigned shard = 0; shard < 4; ++shard) mget.push_back(env.key_on(shard, "none"));
  CHECK(resp3.call(mget) == "*4\r\n_\r\n_\r\n_\r\n_\r\n");
  CHECK(resp2.call(mget) == "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
  // HELLO 2 switches back: the same operations reply in RESP2 again.
  REQUIRE(resp3.call({"HELLO", "2"}).starts_with("*14\r\n"));
  CHECK(resp3.call(mget) == "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
}

TEST_CASE("RESP3: a refused HELLO leaves the protocol as it was") {
  Config config;
  config.requirepass = "s3cret";
  Env env(2, config);
  InProcessSession c(env.set, env.state);
  // Redis checks the options and AUTH before it switches: a failed HELLO 3 keeps RESP2.
  CHECK(c.call({"HELLO", "3", "AUTH", "default", "wrong"}) ==
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  CHECK(c.call({"HELLO", "3", "BOGUS"}) == "-ERR Syntax error in HELLO option 'BOGUS'\r\n");
  CHECK(c.call({"AUTH", "s3cret"}) == "+OK\r\n");
  CHECK(c.call({"GET", "missing"}) == "$-1\r\n");
  CHECK(c.call({"HELLO", "3"}).starts_with("%7\r\n"));
  CHECK(c.call({"HELLO", "4"}) == "-NOPROTO unsupported protocol version\r\n");
  CHECK(c.call({"GET", "missing"}) == "_\r\n");  // still RESP3
}
