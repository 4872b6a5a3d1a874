// The append-only file end to end (issue 16): writes of every kind replayed after a SIGKILL, with
// a different shard count; Redis 7.0.15 loads the directory Tessera writes and Tessera loads the
// one Redis writes (every key, value and deadline compared); a last command cut short is dropped
// with a warning and the file truncated; corruption elsewhere refuses the start naming the file and
// the offset; a file-size limit gives the log line, INFO's err status and -MISCONF.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "e2e_util.hpp"
#include "persistence_util.hpp"
#include "reliability_util.hpp"

using namespace tessera::test;
using namespace tessera::test::persist;

namespace {

// Every key the server holds, with its value and deadline (pipelined, 1000 keys at a time).
Keys dump_keys(int port) {
  Conn c(port);
  std::vector<Reply> r;
  // Redis accepts connections while it loads, answering -LOADING until it is done.
  REQUIRE(eventually([&] {
    r.clear();
    return c.send_all(resp_v({"PING"})) && c.read_replies(1, r) && r[0].str == "PONG";
  }));
  r.clear();
  REQUIRE(c.send_all(resp_v({"KEYS", "*"})));
  REQUIRE(c.read_replies(1, r));
  std::vector<std::string> keys;
  for (const auto& e : r[0].elements) keys.push_back(e.str);
  Keys out;
  for (std::size_t from = 0; from < keys.size(); from += 1000) {
    const std::size_t to = std::min(keys.size(), from + 1000);
    std::string batch;
    for (std::size_t i = from; i < to; ++i) {
      batch += resp_v({"GET", keys[i]}) + resp_v({"PEXPIRETIME", keys[i]});
    }
    REQUIRE(c.send_all(batch));
    std::vector<Reply> got;
    REQUIRE(c.read_replies(2 * (to - from), got));
    for (std::size_t i = from; i < to; ++i) {
      Value v{got[2 * (i - from)].str, std::nullopt};
      if (got[2 * (i - from) + 1].integer >= 0) v.deadline = got[2 * (i - from) + 1].integer;
      out[keys[i]] = v;
    }
  }
  return out;
}

// What differs between two key sets (for the failure message).
std::string diff_keys(const Keys& got, const Keys& want) {
  std::string out;
  auto show = [](const Value& v) {
    return v.value + " @" + std::to_string(v.deadline.value_or(-1));
  };
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) {
      out += "missing " + k + "\n";
    } else if (!(it->second == v)) {
      out += k + ": " + show(it->second) + " instead of " + show(v) + "\n";
    }
  }
  for (const auto& [k, v] : got) {
    if (!want.count(k)) out += "extra " + k + " = " + show(v) + "\n";
  }
  return out;
}

// Commands of every kind the AOF must carry, on keys spread over the shards.
void write_mix(RawConnection& c) {
  const std::vector<std::vector<std::string>> cmds = {
      {"SET", "plain", "v"},
      {"SET", "ex", "v", "EX", "1000"},
      {"SET", "px", "v", "PX", "900000"},
      {"SET", "keepttl", "a", "EX", "1000"},
      {"SET", "keepttl", "b", "KEEPTTL"},
      {"SET", "cleared", "a", "EX", "1000"},
      {"SET", "cleared", "b"},
      {"SETEX", "setex", "1000", "v"},
      {"PSETEX", "psetex", "1000000", "v"},
      {"SETNX", "setnx", "1"},
      {"SETNX", "setnx", "2"},
      {"SET", "nx-blocked", "1"},
      {"SET", "nx-blocked", "2", "NX"},
      {"INCR", "counter"},
      {"INCRBY", "counter", "41"},
      {"DECR", "counter"},
      {"INCRBYFLOAT", "float", "1.5"},
      {"INCRBYFLOAT", "float", "0.25"},
      {"APPEND", "appended", "abc"},
      {"APPEND", "appended", "def"},
      {"SETRANGE", "ranged", "5", "xyz"},
      {"SET", "exp", "v"},
      {"EXPIRE", "exp", "1000"},
      {"SET", "pexp", "v"},
      {"PEXPIRE", "pexp", "1000000"},
      {"SET", "persisted", "v", "EX", "1000"},
      {"PERSIST", "persisted"},
      {"SET", "getex", "v"},
      {"GETEX", "getex", "EX", "1000"},
      {"SET", "getex-persist", "v", "EX", "1000"},
      {"GETEX", "getex-persist", "PERSIST"},
      {"SET", "getdel", "v"},
      {"GETDEL", "getdel"},
      {"SET", "deleted", "v"},
      {"DEL", "deleted"},
      {"SET", "past", "v"},
      {"EXPIRE", "past", "-1"},
      {"MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4"},
      {"MSETNX", "n1", "1", "n2", "2"},
      {"SET", "from", "moved", "EX", "1000"},
      {"RENAME", "from", "to"},
      {"SET", "src", "copied"},
      {"COPY", "src", "dst"},
      {"GETSET", "getset", "new"},
      {"MULTI"},
      {"SET", "tx1", "a"},
      {"INCR", "tx2"},
      {"DEL", "m4"},
      {"EXEC"},
  };
  for (const auto& cmd : cmds) {
    const std::string r = call(c, cmd);
    CHECK_MESSAGE(r[0] != '-', (cmd[0] + " " + (cmd.size() > 1 ? cmd[1] : "") + ": " + r));
  }
  for (int i = 0; i < 300; ++i) {
    CHECK(call(c, {"SET", "many:" + std::to_string(i), std::to_string(i)}) == "+OK\r\n");
  }
}

