// RequestParser: Redis 7.0's request grammar, limits and exact error texts. Every input is parsed
// at every fragmentation (whole, and pieces of 100, 10, 5, 2, 1 bytes) and must give the same
// commands and the same error.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fragments.hpp"
#include "tessera/protocol/reply_writer.hpp"
#include "tessera/protocol/request_parser.hpp"

using namespace std::string_literals;
using tessera::protocol::ParserLimits;
using tessera::protocol::RequestParser;
using tessera::protocol::test::commands;
using tessera::protocol::test::commands_then_error;
using tessera::protocol::test::kFragmentSizes;
using tessera::protocol::test::parse_in_pieces;
using tessera::protocol::test::ParseOutcome;
namespace errors = tessera::protocol::errors;

namespace {

// prefix followed by n copies of c (built with append: g++ 12's -Wrestrict misfires on the
// operator+ spelling of this).
std::string filled(std::string_view prefix, std::size_t n, char c) {
  std::string s(prefix);
  s.append(n, c);
  return s;
}

void check_all_fragmentations(std::string_view input, const ParseOutcome& expected,
                              ParserLimits limits = {}) {
  for (const std::size_t piece : kFragmentSizes) {
    CAPTURE(piece);
    CHECK(parse_in_pieces(input, piece, limits) == expected);
  }
  // Once more, whole and byte by byte, with prepare() (which may move the buffer) between commands.
  for (const std::size_t piece : {std::size_t{0}, std::size_t{1}}) {
    CAPTURE(piece);
    CHECK(parse_in_pieces(input, piece, limits, true) == expected);
  }
}

std::string multibulk(const std::vector<std::string>& args) {
  std::string out;
  std::vector<std::string_view> views(args.begin(), args.end());
  tessera::protocol::write_command(out, views);
  return out;
}

std::string expected_dollar(char got) {
  return std::string(errors::kExpectedDollarPrefix) + got + "'";
}

}  // namespace

// ---- the basics --------------------------------------------------------------------------------

TEST_CASE("request parser: multibulk commands") {
  check_all_fragmentations("*1\r\n$4\r\nPING\r\n", commands({{"PING"}}));
  check_all_fragmentations("*3\r\n$3\r\nset\r\n$3\r\nfoo\r\n$3\r\nbar\r\n",
                           commands({{"set", "foo", "bar"}}));
  check_all_fragmentations("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", commands({{"GET", ""}}));
}

TEST_CASE("request parser: pipelined multibulk and inline, as measured against Redis") {
  check_all_fragmentations("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n",
                           commands({{"PING"}, {"ECHO", "hi"}, {"PING"}}));
}

TEST_CASE("request parser: mixed inline and multibulk in one buffer") {
  const std::string input =
      "SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nGET a\n*1\r\n$4\r\nPING\r\n  PING  \r\n"
      "*3\r\n$3\r\nSET\r\n$5\r\nx y z\r\n$2\r\n\"'\r\nECHO \"x y\"\r\n";
  check_all_fragmentations(input, commands({{"SET", "a", "1"},
                                            {"GET", "a"},
                                            {"GET", "a"},
                                            {"PING"},
                                            {"PING"},
                                            {"SET", "x y z", "\"'"},
                                            {"ECHO", "x y"}}));
}

TEST_CASE("request parser: what redis-benchmark and redis-cli --pipe send") {
  check_all_fragmentations("PING\r\n", commands({{"PING"}}));
  check_all_fragmentations("*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n$3\r\nVXK\r\n",
                           commands({{"SET", "key:__rand_int__", "VXK"}}));
  // --pipe: text commands, an empty line, then ECHO of 20 random bytes that may hold CR and LF.
  const std::string magic = "I\xf3m\xd8\x03\x60\xee\xda\xf7\xb2\x1e\x92mIx\x19\xd5<\n\xb8";
  REQUIRE(magic.size() == 20);
  check_all_fragmentations(
      "SET a 1\r\nSET b 2\r\nGET a\r\n\r\n*2\r\n$4\r\nECHO\r\n$20\r\n" + magic + "\r\n",
      commands({{"SET", "a", "1"}, {"SET", "b", "2"}, {"GET", "a"}, {"ECHO", magic}}));
}

