// ReplyReader: every RESP2 reply type, nested arrays, limits and malformed streams, each at every
// fragmentation (whole, and pieces of 100, 10, 5, 2, 1 bytes).
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "fragments.hpp"
#include "tessera/protocol/reply_reader.hpp"
#include "tessera/protocol/reply_writer.hpp"

using namespace std::string_literals;
using tessera::protocol::ReaderLimits;
using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;
using tessera::protocol::ReplyWriter;
using tessera::protocol::test::kFragmentSizes;
using tessera::protocol::test::read_in_pieces;
using tessera::protocol::test::ReadOutcome;

namespace doctest {
template <>
struct StringMaker<ReadOutcome> {
  static String convert(const ReadOutcome& o) {
    std::string s = "{";
    s.append(std::to_string(o.replies.size()));
    s.append(" replies");
    if (o.error) s.append(", error: ").append(o.error_text);
    s.push_back('}');
    return String(s.c_str());
  }
};
}  // namespace doctest

namespace {

Reply simple(std::string s) { return {Reply::Type::kSimple, std::move(s), 0, {}}; }
Reply err(std::string s) { return {Reply::Type::kError, std::move(s), 0, {}}; }
Reply integer(std::int64_t v) { return {Reply::Type::kInteger, {}, v, {}}; }
Reply bulk(std::string s) { return {Reply::Type::kBulk, std::move(s), 0, {}}; }
Reply null() { return {Reply::Type::kNull, {}, 0, {}}; }
Reply null_array() { return {Reply::Type::kNullArray, {}, 0, {}}; }
Reply array(std::vector<Reply> e) { return {Reply::Type::kArray, {}, 0, std::move(e)}; }

void check_all(std::string_view input, const std::vector<Reply>& replies,
               std::string_view error = {}, ReaderLimits limits = {}) {
  const ReadOutcome expected{replies, !error.empty(), std::string(error)};
  for (const std::size_t piece : kFragmentSizes) {
    CAPTURE(piece);
    CHECK(read_in_pieces(input, piece, limits) == expected);
  }
}

}  // namespace

TEST_CASE("reply reader: every RESP2 type") {
  check_all(
      "+OK\r\n-ERR unknown command 'x'\r\n:0\r\n:-9223372036854775808\r\n$5\r\nhello\r\n"
      "$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n+\r\n",
      {simple("OK"), err("ERR unknown command 'x'"), integer(0), integer(INT64_MIN), bulk("hello"),
       bulk(""), null(), null_array(), array({}), simple("")});
}

TEST_CASE("reply reader: nested arrays") {
  check_all(
      "*3\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n*0\r\n*-1\r\n+after\r\n",
      {array({array({bulk("a"), array({integer(1)})}), array({}), null_array()}), simple("after")});
  // What Redis answers to HELLO 2 and to redis-benchmark's CONFIG GET.
  check_all("*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
            {array({bulk("save"), bulk("")}), array({bulk("appendonly"), bulk("no")})});
  // A SCAN reply: cursor bulk, then an array of keys.
  check_all("*2\r\n$2\r\n17\r\n*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n",
            {array({bulk("17"), array({bulk("a"), null(), bulk("c")})})});
}

TEST_CASE("reply reader: binary bulks with CR, LF and NUL") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string input;
  ReplyWriter w(input);
  w.array(3);
  w.bulk(all);
  w.bulk("\r\n");
  w.bulk("\0"s);
  check_all(input, {array({bulk(all), bulk("\r\n"), bulk("\0"s)})});
}

TEST_CASE("reply reader: ReplyWriter output round-trips") {
  std::string input;
  ReplyWriter w(input);
  w.ok();
  w.error("ERR wrong\r\nline");
  w.integer(42);
  w.null_bulk();
  w.array(2);
  w.array(1);
  w.bulk("deep");
  w.null_array();
  w.unknown_command("FOO", std::vector<std::string_view>{"a\r\nb"});
  check_all(input, {simple("OK"), err("ERR wrong  line"), integer(42), null(),
                    array({array({bulk("deep")}), null_array()}),
                    err("ERR unknown command 'FOO', with args beginning with: 'a  b' ")});
}

TEST_CASE("reply reader: incomplete input yields nothing yet") {
  for (const std::string_view input : {"+OK", "+OK\r", "$5\r\nhel", "$5\r\nhello", "$5\r\nhello\r",
                                       "*2\r\n:1\r\n", "*1\r\n*1\r\n", ":12"}) {
    CAPTURE(input);
    check_all(input, {});
  }
}

TEST_CASE("reply reader: malformed streams") {
  check_all("?x\r\n", {}, "Protocol error: unexpected reply type byte '?'");
  check_all("\x01\r\n", {}, "Protocol error: unexpected reply type byte '\\x01'");
  check_all("+OK\r\n\r\n", {simple("OK")}, "Protocol error: unexpected reply type byte '\\x0d'");
  check_all(":abc\r\n", {}, "Protocol error: invalid integer");
  check_all(":\r\n", {}, "Protocol error: invalid integer");
  check_all(":01\r\n", {}, "Protocol error: invalid integer");
  check_all("$-2\r\n", {}, "Protocol error: invalid bulk length");
  check_all("$x\r\n", {}, "Protocol error: invalid bulk length");
  check_all("$536870913\r\n", {}, "Protocol error: invalid bulk length");
  check_all("*-2\r\n", {}, "Protocol error: invalid multibulk length");
  check_all("*1x\r\n", {}, "Protocol error: invalid multibulk length");
  check_all("$3\r\nabcXY", {}, "Protocol error: bulk string not terminated by CRLF");
  check_all("+OK\rX", {}, "Protocol error: line not terminated by CRLF");
  // The error is sticky.
  ReplyReader r;
  r.feed("?\r\n");
  Reply out;
  CHECK(r.next(out) == ReplyReader::Status::kError);
  r.feed("+OK\r\n");
  CHECK(r.next(out) == ReplyReader::Status::kError);
}