std::string incr_file(const TempDir& dir) {
  for (const auto& e : fs::directory_iterator(dir.path / "appendonlydir")) {
    if (e.path().string().ends_with(".incr.aof")) return e.path().string();
  }
  return {};
}

}  // namespace

TEST_CASE("aof: every kind of write replays after SIGKILL, and Redis loads the directory") {
  TempDir dir;
  Keys before;
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 4, {"--appendfsync", "always"}));
    RawConnection c(t.port());
    write_mix(c);
    CHECK(info_field(c, "aof_enabled") == "1");
    CHECK(info_field(c, "aof_last_write_status") == "ok");
    before = dump_keys(t.port());
    t.stop(SIGKILL);
  }
  REQUIRE(before.size() > 300);
  CHECK(before.count("getdel") == 0);
  CHECK(before.count("past") == 0);
  CHECK(before.at("counter").value == "41");
  CHECK(before.at("float").value == "1.75");
  CHECK(fs::exists(dir.path / "appendonlydir" / "appendonly.aof.manifest"));
  CHECK(fs::exists(dir.path / "appendonlydir" / "appendonly.aof.1.base.rdb"));
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 3));
    CHECK(dump_keys(t.port()) == before);
    CHECK(t.output().find("DB loaded from append only file") != std::string::npos);
    // FLUSHALL and later writes, then a clean stop.
    RawConnection c(t.port());
    CHECK(call(c, {"FLUSHALL"}) == "+OK\r\n");
    write_mix(c);
    before = dump_keys(t.port());
  }
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 1));
    CHECK(dump_keys(t.port()) == before);
  }
  {
    ServerProcess r =
        ServerProcess::redis({"--dir", dir.path.string(), "--appendonly", "yes", "--save", ""});
    const Keys got = dump_keys(r.port());
    CHECK_MESSAGE(got == before, diff_keys(got, before));
  }
  const auto check = run_command(
      {"redis-check-aof", (dir.path / "appendonlydir" / "appendonly.aof.manifest").string()});
  CHECK_MESSAGE(check.exit_code == 0, (check.out + check.err));
}

TEST_CASE("aof: Tessera loads the directory Redis 7.0.15 writes") {
  TempDir dir;
  Keys before;
  {
    ServerProcess r =
        ServerProcess::redis({"--dir", dir.path.string(), "--appendonly", "yes", "--save", ""});
    RawConnection c(r.port());
    write_mix(c);
    before = dump_keys(r.port());
    // Redis writes its buffer before it replies, so a SIGKILL now loses nothing (everysec).
    r.stop(SIGKILL);
  }
  ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 4));
  CHECK(dump_keys(t.port()) == before);
}