TEST_CASE("request parser: incomplete input yields nothing yet") {
  for (const std::string_view input :
       {"*", "*1", "*1\r", "*1\r\n", "*1\r\n$", "*1\r\n$4\r\n", "*1\r\n$4\r\nPING",
        "*1\r\n$4\r\nPING\r", "PING", "PING\r", "\"unclosed", "*2\r\n$1\r\na\r\n"}) {
    CAPTURE(input);
    check_all_fragmentations(input, commands({}));
  }
}

// ---- things that produce nothing
// -----------------------------------------------------------------

TEST_CASE("request parser: empty lines, *0 and *-1 produce no command") {
  check_all_fragmentations("\r\n\n\r\nPING\r\n", commands({{"PING"}}));
  check_all_fragmentations("   \r\n\t\n \v\f \r\nPING\r\n", commands({{"PING"}}));
  check_all_fragmentations("*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n*0\r\n", commands({{"PING"}}));
  check_all_fragmentations("\r\n", commands({}));
  check_all_fragmentations("*0\r\n", commands({}));
  check_all_fragmentations("*-1\r\n", commands({}));
}

// ---- protocol errors, byte for byte
// ----------------------------------------------------------------

TEST_CASE("request parser: error texts are Redis's, byte for byte") {
  CHECK(errors::kInvalidMultibulkLength == "ERR Protocol error: invalid multibulk length");
  CHECK(errors::kInvalidBulkLength == "ERR Protocol error: invalid bulk length");
  CHECK(errors::kUnbalancedQuotes == "ERR Protocol error: unbalanced quotes in request");
  CHECK(errors::kTooBigInline == "ERR Protocol error: too big inline request");
  CHECK(errors::kTooBigMbulkCount == "ERR Protocol error: too big mbulk count string");
  CHECK(errors::kTooBigBulkCount == "ERR Protocol error: too big bulk count string");
  CHECK(expected_dollar('f') == "ERR Protocol error: expected '$', got 'f'");
}

TEST_CASE("request parser: invalid multibulk length") {
  for (const std::string_view input :
       {"*abc\r\n", "*\r\n", "*01\r\n", "*+1\r\n", "* 1\r\n", "*1 \r\n", "*-0\r\n", "*--1\r\n",
        "*2147483648\r\n", "*99999999999999999999\r\n", "*1\n$4\r\nPING\r\n"}) {
    CAPTURE(input);
    check_all_fragmentations(input, commands_then_error({}, errors::kInvalidMultibulkLength));
  }
}

TEST_CASE("request parser: expected '$'") {
  check_all_fragmentations("*1\r\nfoo\r\n", commands_then_error({}, expected_dollar('f')));
  check_all_fragmentations("*2\r\n$3\r\nGET\r\n:1\r\n",
                           commands_then_error({}, expected_dollar(':')));
  // Redis maps CR and LF in an error to spaces.
  check_all_fragmentations("*1\r\n\r\n\r\n", commands_then_error({}, expected_dollar(' ')));
  check_all_fragmentations("*1\r\n\n\r\n", commands_then_error({}, expected_dollar(' ')));
}

TEST_CASE("request parser: invalid bulk length") {
  for (const std::string_view input :
       {"*1\r\n$abc\r\n", "*1\r\n$-1\r\n", "*1\r\n$536870913\r\n", "*1\r\n$\r\n", "*1\r\n$01\r\n",
        "*1\r\n$+1\r\n", "*1\r\n$1x\r\n", "*1\r\n$99999999999999999999\r\n"}) {
    CAPTURE(input);
    check_all_fragmentations(input, commands_then_error({}, errors::kInvalidBulkLength));
  }
}

TEST_CASE("request parser: an error after good commands keeps them, and is sticky") {
  check_all_fragmentations("PING\r\n*1\r\n$1\r\na\r\n*abc\r\nPING\r\n",
                           commands_then_error({{"PING"}, {"a"}}, errors::kInvalidMultibulkLength));
  RequestParser p;
  p.feed("*x\r\n");
  std::vector<std::string_view> argv;
  CHECK(p.next(argv) == RequestParser::Status::kError);
  p.feed("PING\r\n");
  CHECK(p.next(argv) == RequestParser::Status::kError);
  CHECK(p.error() == errors::kInvalidMultibulkLength);
}

TEST_CASE("request parser: the two bytes after a bulk are skipped unchecked, as in Redis") {
  check_all_fragmentations("*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n",
                           commands({{"PING"}, {"PING"}}));
  // A header's terminator is found by its '\r'; the byte after it is not checked either.
  check_all_fragmentations("*1\rx$4\rxPING\r\n", commands({{"PING"}}));
}

