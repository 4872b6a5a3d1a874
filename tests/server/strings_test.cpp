// The everyday string and keyspace commands (issue 15), in process through the real command table
// and Session, with 1, 2 and 4 shards. Every expected reply is Redis 7.0.15's bytes, checked
// against Debian's redis-server.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "session_env.hpp"

using namespace tessera::server;
using namespace tessera::server::testing;

TEST_CASE("strings: INCR DECR INCRBY DECRBY with Redis's integer rules") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, n - 1);
    CHECK(c.call({"INCR", "n"}) == ":1\r\n");  // a missing key counts as 0
    CHECK(c.call({"INCRBY", "n", "41"}) == ":42\r\n");
    CHECK(c.call({"DECR", "n"}) == ":41\r\n");
    CHECK(c.call({"DECRBY", "n", "50"}) == ":-9\r\n");
    CHECK(c.call({"GET", "n"}) == bulk("-9"));
    CHECK(c.call({"DECRBY", "fresh", "-3"}) == ":3\r\n");
    CHECK(c.call({"SET", "big", "9223372036854775806"}) == "+OK\r\n");
    CHECK(c.call({"INCR", "big"}) == ":9223372036854775807\r\n");
    CHECK(c.call({"INCR", "big"}) == "-ERR increment or decrement would overflow\r\n");
    CHECK(c.call({"GET", "big"}) == bulk("9223372036854775807"));  // unchanged
    CHECK(c.call({"SET", "small", "-9223372036854775807"}) == "+OK\r\n");
    CHECK(c.call({"DECRBY", "small", "1"}) == ":-9223372036854775808\r\n");
    CHECK(c.call({"DECR", "small"}) == "-ERR increment or decrement would overflow\r\n");
    CHECK(c.call({"DECRBY", "n", "-9223372036854775808"}) == "-ERR decrement would overflow\r\n");
    CHECK(c.call({"INCRBY", "n", "9223372036854775808"}) ==
          "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"INCRBY", "n", "1.5"}) == "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"INCRBY", "n", " 1"}) == "-ERR value is not an integer or out of range\r\n");
    // Stored values that string2ll refuses.
    for (const char* bad : {"abc", "", " 1", "+1", "01", "-0", "1.0", "99999999999999999999"}) {
      CAPTURE(bad);
      CHECK(c.call({"SET", "s", bad}) == "+OK\r\n");
      CHECK(c.call({"INCR", "s"}) == "-ERR value is not an integer or out of range\r\n");
      CHECK(c.call({"GET", "s"}) == bulk(bad));
    }
    CHECK(c.call({"INCR"}) == "-ERR wrong number of arguments for 'incr' command\r\n");
    CHECK(c.call({"INCRBY", "n"}) == "-ERR wrong number of arguments for 'incrby' command\r\n");
    CHECK(c.call({"DECRBY", "n", "1", "2"}) ==
          "-ERR wrong number of arguments for 'decrby' command\r\n");
    CHECK(c.call({"DECR", "a", "b"}) == "-ERR wrong number of arguments for 'decr' command\r\n");
  }
}

