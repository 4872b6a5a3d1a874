// ReplyWriter and write_command: exact RESP2 and RESP3 bytes and Redis's exact command-error texts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/reply_writer.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
using tessera::protocol::ReplyWriter;

namespace {

// prefix followed by n copies of c (built with append: g++ 12's -Wrestrict misfires on the
// operator+ spelling of this).
std::string filled(std::string_view prefix, std::size_t n, char c) {
  std::string s(prefix);
  s.append(n, c);
  return s;
}

std::string unknown(std::string_view name, std::vector<std::string_view> args) {
  std::string out;
  ReplyWriter(out).unknown_command(name, args);
  return out;
}

}  // namespace

TEST_CASE("reply writer: every RESP2 type, exact bytes") {
  std::string out;
  ReplyWriter w(out);
  w.ok();
  w.simple("PONG");
  w.error("ERR a\r\nb");
  w.integer(-42);
  w.bulk(std::string_view("a\0\r\n", 4));
  w.null_bulk();
  w.array(2);
  w.null_array();
  w.bulk("");
  w.array(0);
  CHECK(
      out ==
      "+OK\r\n+PONG\r\n-ERR a  b\r\n:-42\r\n$4\r\na\0\r\n\r\n$-1\r\n*2\r\n*-1\r\n$0\r\n\r\n*0\r\n"sv);
  CHECK(&w.out() == &out);
}

TEST_CASE("reply writer: integers at the limits") {
  std::string out;
  ReplyWriter w(out);
  w.integer(0);
  w.integer(std::numeric_limits<std::int64_t>::max());
  w.integer(std::numeric_limits<std::int64_t>::min());
  CHECK(out == ":0\r\n:9223372036854775807\r\n:-9223372036854775808\r\n");
}

TEST_CASE("reply writer: CR and LF never break a line") {
  std::string out;
  ReplyWriter w(out);
  w.simple("a\rb\nc");
  w.error("ERR \r\n");
  CHECK(out == "+a b c\r\n-ERR   \r\n");
}

TEST_CASE("reply writer: command error texts") {
  std::string out;
  ReplyWriter w(out);
  w.wrong_arity("get");
  w.wrong_arity("client|setname");
  w.syntax_error();
  w.not_integer();
  w.unknown_subcommand("SETINFO", "CLIENT");
  w.unknown_subcommand("FOO", "config");
  w.out_of_range("DB index");
  CHECK(out ==
        "-ERR wrong number of arguments for 'get' command\r\n"
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
        "-ERR syntax error\r\n"
        "-ERR value is not an integer or out of range\r\n"
        "-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.\r\n"
        "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"
        "-ERR DB index is out of range\r\n");
}

TEST_CASE("reply writer: unknown command, as measured against Redis 7.0.15") {
  CHECK(unknown("FOO", {"bar", "baz"}) ==
        "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n");
  CHECK(unknown("foo", {}) == "-ERR unknown command 'foo', with args beginning with: \r\n");
  CHECK(unknown("", {}) == "-ERR unknown command '', with args beginning with: \r\n");
  CHECK(unknown("INCR", {"counter:__rand_int__"}) ==
        "-ERR unknown command 'INCR', with args beginning with: 'counter:__rand_int__' \r\n");
}

TEST_CASE("reply writer: unknown command truncates like Redis's %.128s and %.*s") {
  const std::string a200(200, 'a');
  const std::string n200(200, 'n');
  // The name is cut to 128 bytes.
  CHECK(unknown(n200, {}) ==
        filled("-ERR unknown command '", 128, 'n') + "', with args beginning with: \r\n");
  // One long argument: cut to 128, and nothing after it (the list is then 131 bytes).
  CHECK(unknown("X", {a200, "b"}) ==
        filled("-ERR unknown command 'X', with args beginning with: '", 128, 'a') + "' \r\n");
  // Two of 100: the second gets what is left of the 128 (128 - 103 = 25 bytes).
  const std::string h100(100, 'h');
  CHECK(unknown("X", {h100, h100, "c"}) == "-ERR unknown command 'X', with args beginning with: '" +
                                               h100 + filled("' '", 25, 'h') + "' \r\n");
  // Under 128 after an argument: the next one is still added.
  const std::string s127(120, 's');
  CHECK(unknown("X", {s127, "tail"}) ==
        "-ERR unknown command 'X', with args beginning with: '" + s127 + "' 'tail' \r\n");
}

TEST_CASE("reply writer: unknown command maps CR/LF to spaces and stops words at NUL") {
  const std::string magic = "I\xf3m\xd8\x03\x60\xee\xda\xf7\xb2\x1e\x92mIx\x19\xd5<\n\xb8";
  const std::string reply = unknown("ECH\rO", {magic, "a\0b"sv});
  CHECK(reply ==
        "-ERR unknown command 'ECH O', with args beginning with: 'I\xf3m\xd8\x03\x60\xee"
        "\xda\xf7\xb2\x1e\x92mIx\x19\xd5< \xb8' 'a' \r\n");
  CHECK(reply.find('\n') == reply.size() - 1);
}