// ---- limits
// --------------------------------------------------------------------------------------

TEST_CASE("request parser: 512 MB bulk boundary") {
  // Accepted as a header: no error, waiting for the data.
  check_all_fragmentations("*1\r\n$536870912\r\n", commands({}));
  check_all_fragmentations("*1\r\n$536870913\r\n",
                           commands_then_error({}, errors::kInvalidBulkLength));
  // The data of an accepted 512 MB header is not allocated before it arrives.
  RequestParser p;
  p.feed("*2\r\n$3\r\nSET\r\n$536870912\r\n");
  std::vector<std::string_view> argv;
  CHECK(p.next(argv) == RequestParser::Status::kNeedMore);
  const auto span = p.prepare();
  CHECK(span.size() >= tessera::protocol::kDefaultReadSize);
  CHECK(p.capacity() <= 64 * 1024);
  CHECK(p.memory_bytes() <= 64 * 1024);
  // Feeding 1 MB of it grows the buffer in proportion to what arrived, not to the header's claim.
  const std::string chunk(1024 * 1024, 'x');
  p.feed(chunk);
  CHECK(p.next(argv) == RequestParser::Status::kNeedMore);
  p.prepare();
  CHECK(p.capacity() <= 4 * 1024 * 1024);
}

TEST_CASE("request parser: a configured bulk limit") {
  ParserLimits limits;
  limits.max_bulk_len = 10;
  check_all_fragmentations("*1\r\n$10\r\n0123456789\r\n", commands({{"0123456789"}}), limits);
  check_all_fragmentations("*1\r\n$11\r\n", commands_then_error({}, errors::kInvalidBulkLength),
                           limits);
}

TEST_CASE("request parser: 64 KB inline line limit") {
  const std::size_t max = tessera::protocol::kMaxInlineLen;
  REQUIRE(max == 65536);
  const std::string word(max, 'a');
  // Exactly the limit before the '\n' (the '\r' counts): accepted.
  check_all_fragmentations(word + "\n", commands({{word}}));
  check_all_fragmentations(word.substr(1) + "\r\n", commands({{word.substr(1)}}));
  // One byte more, with or without its newline: too big.
  check_all_fragmentations(word + "b", commands_then_error({}, errors::kTooBigInline));
  check_all_fragmentations(word + "b\r\n", commands_then_error({}, errors::kTooBigInline));
  check_all_fragmentations(word + "\r\n", commands_then_error({}, errors::kTooBigInline));
  // Exactly the limit with nothing after it yet: still waiting.
  check_all_fragmentations(word, commands({}));
}

TEST_CASE("request parser: 64 KB multibulk count line limit") {
  const std::size_t max = tessera::protocol::kMaxInlineLen;
  // '\r' at offset 65536 (the '*' is offset 0): a line Redis parses, and rejects as a number.
  check_all_fragmentations(filled("*", max - 1, '1') + "\r\n",
                           commands_then_error({}, errors::kInvalidMultibulkLength));
  check_all_fragmentations(filled("*", max - 1, '1'), commands({}));
  // One more byte before the '\r', or that many with no '\r' at all: too big.
  check_all_fragmentations(filled("*", max, '1') + "\r\n",
                           commands_then_error({}, errors::kTooBigMbulkCount));
  check_all_fragmentations(filled("*", max, '1'),
                           commands_then_error({}, errors::kTooBigMbulkCount));
  check_all_fragmentations(filled("*", max + 100, '\n'),
                           commands_then_error({}, errors::kTooBigMbulkCount));
}

TEST_CASE("request parser: 64 KB bulk count line limit") {
  const std::size_t max = tessera::protocol::kMaxInlineLen;
  check_all_fragmentations(filled("*1\r\n$", max - 1, '1') + "\r\n",
                           commands_then_error({}, errors::kInvalidBulkLength));
  check_all_fragmentations(filled("*1\r\n$", max - 1, '1'), commands({}));
  check_all_fragmentations(filled("*1\r\n$", max, '1') + "\r\n",
                           commands_then_error({}, errors::kTooBigBulkCount));
  check_all_fragmentations(filled("*1\r\n$", max, '1'),
                           commands_then_error({}, errors::kTooBigBulkCount));
  // Redis finds the '\r' before it looks at the '$': a long line not starting with '$' is too big.
  check_all_fragmentations(filled("*1\r\n", max + 1, 'x'),
                           commands_then_error({}, errors::kTooBigBulkCount));
}