TEST_CASE("aof: a command cut short is dropped with a warning, corruption refuses the start") {
  TempDir dir;
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 2));
    RawConnection c(t.port());
    CHECK(call(c, {"SET", "kept", "1"}) == "+OK\r\n");
    t.stop(SIGTERM);
  }
  const std::string path = incr_file(dir);
  REQUIRE(!path.empty());
  const std::string whole = slurp(path);
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << "*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$2\r\nv";  // the last command, cut short
  }
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 2));
    RawConnection c(t.port());
    CHECK(call(c, {"GET", "kept"}) == "$1\r\n1\r\n");
    CHECK(call(c, {"EXISTS", "lost"}) == ":0\r\n");
    CHECK(t.output().find("short read while loading the AOF file") != std::string::npos);
    CHECK(t.output().find("loaded anyway because aof-load-truncated is enabled") !=
          std::string::npos);
    t.stop(SIGTERM);
  }
  CHECK(slurp(path) == whole);  // truncated back to the last whole command
  {
    // aof-load-truncated no: the same cut refuses the start.
    { std::ofstream(path, std::ios::app | std::ios::binary) << "*1\r\n$4\r\nPI"; }
    std::vector<std::string> argv{tessera_server_path(), "--port", std::to_string(free_port())};
    for (const auto& a : aof_test_args(dir, 2, {"--aof-load-truncated", "no"})) argv.push_back(a);
    const auto out = run_command(argv, {}, std::chrono::seconds(20));
    CHECK(out.exit_code == 1);
    CHECK_MESSAGE((out.out + out.err).find("Unexpected end of file") != std::string::npos,
                  (out.out + out.err));
  }
  {
    // Garbage in the middle: the start is refused, naming the file and the offset.
    std::string bad = whole;
    bad.insert(whole.size() / 2, "garbage");
    { std::ofstream(path, std::ios::trunc | std::ios::binary) << bad << whole.substr(0, 0); }
    std::vector<std::string> argv{tessera_server_path(), "--port", std::to_string(free_port())};
    for (const auto& a : aof_test_args(dir, 2)) argv.push_back(a);
    const auto out = run_command(argv, {}, std::chrono::seconds(20));
    CHECK(out.exit_code == 1);
    const std::string log = out.out + out.err;
    CHECK_MESSAGE(log.find("Bad file format reading the append only file") != std::string::npos,
                  log);
    CHECK_MESSAGE(log.find("appendonly.aof.1.incr.aof at offset") != std::string::npos, log);
    CHECK_MESSAGE(log.find("at offset") != std::string::npos, log);
    CHECK(slurp(path) == bad);  // left as it was
  }
}