TEST_CASE("strings: INCRBYFLOAT with long double arithmetic and Redis's number text") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"SET", "f", "10.5"}) == "+OK\r\n");
  CHECK(c.call({"INCRBYFLOAT", "f", "0.1"}) == bulk("10.6"));
  CHECK(c.call({"GET", "f"}) == bulk("10.6"));
  CHECK(c.call({"INCRBYFLOAT", "f", "-5.0e3"}) ==
        bulk("-4989.39999999999999991"));  // long double, as Redis
  CHECK(c.call({"INCRBYFLOAT", "nokey", "3.0e0"}) == bulk("3"));
  CHECK(c.call({"INCRBYFLOAT", "zero", "-0"}) == bulk("0"));
  CHECK(c.call({"INCRBYFLOAT", "tiny", "5.0000000000000000001"}) == bulk("5"));
  CHECK(c.call({"SET", "hex", "0x10"}) == "+OK\r\n");
  CHECK(c.call({"INCRBYFLOAT", "hex", "1"}) == bulk("17"));
  CHECK(c.call({"SET", "i", "3"}) == "+OK\r\n");
  CHECK(c.call({"INCRBYFLOAT", "i", "1.5"}) == bulk("4.5"));
  CHECK(c.call({"INCRBYFLOAT", "i", "abc"}) == "-ERR value is not a valid float\r\n");
  CHECK(c.call({"INCRBYFLOAT", "i", " 1"}) == "-ERR value is not a valid float\r\n");
  CHECK(c.call({"INCRBYFLOAT", "i", "1e5000"}) == "-ERR value is not a valid float\r\n");
  CHECK(c.call({"INCRBYFLOAT", "i", "inf"}) == "-ERR increment would produce NaN or Infinity\r\n");
  CHECK(c.call({"GET", "i"}) == bulk("4.5"));
  CHECK(c.call({"SET", "s", "abc"}) == "+OK\r\n");
  CHECK(c.call({"INCRBYFLOAT", "s", "1"}) == "-ERR value is not a valid float\r\n");
  CHECK(c.call({"INCRBYFLOAT", "s"}) ==
        "-ERR wrong number of arguments for 'incrbyfloat' command\r\n");
}

TEST_CASE("strings: APPEND SETRANGE GETRANGE SUBSTR") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    CHECK(c.call({"APPEND", "s", "abc"}) == ":3\r\n");
    CHECK(c.call({"APPEND", "s", "x"}) == ":4\r\n");
    CHECK(c.call({"APPEND", "s", ""}) == ":4\r\n");
    CHECK(c.call({"GET", "s"}) == bulk("abcx"));
    CHECK(c.call({"GETRANGE", "s", "0", "-1"}) == bulk("abcx"));
    CHECK(c.call({"GETRANGE", "s", "1", "2"}) == bulk("bc"));
    CHECK(c.call({"SUBSTR", "s", "1", "2"}) == bulk("bc"));
    CHECK(c.call({"GETRANGE", "s", "-1", "-5"}) == bulk(""));
    CHECK(c.call({"GETRANGE", "s", "-100", "100"}) == bulk("abcx"));
    CHECK(c.call({"GETRANGE", "s", "3", "1"}) == bulk(""));
    CHECK(c.call({"GETRANGE", "s", "-2", "-1"}) == bulk("cx"));
    CHECK(c.call({"GETRANGE", "s", "10", "20"}) == bulk(""));
    CHECK(c.call({"GETRANGE", "nokey", "0", "-1"}) == bulk(""));
    CHECK(c.call({"GETRANGE", "s", "a", "b"}) ==
          "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"GETRANGE", "s", "0", "0", "0"}) ==
          "-ERR wrong number of arguments for 'getrange' command\r\n");
    CHECK(c.call({"SETRANGE", "s", "1", "ZZ"}) == ":4\r\n");
    CHECK(c.call({"GET", "s"}) == bulk("aZZx"));
    CHECK(c.call({"SETRANGE", "pad", "3", "ab"}) == ":5\r\n");
    CHECK(c.call({"GET", "pad"}) == bulk(std::string("\0\0\0ab", 5)));
    CHECK(c.call({"SETRANGE", "new", "5", ""}) == ":0\r\n");
    CHECK(c.call({"EXISTS", "new"}) == ":0\r\n");  // an empty part creates nothing
    CHECK(c.call({"SETRANGE", "s", "-1", "x"}) == "-ERR offset is out of range\r\n");
    CHECK(c.call({"SETRANGE", "s", "x", "y"}) ==
          "-ERR value is not an integer or out of range\r\n");
    CHECK(c.call({"SETRANGE", "s", "536870911", "xx"}) ==
          "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    CHECK(c.call({"SETRANGE", "s", "536870912", ""}) == ":4\r\n");  // nothing to write: no check
    CHECK(c.call({"SETRANGE", "s", "1"}) ==
          "-ERR wrong number of arguments for 'setrange' command\r\n");
    CHECK(c.call({"GET", "s"}) == bulk("aZZx"));
  }
}