TEST_CASE("request parser: a configured inline limit applies to every line kind") {
  ParserLimits limits;
  limits.max_inline_len = 8;
  check_all_fragmentations("12345678\nPING\r\n", commands({{"12345678"}, {"PING"}}), limits);
  check_all_fragmentations("123456789\n", commands_then_error({}, errors::kTooBigInline), limits);
  check_all_fragmentations("*00000001\r\n", commands_then_error({}, errors::kTooBigMbulkCount),
                           limits);
  check_all_fragmentations("*1\r\n$00000001\r\n", commands_then_error({}, errors::kTooBigBulkCount),
                           limits);
}

TEST_CASE("request parser: max_args caps arguments per command") {
  ParserLimits limits;
  limits.max_args = 3;
  check_all_fragmentations(multibulk({"a", "b", "c"}), commands({{"a", "b", "c"}}), limits);
  check_all_fragmentations("*4\r\n", commands_then_error({}, errors::kInvalidMultibulkLength),
                           limits);
  check_all_fragmentations("a b c\r\n", commands({{"a", "b", "c"}}), limits);
  check_all_fragmentations("a b c d\r\n", commands_then_error({}, errors::kInvalidMultibulkLength),
                           limits);
  // The default follows Redis 6.2's 1024*1024; Redis 7's INT_MAX bound is kept beyond it.
  CHECK(ParserLimits{}.max_args == 1024 * 1024);
  check_all_fragmentations("*1048577\r\n",
                           commands_then_error({}, errors::kInvalidMultibulkLength));
  check_all_fragmentations("*1048576\r\n", commands({}));
}

TEST_CASE("request parser: a hostile *N reserves nothing for its arguments") {
  RequestParser p;
  p.feed("*1048576\r\n");
  std::vector<std::string_view> argv;
  for (int i = 0; i < 10; ++i) {
    p.feed("$1\r\na\r\n");
    CHECK(p.next(argv) == RequestParser::Status::kNeedMore);
  }
  CHECK(p.memory_bytes() <= 64 * 1024);
}

TEST_CASE("request parser: Redis's limits before authentication") {
  const std::string eleven = multibulk(std::vector<std::string>(11, "a"));
  const std::string ten = multibulk(std::vector<std::string>(10, "a"));
  const std::string bulk_16384 = multibulk({"SET", "k", std::string(16384, 'v')});
  const std::string bulk_16385 = multibulk({"SET", "k", std::string(16385, 'v')});
  for (const std::size_t piece : kFragmentSizes) {
    CAPTURE(piece);
    auto run = [piece](std::string_view input, bool unauthenticated) {
      RequestParser p;
      p.set_unauthenticated(unauthenticated);
      ParseOutcome out;
      std::vector<std::string_view> argv;
      for (std::size_t at = 0; at < input.size() && !out.error;) {
        const std::size_t n = piece == 0 ? input.size() : std::min(piece, input.size() - at);
        p.feed(input.substr(at, n));
        at += n;
        RequestParser::Status s;
        while ((s = p.next(argv)) == RequestParser::Status::kCommand) {
          out.commands.emplace_back(argv.begin(), argv.end());
        }
        if (s == RequestParser::Status::kError) {
          out.error = true;
          out.error_text = std::string(p.error());
        }
      }
      return out;
    };
    CHECK(run(ten, true).commands.size() == 1);
    CHECK(run(eleven, true) == commands_then_error({}, errors::kUnauthenticatedMultibulkLength));
    CHECK(run(eleven, false).commands.size() == 1);
    CHECK(run(bulk_16384, true).commands.size() == 1);
    CHECK(run(bulk_16385, true) == commands_then_error({}, errors::kUnauthenticatedBulkLength));
    CHECK(run(bulk_16385, false).commands.size() == 1);
    // Inline requests are not limited further, as in Redis; invalid lengths stay invalid.
    CHECK(run("a b c d e f g h i j k l\r\n", true).commands.size() == 1);
    CHECK(run("*1\r\n$-1\r\n", true) == commands_then_error({}, errors::kInvalidBulkLength));
  }
  CHECK(errors::kUnauthenticatedMultibulkLength ==
        "ERR Protocol error: unauthenticated multibulk length");
  CHECK(errors::kUnauthenticatedBulkLength == "ERR Protocol error: unauthenticated bulk length");
}