TEST_CASE("reply reader: limits") {
  ReaderLimits limits;
  limits.max_line = 8;
  // The type byte counts: 8 bytes before the CRLF.
  check_all("+1234567\r\n", {simple("1234567")}, {}, limits);
  check_all("+12345678\r\n", {}, "Protocol error: line too long", limits);
  check_all("+12345678", {}, "Protocol error: line too long", limits);

  limits = {};
  limits.max_bulk_len = 4;
  check_all("$4\r\nabcd\r\n", {bulk("abcd")}, {}, limits);
  check_all("$5\r\n", {}, "Protocol error: invalid bulk length", limits);

  limits = {};
  limits.max_elements = 2;
  check_all("*2\r\n:1\r\n:2\r\n", {array({integer(1), integer(2)})}, {}, limits);
  check_all("*3\r\n", {}, "Protocol error: invalid multibulk length", limits);

  limits = {};
  limits.max_depth = 2;
  check_all("*1\r\n*1\r\n:1\r\n", {array({array({integer(1)})})}, {}, limits);
  check_all("*1\r\n*1\r\n*0\r\n", {array({array({array({})})})}, {}, limits);
  check_all("*1\r\n*1\r\n*1\r\n", {}, "Protocol error: arrays nested too deep", limits);
}

TEST_CASE("reply reader: a hostile header allocates nothing up front") {
  ReplyReader r;
  r.feed("*67108864\r\n$536870912\r\n");
  Reply out;
  CHECK(r.next(out) == ReplyReader::Status::kNeedMore);
  CHECK(r.capacity() <= 64 * 1024);
  r.feed(std::string(100000, 'x'));
  CHECK(r.next(out) == ReplyReader::Status::kNeedMore);
  CHECK(r.buffered() == 0);  // bulk bytes move into the reply as they arrive
}

TEST_CASE("reply reader: a 20 MB bulk streams through a small buffer") {
  const std::string big(20 * 1024 * 1024, '\n');
  std::string input;
  ReplyWriter w(input);
  w.bulk(big);
  w.ok();
  ReplyReader r;
  std::vector<Reply> got;
  Reply out;
  std::size_t peak = 0;
  for (std::size_t at = 0; at < input.size(); at += 16384) {
    const std::string_view piece = std::string_view(input).substr(at, 16384);
    const auto span = r.prepare();
    std::memcpy(span.data(), piece.data(), piece.size());
    r.commit(piece.size());
    peak = std::max(peak, r.capacity());
    while (r.next(out) == ReplyReader::Status::kReply) got.push_back(std::move(out));
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0] == bulk(big));
  CHECK(got[1] == simple("OK"));
  CHECK(peak <= 64 * 1024);
}

TEST_CASE("reply reader: many pipelined replies") {
  std::string input;
  ReplyWriter w(input);
  std::vector<Reply> expected;
  for (int i = 0; i < 20000; ++i) {
    switch (i % 4) {
      case 0:
        w.ok();
        expected.push_back(simple("OK"));
        break;
      case 1:
        w.bulk("value" + std::to_string(i));
        expected.push_back(bulk("value" + std::to_string(i)));
        break;
      case 2:
        w.null_bulk();
        expected.push_back(null());
        break;
      default:
        w.integer(i);
        expected.push_back(integer(i));
        break;
    }
  }
  check_all(input, expected);
}

TEST_CASE("reply reader: a reader moved mid-reply carries on") {
  ReplyReader a;
  a.feed("*2\r\n$5\r\nhel");
  Reply out;
  CHECK(a.next(out) == ReplyReader::Status::kNeedMore);
  ReplyReader b(std::move(a));
  b.feed("lo\r\n*1\r\n:7");
  CHECK(b.next(out) == ReplyReader::Status::kNeedMore);
  ReplyReader c;
  c = std::move(b);
  c.feed("\r\n");
  REQUIRE(c.next(out) == ReplyReader::Status::kReply);
  CHECK(out == array({bulk("hello"), array({integer(7)})}));
  // A bulk at the root, moved while pending.
  ReplyReader d;
  d.feed("$3\r\nab");
  CHECK(d.next(out) == ReplyReader::Status::kNeedMore);
  ReplyReader e(std::move(d));
  e.feed("c\r\n");
  REQUIRE(e.next(out) == ReplyReader::Status::kReply);
  CHECK(out == bulk("abc"));
  // The moved-from readers are empty and usable.
  a.feed("+OK\r\n");  // NOLINT(bugprone-use-after-move)
  REQUIRE(a.next(out) == ReplyReader::Status::kReply);
  CHECK(out == simple("OK"));
}