TEST_CASE("strings: APPEND past 512 MB is refused and loses nothing") {
  Env env(1);
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"SETRANGE", "big", "536870910", "ab"}) == ":536870912\r\n");
  CHECK(c.call({"APPEND", "big", "c"}) ==
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
  CHECK(c.call({"STRLEN", "big"}) == ":536870912\r\n");
  CHECK(c.call({"GETRANGE", "big", "-2", "-1"}) == bulk("ab"));
  CHECK(c.call({"DEL", "big"}) == ":1\r\n");
}

TEST_CASE("strings: GETDEL GETSET SETNX") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    CHECK(c.call({"SETNX", "k", "1"}) == ":1\r\n");
    CHECK(c.call({"SETNX", "k", "2"}) == ":0\r\n");
    CHECK(c.call({"GETSET", "k", "3"}) == bulk("1"));
    CHECK(c.call({"GETSET", "other", "4"}) == "$-1\r\n");
    CHECK(c.call({"GET", "other"}) == bulk("4"));
    CHECK(c.call({"GETDEL", "k"}) == bulk("3"));
    CHECK(c.call({"GETDEL", "k"}) == "$-1\r\n");
    CHECK(c.call({"EXISTS", "k"}) == ":0\r\n");
    CHECK(c.call({"SETNX", "k"}) == "-ERR wrong number of arguments for 'setnx' command\r\n");
    CHECK(c.call({"GETSET", "k"}) == "-ERR wrong number of arguments for 'getset' command\r\n");
    CHECK(c.call({"GETDEL"}) == "-ERR wrong number of arguments for 'getdel' command\r\n");
  }
}