// ---- inline quoting (sdssplitargs)
// ---------------------------------------------------------------

TEST_CASE("request parser: inline words and blanks") {
  check_all_fragmentations("SET key value\r\n", commands({{"SET", "key", "value"}}));
  check_all_fragmentations("  SET\t\tkey   value  \n", commands({{"SET", "key", "value"}}));
  check_all_fragmentations("a\r\r\n", commands({{"a"}}));
  // \v and \f are blanks between words but not word ends (isspace() vs sdssplitargs' own switch).
  check_all_fragmentations("\v\fa\vb\f c\r\n", commands({{"a\vb\f", "c"}}));
}

TEST_CASE("request parser: inline double quotes and escapes") {
  check_all_fragmentations("SET \"a b\" \"c\\x41d\"\r\n", commands({{"SET", "a b", "cAd"}}));
  check_all_fragmentations("X \"\\n\\r\\t\\b\\a\\\\\\\"\\q\\'\"\r\n",
                           commands({{"X", "\n\r\t\b\a\\\"q'"}}));
  check_all_fragmentations("X \"\\xff\\x00\\x0A\\xzz\\x4\"\r\n",
                           commands({{"X", "\xff\0\n"s + "xzzx4"}}));
  check_all_fragmentations("X \"\"\r\n", commands({{"X", ""}}));
  check_all_fragmentations("\"\"\r\n", commands({{""}}));
  check_all_fragmentations("X \"a\"\t\"b\"\r\n", commands({{"X", "a", "b"}}));
  // A quote may open inside a word.
  check_all_fragmentations("foo\"bar baz\" q\r\n", commands({{"foobar baz", "q"}}));
  check_all_fragmentations("a'b c' d\r\n", commands({{"ab c", "d"}}));
}

TEST_CASE("request parser: inline single quotes") {
  check_all_fragmentations("X 'a b' 'it\\'s' 'a\\nb' '\\x41'\r\n",
                           commands({{"X", "a b", "it's", "a\\nb", "\\x41"}}));
  check_all_fragmentations("X ''\r\n", commands({{"X", ""}}));
  check_all_fragmentations("X 'a\"b'\r\n", commands({{"X", "a\"b"}}));
}

TEST_CASE("request parser: unbalanced quotes") {
  for (const std::string_view input :
       {"SET \"a b\r\n", "SET 'a b\r\n", "X \"a\"b\r\n", "X 'a'b\r\n", "X \"abc\\\"\r\n",
        "X \"abc\\\r\n", "X '\r\n", "X \"\r\n", "X \"a\"\"b\"\r\n", "\"\r\n"}) {
    CAPTURE(input);
    check_all_fragmentations(input, commands_then_error({}, errors::kUnbalancedQuotes));
  }
  // The error reports, in order, after what came before it.
  check_all_fragmentations("PING\r\nSET \"a b\r\nPING\r\n",
                           commands_then_error({{"PING"}}, errors::kUnbalancedQuotes));
}

TEST_CASE("request parser: a NUL byte ends an inline line, as Redis's C-string split does") {
  check_all_fragmentations("PING\0junk\r\nECHO x\r\n"s, commands({{"PING"}, {"ECHO", "x"}}));
  check_all_fragmentations("\0PING\r\n"s, commands({}));
  check_all_fragmentations("X \"a\0b\"\r\n"s, commands_then_error({}, errors::kUnbalancedQuotes));
}

// ---- binary data
// -----------------------------------------------------------------------------------

TEST_CASE("request parser: binary bulks with CR, LF and NUL") {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::vector<std::string> args = {"SET", "\r\n", "\0"s, "\r\n$3\r\n*1\r\n", all, "", "\n\n"};
  check_all_fragmentations(multibulk(args) + multibulk(args), commands({args, args}));
}

TEST_CASE("request parser: write_command round-trips through the parser") {
  std::string input;
  std::vector<std::vector<std::string>> expected;
  unsigned seed = 7;
  auto rnd = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> cmd(1 + rnd() % 5);
    for (auto& arg : cmd) {
      arg.resize(rnd() % 40);
      for (auto& c : arg) c = static_cast<char>(rnd() & 0xff);
    }
    input += multibulk(cmd);
    expected.push_back(cmd);
  }
  check_all_fragmentations(input, commands(expected));
}

// ---- volume
// ----------------------------------------------------------------------------------------