TEST_CASE(
    "aof: a file-size limit gives the log line, INFO err and -MISCONF, the file stays whole") {
  TempDir dir;
  std::vector<std::string> argv{"prlimit", "--fsize=200000", tessera_server_path(),
                                "--bind",  "127.0.0.1",      "--port"};
  const int port = free_port();
  argv.push_back(std::to_string(port));
  for (const auto& a : aof_test_args(dir, 2)) argv.push_back(a);
  ServerProcess t(argv, port);
  RawConnection c(t.port());
  const std::string value(1000, 'v');
  std::string reply;
  for (int i = 0; i < 400 && reply.find("-MISCONF") == std::string::npos; ++i) {
    reply = call(c, {"SET", "k" + std::to_string(i), value});
    if (reply.find("-MISCONF") == std::string::npos) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  CHECK(reply.find("-MISCONF Errors writing to the AOF file: File too large") == 0);
  CHECK(info_field(c, "aof_last_write_status") == "err");
  CHECK(call(c, {"GET", "k0"}) == "$1000\r\n" + value + "\r\n");  // reads still work
  CHECK(t.output().find("Error writing to the AOF file: File too large") != std::string::npos);
  t.stop(SIGKILL);
  // What is on disk is whole commands: it loads (without the limit) without a warning.
  ServerProcess again = ServerProcess::tessera(aof_test_args(dir, 2));
  RawConnection c2(again.port());
  CHECK(call(c2, {"GET", "k0"}) == "$1000\r\n" + value + "\r\n");
  CHECK(again.output().find("short read") == std::string::npos);
}

TEST_CASE("aof: BGREWRITEAOF under writes switches to a new base and incr file, nothing lost") {
  TempDir dir;
  const fs::path aofdir = dir.path / "appendonlydir";
  Keys before;
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 4));
    RawConnection c(t.port());
    write_mix(c);
    std::string batch;
    for (int i = 0; i < 20000; ++i) batch += resp_v({"SET", "pre:" + std::to_string(i), "x"});
    RawConnection loader(t.port());
    loader.send(batch);
    REQUIRE(eventually([&] { return call(c, {"EXISTS", "pre:19999"}) == ":1\r\n"; }));
    CHECK(call(c, {"BGREWRITEAOF"}) == "+Background append only file rewriting started\r\n");
    // Writes while the snapshot is walked: overwrites, deletes and new keys.
    RawConnection w(t.port());
    batch.clear();
    for (int i = 0; i < 20000; i += 2) {
      batch += resp_v({"SET", "pre:" + std::to_string(i), "y"});
      batch += resp_v({"DEL", "pre:" + std::to_string(i + 1)});
      batch += resp_v({"SET", "post:" + std::to_string(i), "z"});
    }
    w.send(batch);
    REQUIRE(eventually([&] { return info_field(c, "aof_rewrite_in_progress") == "0"; },
                       std::chrono::seconds(60)));
    REQUIRE(eventually([&] { return call(c, {"EXISTS", "post:19998"}) == ":1\r\n"; }));
    CHECK(info_field(c, "aof_last_bgrewrite_status") == "ok");
    CHECK(info_field(c, "aof_rewrites") == "1");
    CHECK(std::stoull(info_field(c, "aof_base_size")) > 100000);
    CHECK(t.output().find("Background AOF rewrite finished successfully") != std::string::npos);
    before = dump_keys(t.port());
    t.stop(SIGKILL);
  }
  std::size_t pre = 0, post = 0;
  for (const auto& [k, v] : before) {
    pre += k.starts_with("pre:") ? 1 : 0;
    post += k.starts_with("post:") ? 1 : 0;
    if (k.starts_with("pre:")) CHECK(v.value == "y");
  }
  CHECK(pre == 10000);  // half overwritten during the rewrite, half deleted
  CHECK(post == 10000);
  CHECK(slurp(aofdir / "appendonly.aof.manifest") ==
        "file appendonly.aof.2.base.rdb seq 2 type b\n"
        "file appendonly.aof.2.incr.aof seq 2 type i\n");
  CHECK_FALSE(fs::exists(aofdir / "appendonly.aof.1.base.rdb"));
  CHECK_FALSE(fs::exists(aofdir / "appendonly.aof.1.incr.aof"));
  {
    ServerProcess t = ServerProcess::tessera(aof_test_args(dir, 2));
    const Keys got = dump_keys(t.port());
    CHECK_MESSAGE(got == before, diff_keys(got, before));
  }
  {
    ServerProcess r =
        ServerProcess::redis({"--dir", dir.path.string(), "--appendonly", "yes", "--save", ""});
    const Keys got = dump_keys(r.port());
    CHECK_MESSAGE(got == before, diff_keys(got, before));
  }
}

TEST_CASE("aof: the automatic rewrite starts once the files grew past the percentage") {
  TempDir dir;
  ServerProcess t = ServerProcess::tessera(aof_test_args(
      dir, 2, {"--auto-aof-rewrite-min-size", "1mb", "--auto-aof-rewrite-percentage", "100"}));
  RawConnection c(t.port());
  const std::string value(1000, 'a');
  std::string batch;
  for (int i = 0; i < 3000; ++i) batch += resp_v({"SET", "k" + std::to_string(i % 500), value});
  RawConnection w(t.port());
  w.send(batch);
  REQUIRE(
      eventually([&] { return info_field(c, "aof_rewrites") >= "1"; }, std::chrono::seconds(30)));
  REQUIRE(eventually([&] { return info_field(c, "aof_rewrite_in_progress") == "0"; }));
  CHECK(info_field(c, "aof_last_bgrewrite_status") == "ok");
  CHECK(t.output().find("Starting automatic rewriting of AOF on") != std::string::npos);
  // The new base holds the keys as they were at the rewrite's moment (their values compress).
  CHECK(info_field(c, "aof_base_size") != "0");
  // (More than one rewrite may have run: each new base is small, the writes go on.)
  CHECK(slurp(dir.path / "appendonlydir" / "appendonly.aof.manifest").find("appendonly.aof.1.") ==
        std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "appendonlydir" / "appendonly.aof.1.base.rdb"));
}