TEST_CASE("write_command: a multibulk of bulk strings") {
  std::string out;
  tessera::protocol::write_command(out, {"SET", "k", "v\r\n"});
  std::vector<std::string_view> args = {"PING"};
  tessera::protocol::write_command(out, args);
  tessera::protocol::write_command(out, std::vector<std::string_view>{});
  CHECK(out == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n*1\r\n$4\r\nPING\r\n*0\r\n");
}

// RESP3 and the RESP2 fallbacks. Every expected byte string below was captured from Debian's
// redis-server 7.0.15 over a raw socket, before and after HELLO 3:
//   GET missing, SET k v GET on a new key          $-1 / _
//   CONFIG GET maxmemory (one pair)                *2 / %1
//   SMEMBERS of {a}                                *1 / ~1
//   ZSCORE of 0.1, inf, -inf                       $19 0.10000000000000001 / ,0.1..., ,inf, ,-inf
//   EVAL "redis.setresp(3); return true|false" 0   :1 :0 / #t #f
//   EVAL "return {double=0/0}" 0                   $4 -nan / ,-nan
//   EVAL "return {verbatim_string=...}" 0, INFO    $8 hi there / =12 txt:hi there
//   EVAL "return {big_number='-1234...'}" 0        $31 -1234... / (-1234...
namespace {

std::string written(tessera::protocol::RespVersion version, void (*write)(ReplyWriter&)) {
  std::string out;
  ReplyWriter w(out, version);
  write(w);
  return out;
}

}  // namespace

TEST_CASE("reply writer: RESP3 types and Redis 7.0's RESP2 fallbacks, exact bytes") {
  using tessera::protocol::RespVersion;
  struct Case {
    const char* what;
    void (*write)(ReplyWriter&);
    std::string_view resp2, resp3;
  };
  const Case cases[] = {
      {"null", [](ReplyWriter& w) { w.null(); }, "$-1\r\n", "_\r\n"},
      {"null_bulk", [](ReplyWriter& w) { w.null_bulk(); }, "$-1\r\n", "_\r\n"},
      {"null_array", [](ReplyWriter& w) { w.null_array(); }, "*-1\r\n", "_\r\n"},
      {"map (CONFIG GET maxmemory)",
       [](ReplyWriter& w) {
         w.map(1);
         w.bulk("maxmemory");
         w.bulk("0");
       },
       "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"},
      {"empty map", [](ReplyWriter& w) { w.map(0); }, "*0\r\n", "%0\r\n"},
      {"set (SMEMBERS)",
       [](ReplyWriter& w) {
         w.set(1);
         w.bulk("a");
       },
       "*1\r\n$1\r\na\r\n", "~1\r\n$1\r\na\r\n"},
      {"push",
       [](ReplyWriter& w) {
         w.push(2);
         w.bulk("message");
         w.integer(1);
       },
       "*2\r\n$7\r\nmessage\r\n:1\r\n", ">2\r\n$7\r\nmessage\r\n:1\r\n"},
      {"double 0.1", [](ReplyWriter& w) { w.double_value(0.1); }, "$19\r\n0.10000000000000001\r\n",
       ",0.10000000000000001\r\n"},
      {"double 1.5", [](ReplyWriter& w) { w.double_value(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n"},
      {"double inf",
       [](ReplyWriter& w) { w.double_value(std::numeric_limits<double>::infinity()); },
       "$3\r\ninf\r\n", ",inf\r\n"},
      {"double -inf",
       [](ReplyWriter& w) { w.double_value(-std::numeric_limits<double>::infinity()); },
       "$4\r\n-inf\r\n", ",-inf\r\n"},
      {"double 0/0 (-nan)",
       [](ReplyWriter& w) {
         w.double_value(std::copysign(std::numeric_limits<double>::quiet_NaN(), -1.0));
       },
       "$4\r\n-nan\r\n", ",-nan\r\n"},
      {"boolean true", [](ReplyWriter& w) { w.boolean(true); }, ":1\r\n", "#t\r\n"},
      {"boolean false", [](ReplyWriter& w) { w.boolean(false); }, ":0\r\n", "#f\r\n"},
      {"verbatim", [](ReplyWriter& w) { w.verbatim("hi there"); }, "$8\r\nhi there\r\n",
       "=12\r\ntxt:hi there\r\n"},
      {"verbatim INFO keyspace",
       [](ReplyWriter& w) { w.verbatim("# Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\n"); },
       "$44\r\n# Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\n\r\n",
       "=48\r\ntxt:# Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\n\r\n"},
      {"verbatim markdown", [](ReplyWriter& w) { w.verbatim("", "mkd"); }, "$0\r\n\r\n",
       "=4\r\nmkd:\r\n"},
      {"big number", [](ReplyWriter& w) { w.big_number("-123456789012345678901234567890"); },
       "$31\r\n-123456789012345678901234567890\r\n", "(-123456789012345678901234567890\r\n"},
      // Unchanged by the version.
      {"the RESP2 types",
       [](ReplyWriter& w) {
         w.ok();
         w.error("ERR x");
         w.integer(7);
         w.bulk("v");
         w.array(0);
       },
       "+OK\r\n-ERR x\r\n:7\r\n$1\r\nv\r\n*0\r\n", "+OK\r\n-ERR x\r\n:7\r\n$1\r\nv\r\n*0\r\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    CHECK(written(RespVersion::kResp2, c.write) == c.resp2);
    CHECK(written(RespVersion::kResp3, c.write) == c.resp3);
  }
}

TEST_CASE("reply writer: the version is per writer and can change between replies") {
  using tessera::protocol::RespVersion;
  std::string out;
  ReplyWriter w(out);
  CHECK(w.version() == RespVersion::kResp2);
  CHECK_FALSE(w.resp3());
  w.null();
  w.set_version(RespVersion::kResp3);  // HELLO 3
  CHECK(w.resp3());
  w.null();
  w.set_version(RespVersion::kResp2);  // HELLO 2
  w.null();
  CHECK(out == "$-1\r\n_\r\n$-1\r\n");
  CHECK_THROWS_AS(w.verbatim("x", "text"), std::invalid_argument);
  CHECK_THROWS_AS(w.verbatim("x", ""), std::invalid_argument);
  CHECK(out == "$-1\r\n_\r\n$-1\r\n");  // nothing written by a refused call
}