TEST_CASE("request parser: 100k pipelined commands") {
  std::string input;
  std::vector<std::vector<std::string>> expected;
  const std::string value(32, 'v');
  char key[32];
  for (int i = 0; i < 100000; ++i) {
    std::snprintf(key, sizeof key, "key:%012d", i);
    if (i % 3 == 2) {
      input += "GET "s + key + "\r\n";
      expected.push_back({"GET", key});
    } else {
      input += multibulk({"SET", key, value});
      expected.push_back({"SET", key, value});
    }
  }
  check_all_fragmentations(input, commands(expected));
}

// ---- the buffer contract
// ------------------------------------------------------------------------------

TEST_CASE("request parser: views of earlier commands stay valid until the next prepare()") {
  RequestParser p;
  p.feed(
      "*2\r\n$4\r\nECHO\r\n$3\r\none\r\nECHO \"t\\x77o\"\r\n*2\r\n$4\r\nECHO\r\n$5\r\nthree\r\n");
  std::vector<std::string_view> a, b, c;
  REQUIRE(p.next(a) == RequestParser::Status::kCommand);
  REQUIRE(p.next(b) == RequestParser::Status::kCommand);
  REQUIRE(p.next(c) == RequestParser::Status::kCommand);
  CHECK(a == std::vector<std::string_view>{"ECHO", "one"});
  CHECK(b == std::vector<std::string_view>{"ECHO", "two"});
  CHECK(c == std::vector<std::string_view>{"ECHO", "three"});
  CHECK(p.next(a) == RequestParser::Status::kNeedMore);
  CHECK(p.buffered() == 0);
}

TEST_CASE("request parser: prepare, commit, buffered") {
  RequestParser p;
  auto span = p.prepare(10);
  CHECK(span.size() >= 10);
  CHECK_THROWS_AS(p.commit(span.size() + 1), std::length_error);
  std::memcpy(span.data(), "*1\r\n$4\r\nPI", 10);
  p.commit(10);
  std::vector<std::string_view> argv;
  CHECK(p.next(argv) == RequestParser::Status::kNeedMore);
  CHECK(p.buffered() == 10);
  span = p.prepare(1 << 20);
  CHECK(span.size() >= (1u << 20));
  std::memcpy(span.data(), "NG\r\n", 4);
  p.commit(4);
  CHECK(p.next(argv) == RequestParser::Status::kCommand);
  CHECK(argv == std::vector<std::string_view>{"PING"});
  CHECK(p.buffered() == 0);
}

TEST_CASE("request parser: a moved-from parser is empty and usable") {
  RequestParser a;
  a.feed("*1\r\n$4\r\nPI");
  RequestParser b(std::move(a));
  b.feed("NG\r\n");
  std::vector<std::string_view> argv;
  CHECK(b.next(argv) == RequestParser::Status::kCommand);
  CHECK(a.next(argv) == RequestParser::Status::kNeedMore);  // NOLINT(bugprone-use-after-move)
  a.feed("PING\r\n");
  CHECK(a.next(argv) == RequestParser::Status::kCommand);
  a = std::move(b);
  CHECK(a.next(argv) == RequestParser::Status::kNeedMore);
}

TEST_CASE("request parser: a big buffer is kept for a stream of big bulks, and trim() frees it") {
  const std::string value(8 * 1024 * 1024, 'v');
  std::string input;
  tessera::protocol::write_command(input, {"SET", "k", value});
  RequestParser p;
  std::vector<std::string_view> argv;
  std::size_t cap_after_first = 0;
  for (int round = 0; round < 3; ++round) {
    for (std::size_t at = 0; at < input.size(); at += 65536) {
      const std::size_t n = std::min<std::size_t>(65536, input.size() - at);
      std::memcpy(p.prepare(n).data(), input.data() + at, n);
      p.commit(n);
      while (p.next(argv) == RequestParser::Status::kCommand) CHECK(argv[2].size() == value.size());
    }
    if (round == 0) cap_after_first = p.capacity();
    CHECK(p.capacity() == cap_after_first);  // reused, not reallocated
  }
  CHECK(p.capacity() > 8 * 1024 * 1024);
  p.trim();
  CHECK(p.capacity() == 0);
  p.feed("PING\r\n");
  CHECK(p.next(argv) == RequestParser::Status::kCommand);
  CHECK(argv == std::vector<std::string_view>{"PING"});
}
