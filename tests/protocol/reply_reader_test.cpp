// ReplyReader: every RESP2 and RESP3 reply type, nested aggregates, attributes, streamed types,
// limits and malformed streams, each at every fragmentation (whole, and pieces of 100, 10, 5, 2, 1
// bytes).
#include <doctest/doctest.h>

#include <cmath>
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

Reply make(Reply::Type type, std::string str = {}, std::int64_t integer = 0) {
  Reply r;
  r.type = type;
  r.str = std::move(str);
  r.integer = integer;
  return r;
}
Reply simple(std::string s) { return make(Reply::Type::kSimple, std::move(s)); }
Reply err(std::string s) { return make(Reply::Type::kError, std::move(s)); }
Reply integer(std::int64_t v) { return make(Reply::Type::kInteger, {}, v); }
Reply bulk(std::string s) { return make(Reply::Type::kBulk, std::move(s)); }
Reply null() { return make(Reply::Type::kNull); }
Reply null_array() { return make(Reply::Type::kNullArray); }
Reply aggregate(Reply::Type type, std::vector<Reply> e) {
  Reply r = make(type);
  r.elements = std::move(e);
  return r;
}
Reply array(std::vector<Reply> e) { return aggregate(Reply::Type::kArray, std::move(e)); }
Reply map(std::vector<Reply> e) { return aggregate(Reply::Type::kMap, std::move(e)); }
Reply set(std::vector<Reply> e) { return aggregate(Reply::Type::kSet, std::move(e)); }
Reply push(std::vector<Reply> e) { return aggregate(Reply::Type::kPush, std::move(e)); }
Reply boolean(bool v) { return make(Reply::Type::kBoolean, {}, v ? 1 : 0); }
Reply dbl(std::string text, double v) {
  Reply r = make(Reply::Type::kDouble, std::move(text));
  r.number = v;
  return r;
}
Reply big(std::string digits) { return make(Reply::Type::kBigNumber, std::move(digits)); }
Reply verbatim(std::string format, std::string text) {
  Reply r = make(Reply::Type::kVerbatim, std::move(text));
  r.format = std::move(format);
  return r;
}
Reply with_attributes(Reply r, std::vector<Reply> attributes) {
  r.attributes = std::move(attributes);
  return r;
}

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
  check_all("*1\r\n*1\r\n*1\r\n", {}, "Protocol error: aggregates nested too deep", limits);
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

// The bytes below are what Debian's redis-server 7.0.15 sent after HELLO 3 (raw socket capture).
TEST_CASE("reply reader: RESP3 replies of Redis 7.0.15") {
  check_all(
      "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n"
      "$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
      "$7\r\nmodules\r\n*0\r\n",
      {map({bulk("server"), bulk("redis"), bulk("version"), bulk("7.0.15"), bulk("proto"),
            integer(3), bulk("id"), integer(5), bulk("mode"), bulk("standalone"), bulk("role"),
            bulk("master"), bulk("modules"), array({})})});
  check_all("=48\r\ntxt:# Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\n\r\n",
            {verbatim("txt", "# Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\n")});
  check_all("*2\r\n$1\r\nv\r\n_\r\n_\r\n", {array({bulk("v"), null()}), null()});
  check_all("%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", {map({bulk("maxmemory"), bulk("0")})});
  check_all("~2\r\n$1\r\nb\r\n$1\r\na\r\n", {set({bulk("b"), bulk("a")})});
  check_all(",1.5\r\n,0.10000000000000001\r\n,1.2345678901234568e+17\r\n",
            {dbl("1.5", 1.5), dbl("0.10000000000000001", 0.1),
             dbl("1.2345678901234568e+17", 1.2345678901234568e+17)});
  check_all("#t\r\n#f\r\n(-123456789012345678901234567890\r\n",
            {boolean(true), boolean(false), big("-123456789012345678901234567890")});
}

TEST_CASE("reply reader: RESP3 doubles inf, -inf and nan keep their text") {
  for (const std::string_view text : {"inf", "-inf", "nan", "-nan"}) {
    CAPTURE(text);
    ReplyReader r;
    r.feed("," + std::string(text) + "\r\n");
    Reply out;
    REQUIRE(r.next(out) == ReplyReader::Status::kReply);
    CHECK(out.type == Reply::Type::kDouble);
    CHECK(out.str == text);
    if (text.find("inf") != std::string_view::npos) {
      CHECK(std::isinf(out.number));
      CHECK((out.number < 0) == (text[0] == '-'));
    } else {
      CHECK(std::isnan(out.number));
    }
  }
}

TEST_CASE("reply reader: RESP3 blob errors, pushes and nesting") {
  check_all("!22\r\nSYNTAX invalid\r\nsyntax\r\n", {err("SYNTAX invalid\r\nsyntax")});
  check_all(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n+OK\r\n",
            {push({bulk("message"), bulk("ch"), bulk("x")}), simple("OK")});
  check_all("%2\r\n~1\r\n:1\r\n%0\r\n*1\r\n,2\r\n_\r\n",
            {map({set({integer(1)}), map({}), array({dbl("2", 2)}), null()})});
  check_all("=4\r\nmkd:\r\n", {verbatim("mkd", "")});
}