TEST_CASE("keyspace: TOUCH UNLINK OBJECT ENCODING RANDOMKEY") {
  for (unsigned n : kShardCounts) {
    CAPTURE(n);
    Env env(n);
    InProcessSession c(env.set, env.state, 0);
    CHECK(c.call({"RANDOMKEY"}) == "$-1\r\n");
    CHECK(c.call({"MSET", "a", "1", "b", "2", "c", "3"}) == "+OK\r\n");
    CHECK(c.call({"TOUCH", "a", "b", "nope", "a"}) == ":3\r\n");
    CHECK(c.call({"UNLINK", "a", "nope"}) == ":1\r\n");
    CHECK(c.call({"UNLINK"}) == "-ERR wrong number of arguments for 'unlink' command\r\n");
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) seen.insert(c.call({"RANDOMKEY"}));
    CHECK(seen == std::set<std::string>{bulk("b"), bulk("c")});
    CHECK(c.call({"RANDOMKEY", "x"}) ==
          "-ERR wrong number of arguments for 'randomkey' command\r\n");

    // object.c: int for a canonical int64, embstr up to 44 bytes, raw above; raw after an
    // in-place edit whatever the length; a new value decides afresh.
    CHECK(c.call({"SET", "i", "12345"}) == "+OK\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "i"}) == bulk("int"));
    CHECK(c.call({"SET", "neg", "-1"}) == "+OK\r\n");
    CHECK(c.call({"object", "encoding", "neg"}) == bulk("int"));
    for (const char* v : {"-0", "01", "12345678901234567890", "1.5", "abc"}) {
      CAPTURE(v);
      CHECK(c.call({"SET", "e", v}) == "+OK\r\n");
      CHECK(c.call({"OBJECT", "ENCODING", "e"}) == bulk("embstr"));
    }
    CHECK(c.call({"SET", "e", std::string(44, 'x')}) == "+OK\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "e"}) == bulk("embstr"));
    CHECK(c.call({"SET", "e", std::string(45, 'x')}) == "+OK\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "e"}) == bulk("raw"));
    CHECK(c.call({"APPEND", "i", "6"}) == ":6\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "i"}) == bulk("raw"));
    CHECK(c.call({"INCR", "i"}) == ":123457\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "i"}) == bulk("int"));
    CHECK(c.call({"SETRANGE", "h", "3", "ab"}) == ":5\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "h"}) == bulk("raw"));
    CHECK(c.call({"SET", "h", "ab"}) == "+OK\r\n");
    CHECK(c.call({"OBJECT", "ENCODING", "h"}) == bulk("embstr"));
    CHECK(c.call({"APPEND", "fresh", "7"}) == ":1\r\n");  // APPEND creating a key: a new value
    CHECK(c.call({"OBJECT", "ENCODING", "fresh"}) == bulk("int"));
    CHECK(c.call({"INCRBYFLOAT", "fresh", "0.5"}) == bulk("7.5"));
    CHECK(c.call({"OBJECT", "ENCODING", "fresh"}) == bulk("embstr"));
    CHECK(c.call({"OBJECT", "ENCODING", "missing"}) == "$-1\r\n");
    CHECK(c.call({"OBJECT", "FOO", "i"}) == "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n");
    CHECK(c.call({"OBJECT"}) == "-ERR wrong number of arguments for 'object' command\r\n");
    CHECK(c.call({"OBJECT", "ENCODING"}) ==
          "-ERR wrong number of arguments for 'object|encoding' command\r\n");
    const auto help = parse_all(c.call({"OBJECT", "HELP"}));
    REQUIRE(help.size() == 1);
    REQUIRE(help[0].elements.size() == 12);  // ENCODING, FREQ, IDLETIME (3 lines each), HELP
    CHECK(help[0].elements[0].str ==
          "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    CHECK(help[0].elements[1].str == "ENCODING <key>");
    CHECK(help[0].elements[11].str == "    Prints this help.");
  }
}

TEST_CASE("keyspace: commands of other types keep the unknown-command error") {
  Env env(2);
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"LPUSH", "l", "a"}) ==
        "-ERR unknown command 'LPUSH', with args beginning with: 'l' 'a' \r\n");
  CHECK(c.call({"HSET", "h", "f", "v"}) ==
        "-ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' \r\n");
  CHECK(c.call({"SET", "s", "1"}) == "+OK\r\n");
  CHECK(c.call({"TYPE", "s"}) == "+string\r\n");
}

TEST_CASE("strings: INCR APPEND SETRANGE keep a deadline, GETSET and SET clear it") {
  struct ClockEnv {
    ClockEnv() : state(config()), set((state.store.clock = &clock, 2u), &state.store) {
      set.start();
    }
    static Config config() {
      Config c;
      c.shards = 2;
      return c;
    }
    ManualClock clock{1'700'000'000'000};
    ServerState state;
    ShardSet set;
  } env;
  InProcessSession c(env.set, env.state);
  CHECK(c.call({"SET", "n", "1", "EX", "100"}) == "+OK\r\n");
  CHECK(c.call({"INCR", "n"}) == ":2\r\n");
  CHECK(c.call({"INCRBYFLOAT", "n", "0.5"}) == bulk("2.5"));
  CHECK(c.call({"APPEND", "n", "0"}) == ":4\r\n");
  CHECK(c.call({"SETRANGE", "n", "0", "3"}) == ":4\r\n");
  CHECK(c.call({"TTL", "n"}) == ":100\r\n");
  CHECK(c.call({"GETSET", "n", "x"}) == bulk("3.50"));
  CHECK(c.call({"TTL", "n"}) == ":-1\r\n");
  CHECK(c.call({"SET", "e", "5", "PX", "10"}) == "+OK\r\n");
  env.clock.advance_ms(11);
  // An expired counter counts as missing: INCR starts from 0, without a deadline.
  CHECK(c.call({"INCR", "e"}) == ":1\r\n");
  CHECK(c.call({"TTL", "e"}) == ":-1\r\n");
  CHECK(c.call({"SET", "g", "v", "EX", "1"}) == "+OK\r\n");
  env.clock.advance_ms(1001);
  CHECK(c.call({"GETDEL", "g"}) == "$-1\r\n");
  CHECK(c.call({"OBJECT", "ENCODING", "g"}) == "$-1\r\n");
}
