// Comparing a RESP3 reply with Redis 7.0.15's for the same step of steps.txt, by mode: the
// replies' shapes (RESP3 types to a depth), COMMAND DOCS' structure, HELLO without the connection
// id. Used by resp3_test.cpp (recorded bytes) and tests/e2e/resp3_live_test.cpp (live servers).
#pragma once

#include <doctest/doctest.h>

#include <tessera/protocol/reply_reader.hpp>

#include <regex>
#include <string>
#include <string_view>

namespace tessera::test::resp3 {

using protocol::Reply;

inline char type_char(const Reply& r) {
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
inline std::string shape(const Reply& r, int depth) {
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

inline const Reply* map_get(const Reply& map, std::string_view key) {
  for (std::size_t i = 0; i + 1 < map.elements.size(); i += 2) {
    if (map.elements[i].str == key) return &map.elements[i + 1];
  }
  return nullptr;
}

// Each argument doc: a map whose name/type are bulk strings and whose flags (when present) are a
// set, nested arguments an array of such maps; Redis's doc of the same command must agree.
inline void check_arg_docs(const Reply& ours, const Reply& redis) {
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

inline void check_docs(const Reply& ours, const Reply& redis) {
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

inline std::string without_id(std::string_view hello) {
  static const std::regex id("\\$2\r\nid\r\n:[0-9]+\r\n");
  return std::regex_replace(std::string(hello), id, "$$2\r\nid\r\n:ID\r\n");
}

// One complete reply from `raw` (exactly one, nothing left over).
inline Reply parse_one(std::string_view raw) {
  protocol::ReplyReader reader;
  reader.feed(raw);
  Reply r;
  REQUIRE(reader.next(r) == protocol::ReplyReader::Status::kReply);
  REQUIRE(reader.buffered() == 0);
  return r;
}

// Checks Tessera's reply `ours` against Redis's `redis` for a step of the given mode (steps.txt).
inline void check_step(std::string_view mode, std::string_view ours, std::string_view redis) {
  if (mode == "=") {
    CHECK(ours == redis);
  } else if (mode == "hello") {
    CHECK(without_id(ours) == without_id(redis));
  } else if (mode.starts_with("shape")) {
    const int depth = mode.back() - '0';
    CHECK(shape(parse_one(ours), depth) == shape(parse_one(redis), depth));
  } else if (mode == "docs") {
    check_docs(parse_one(ours), parse_one(redis));
  } else if (mode == "info") {
    const Reply r = parse_one(ours);
    CHECK(r.type == Reply::Type::kVerbatim);
    CHECK(r.format == "txt");
    constexpr std::string_view kHead = "# Server\r\nredis_version:7.0.15\r\n";
    CHECK(r.str.starts_with(kHead));
    CHECK(parse_one(redis).str.starts_with(kHead));
  } else {
    FAIL("unknown mode ", mode);
  }
}

}  // namespace tessera::test::resp3