TEST_CASE("reply reader: RESP3 attributes go with the value that follows them") {
  // At the top: the attribute, then the reply it describes.
  check_all("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n",
            {with_attributes(array({integer(2039123), integer(9543892)}),
                             {simple("key-popularity"), map({bulk("a"), dbl("0.1923", 0.1923)})})});
  // Inside an aggregate: not counted as an element.
  check_all("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n+after\r\n",
            {array({integer(1), with_attributes(integer(2), {simple("ttl"), integer(3600)})}),
             simple("after")});
  // An empty attribute still attaches (as an empty list) and counts for nothing.
  check_all("|0\r\n+OK\r\n", {simple("OK")});
}

TEST_CASE("reply reader: RESP3 streamed strings and aggregates") {
  check_all("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;2\r\nld\r\n;0\r\n+next\r\n",
            {bulk("Hello world"), simple("next")});
  check_all("$?\r\n;0\r\n", {bulk("")});
  check_all("*?\r\n:1\r\n$?\r\n;1\r\na\r\n;0\r\n*?\r\n.\r\n.\r\n",
            {array({integer(1), bulk("a"), array({})})});
  check_all("%?\r\n+a\r\n:1\r\n+b\r\n:2\r\n.\r\n",
            {map({simple("a"), integer(1), simple("b"), integer(2)})});
  check_all("~?\r\n+a\r\n.\r\n>?\r\n.\r\n", {set({simple("a")}), push({})});
  check_all("*?\r\n|1\r\n+k\r\n+v\r\n:1\r\n.\r\n",
            {array({with_attributes(integer(1), {simple("k"), simple("v")})})});
}

TEST_CASE("reply reader: malformed RESP3") {
  check_all("_x\r\n", {}, "Protocol error: invalid null");
  check_all("#x\r\n", {}, "Protocol error: invalid boolean");
  check_all("#tt\r\n", {}, "Protocol error: invalid boolean");
  check_all(",\r\n", {}, "Protocol error: invalid double");
  check_all(",1.5x\r\n", {}, "Protocol error: invalid double");
  check_all(",+1\r\n", {}, "Protocol error: invalid double");
  check_all("(\r\n", {}, "Protocol error: invalid big number");
  check_all("(12a\r\n", {}, "Protocol error: invalid big number");
  check_all("!-1\r\n", {}, "Protocol error: invalid blob length");
  check_all("=3\r\ntxt\r\n", {}, "Protocol error: verbatim string without a format");
  check_all("=5\r\ntxt!x\r\n", {}, "Protocol error: verbatim string without a format");
  check_all("%-1\r\n", {}, "Protocol error: invalid aggregate length");
  check_all("~x\r\n", {}, "Protocol error: invalid aggregate length");
  check_all(".\r\n", {}, "Protocol error: unexpected '.'");
  check_all("*1\r\n.\r\n", {}, "Protocol error: unexpected '.'");
  check_all("%?\r\n+a\r\n.\r\n", {}, "Protocol error: a map with a key and no value");
  check_all("*?\r\n|1\r\n+k\r\n+v\r\n.\r\n", {}, "Protocol error: an attribute without a value");
  check_all("$?\r\n+x\r\n", {}, "Protocol error: expected a ';' chunk in a streamed string");
  check_all("$?\r\n;x\r\n", {}, "Protocol error: invalid chunk length");
  check_all("$?\r\n;-1\r\n", {}, "Protocol error: invalid chunk length");
  check_all("$?\r\n;2\r\nabXY", {}, "Protocol error: bulk string not terminated by CRLF");
}

TEST_CASE("reply reader: RESP3 limits") {
  ReaderLimits limits;
  limits.max_elements = 4;
  check_all("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n",
            {map({integer(1), integer(2), integer(3), integer(4)})}, {}, limits);
  check_all("%3\r\n", {}, "Protocol error: invalid aggregate length", limits);
  check_all("*?\r\n:1\r\n:2\r\n:3\r\n:4\r\n.\r\n",
            {array({integer(1), integer(2), integer(3), integer(4)})}, {}, limits);
  check_all("*?\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n", {},
            "Protocol error: too many elements in a streamed aggregate", limits);
  limits = {};
  limits.max_bulk_len = 4;
  check_all("$?\r\n;2\r\nab\r\n;2\r\ncd\r\n;0\r\n", {bulk("abcd")}, {}, limits);
  check_all("$?\r\n;2\r\nab\r\n;3\r\n", {}, "Protocol error: invalid chunk length", limits);
  check_all("=5\r\n", {}, "Protocol error: invalid blob length", limits);
  limits = {};
  limits.max_depth = 1;
  check_all("~1\r\n:1\r\n", {set({integer(1)})}, {}, limits);
  check_all("~1\r\n%?\r\n", {}, "Protocol error: aggregates nested too deep", limits);
  check_all("|1\r\n|1\r\n", {}, "Protocol error: aggregates nested too deep", limits);
}

TEST_CASE("reply reader: ReplyWriter's RESP3 output round-trips") {
  std::string input;
  ReplyWriter w(input, tessera::protocol::RespVersion::kResp3);
  w.map(2);
  w.bulk("k");
  w.set(2);
  w.boolean(true);
  w.boolean(false);
  w.verbatim("text\r\n");
  w.double_value(-2.5);
  w.push(1);
  w.big_number("12345678901234567890");
  w.null();
  w.null_array();
  check_all(input, {map({bulk("k"), set({boolean(true), boolean(false)}),
                         verbatim("txt", "text\r\n"), dbl("-2.5", -2.5)}),
                    push({big("12345678901234567890")}), null(), null()});
}
