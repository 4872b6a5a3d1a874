// Persistence end to end (issue 16): SAVE / BGSAVE / SHUTDOWN / SIGTERM write dump.rdb; a restart
// loads it; Redis 7.0.15 loads what Tessera writes (every key, value and deadline compared, and
// redis-check-rdb passes it) and Tessera loads what Redis writes; BGSAVE holds one point in time
// while writes go on; faults (a directory gone, a file-size limit) give the log line, INFO's err
// status and -MISCONF, and leave the previous file as it was.
#include <doctest/doctest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tessera/server/persistence/rdb.hpp>
#include <vector>

#include "e2e_util.hpp"
#include "persistence_util.hpp"

using namespace tessera::test;

using namespace tessera::test::persist;

TEST_CASE("persistence: SAVE, restart, Redis loads the file, redis-check-rdb passes it") {
  TempDir dir;
  const Keys keys = sample_keys();
  for (unsigned shards : {1u, 4u}) {
    CAPTURE(shards);
    fs::remove(dir.path / "dump.rdb");
    {
      ServerProcess t = ServerProcess::tessera(tessera_args(dir, shards));
      RawConnection c(t.port());
      write_keys(c, keys);
      CHECK(info_field(c, "rdb_changes_since_last_save") != "0");
      const std::string before = call(c, {"LASTSAVE"});
      std::this_thread::sleep_for(std::chrono::milliseconds(1100));
      CHECK(call(c, {"SAVE"}) == "+OK\r\n");
      CHECK(call(c, {"LASTSAVE"}) != before);
      CHECK(info_field(c, "rdb_changes_since_last_save") == "0");
      CHECK(info_field(c, "rdb_last_bgsave_status") == "ok");
      // No temporary file is left behind.
      for (const auto& e : fs::directory_iterator(dir.path)) {
        CHECK(e.path().filename() == "dump.rdb");
      }
    }
    CHECK(read_rdb(dir.path / "dump.rdb") == keys);
    const auto check = run_command({"redis-check-rdb", (dir.path / "dump.rdb").string()});
    CHECK_MESSAGE(check.exit_code == 0, (check.out + check.err));
    {
      ServerProcess t = ServerProcess::tessera(tessera_args(dir, shards == 1 ? 3 : 1));
      check_keys(t.port(), keys);
      RawConnection c(t.port());
      CHECK(info_field(c, "rdb_last_load_keys_loaded") == std::to_string(keys.size()));
      CHECK(t.output().find("DB loaded from disk") != std::string::npos);
    }
    {
      ServerProcess r = ServerProcess::redis({"--dir", dir.path.string()});
      check_keys(r.port(), keys);
    }
  }
}

TEST_CASE("persistence: Tessera loads what Redis 7.0.15 writes, and refuses other types") {
  TempDir dir;
  const Keys keys = sample_keys();
  {
    ServerProcess r = ServerProcess::redis({"--dir", dir.path.string()});
    RawConnection c(r.port());
    write_keys(c, keys);
    // An expired key in the file is dropped at load.
    CHECK(call(c, {"SET", "gone", "x", "PX", "50"}) == "+OK\r\n");
    CHECK(call(c, {"SAVE"}) == "+OK\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  {
    ServerProcess t = ServerProcess::tessera(tessera_args(dir, 2));
    check_keys(t.port(), keys);
    RawConnection c(t.port());
    CHECK(info_field(c, "rdb_last_load_keys_expired") == "1");
  }
  {
    ServerProcess r = ServerProcess::redis({"--dir", dir.path.string()});
    RawConnection c(r.port());
    CHECK(call(c, {"HSET", "user:7", "name", "ada"}) == ":1\r\n");
    CHECK(call(c, {"SAVE"}) == "+OK\r\n");
  }
  const std::string before = slurp(dir.path / "dump.rdb");
  std::vector<std::string> argv{
      tessera_server_path(), "--port", std::to_string(free_port()), "--save", "", "--dir",
      dir.path.string()};
  const auto out = run_command(argv, {}, std::chrono::seconds(20));
  CHECK(out.exit_code == 1);
  CHECK_MESSAGE(
      (out.out + out.err).find("Key 'user:7' holds a hash (RDB type") != std::string::npos,
      (out.out + out.err));
  CHECK(slurp(dir.path / "dump.rdb") == before);
}

TEST_CASE("persistence: BGSAVE holds one point in time while writes go on") {
  TempDir dir;
  constexpr int kKeys = 200000;
  ServerProcess t = ServerProcess::tessera(tessera_args(dir, 4));
  RawConnection c(t.port());
  {
    std::string batch;
    for (int i = 0; i < kKeys; ++i) batch += resp_v({"SET", "k:" + std::to_string(i), "old"});
    c.send(batch);
    std::size_t oks = 0;
    std::string got;
    REQUIRE(eventually(
        [&] {
          got = c.read_available(std::chrono::milliseconds(5), std::chrono::milliseconds(50));
          for (std::size_t p = 0; (p = got.find("+OK", p)) != std::string::npos; p += 3) ++oks;
          return oks >= static_cast<std::size_t>(kKeys);
        },
        std::chrono::seconds(60)));
  }
  CHECK(call(c, {"BGSAVE"}) == "+Background saving started\r\n");
  CHECK(call(c, {"BGSAVE"}) == "-ERR Background save already in progress\r\n");
  // Everything below is sent after the reply: none of it may be in the file.
  RawConnection w(t.port());
  std::string batch;
  for (int i = 0; i < kKeys; i += 3) batch += resp_v({"SET", "k:" + std::to_string(i), "new"});
  for (int i = 1; i < kKeys; i += 3) batch += resp_v({"DEL", "k:" + std::to_string(i)});
  for (int i = 0; i < 5000; ++i) batch += resp_v({"SET", "added:" + std::to_string(i), "x"});
  w.send(batch);
  wait_bgsave_done(c);
  CHECK(info_field(c, "rdb_last_bgsave_status") == "ok");
  const Keys saved = read_rdb(dir.path / "dump.rdb");
  CHECK(saved.size() == static_cast<std::size_t>(kKeys));
  std::size_t old_values = 0;
  for (const auto& [k, v] : saved) old_values += (k.starts_with("k:") && v.value == "old") ? 1 : 0;
  CHECK(old_values == static_cast<std::size_t>(kKeys));
  // And the writes themselves all happened.
  REQUIRE(eventually([&] { return call(c, {"GET", "added:4999"}) == "$1\r\nx\r\n"; }));
  CHECK(call(c, {"GET", "k:0"}) == "$3\r\nnew\r\n");
  CHECK(call(c, {"EXISTS", "k:1"}) == ":0\r\n");
  CHECK(call(c, {"DBSIZE"}) == ":" + std::to_string(kKeys - (kKeys + 1) / 3 + 5000) + "\r\n");
}

TEST_CASE("persistence: SHUTDOWN and SIGTERM save as Redis 7.0 does") {
  TempDir dir;
  SUBCASE("SIGTERM with save rules saves; without, it does not") {
    {
      ServerProcess t = ServerProcess::tessera(tessera_args(dir, 2, {"--save", "3600 1"}));
      RawConnection c(t.port());
      CHECK(call(c, {"SET", "a", "1"}) == "+OK\r\n");
      const auto status = t.stop(SIGTERM);
      REQUIRE(status);
      CHECK(WIFEXITED(*status));
      CHECK(WEXITSTATUS(*status) == 0);
    }
    CHECK(read_rdb(dir.path / "dump.rdb") == Keys{{"a", {"1", std::nullopt}}});
    {
      ServerProcess t = ServerProcess::tessera(tessera_args(dir, 2));
      RawConnection c(t.port());
      CHECK(call(c, {"SET", "b", "2"}) == "+OK\r\n");
      t.stop(SIGTERM);
    }
    CHECK(read_rdb(dir.path / "dump.rdb").size() == 1);
  }
  SUBCASE("SHUTDOWN arguments, NOSAVE, SAVE") {
    ServerProcess t = ServerProcess::tessera(tessera_args(dir, 2, {"--save", "3600 1"}));
    RawConnection c(t.port());
    CHECK(call(c, {"SHUTDOWN", "ABORT"}) == "-ERR No shutdown in progress.\r\n");
    CHECK(call(c, {"SHUTDOWN", "NOSAVE", "SAVE"}) == "-ERR syntax error\r\n");
    CHECK(call(c, {"SHUTDOWN", "ABORT", "NOW"}) == "-ERR syntax error\r\n");
    CHECK(call(c, {"SHUTDOWN", "PLEASE"}) == "-ERR syntax error\r\n");
    CHECK(call(c, {"MULTI"}) == "+OK\r\n");
    CHECK(call(c, {"SHUTDOWN"}) == "-ERR Command not allowed inside a transaction\r\n");
    CHECK(call(c, {"SAVE"}) == "-ERR Command not allowed inside a transaction\r\n");
    CHECK(call(c, {"LASTSAVE"}) == "+QUEUED\r\n");
    CHECK(call(c, {"EXEC"}).starts_with("-EXECABORT"));
    CHECK(call(c, {"SET", "k", "v"}) == "+OK\r\n");
    c.send(resp_v({"SHUTDOWN", "NOSAVE"}));
    CHECK(c.read_until_closed(std::chrono::seconds(5)).empty());
    const auto status = t.stop(SIGTERM, std::chrono::seconds(5));
    if (status) CHECK(WEXITSTATUS(*status) == 0);
    CHECK_FALSE(fs::exists(dir.path / "dump.rdb"));
  }
  SUBCASE("SHUTDOWN SAVE without rules writes the file") {
    ServerProcess t = ServerProcess::tessera(tessera_args(dir, 3));
    RawConnection c(t.port());
    CHECK(call(c, {"SET", "k", "v", "PXAT", "4102444800000"}) == "+OK\r\n");
    c.send(resp_v({"SHUTDOWN", "SAVE", "NOW"}));
    CHECK(c.read_until_closed(std::chrono::seconds(5)).empty());
    t.stop(SIGTERM, std::chrono::seconds(5));
    CHECK(read_rdb(dir.path / "dump.rdb") == Keys{{"k", {"v", 4102444800000}}});
  }
}

TEST_CASE("persistence: a directory gone: log line, INFO err, -MISCONF, SHUTDOWN refuses") {
  TempDir parent;
  const fs::path gone = parent.path / "gone";
  fs::create_directory(gone);
  ServerProcess t =
      ServerProcess::tessera({"--shards", "2", "--dir", gone.string(), "--save", "3600 1 300 100"});
  RawConnection c(t.port());
  CHECK(call(c, {"SET", "a", "1"}) == "+OK\r\n");
  fs::remove(gone);
  CHECK(call(c, {"SAVE"}) == "-ERR\r\n");
  CHECK(call(c, {"BGSAVE"}) == "+Background saving started\r\n");
  REQUIRE(eventually([&] { return info_field(c, "rdb_last_bgsave_status") == "err"; }));
  const std::string misconf =
      "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist "
      "to disk. Commands that may modify the data set are disabled, because this instance is "
      "configured to report errors during writes if RDB snapshotting fails "
      "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the "
      "RDB error.\r\n";
  CHECK(call(c, {"SET", "b", "2"}) == misconf);
  CHECK(call(c, {"PING"}) == misconf);
  CHECK(call(c, {"GET", "a"}) == "$1\r\n1\r\n");
  CHECK(t.output().find("Failed opening the temp RDB file") != std::string::npos);
  CHECK(call(c, {"SHUTDOWN"}) == "-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
  CHECK(call(c, {"GET", "a"}) == "$1\r\n1\r\n");
  CHECK(call(c, {"CONFIG", "SET", "stop-writes-on-bgsave-error", "no"}) == "+OK\r\n");
  CHECK(call(c, {"SET", "b", "2"}) == "+OK\r\n");
  CHECK(call(c, {"CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"}) == "+OK\r\n");
  CHECK(call(c, {"SET", "b", "3"}) == misconf);
  CHECK(call(c, {"CONFIG", "SET", "save", ""}) == "+OK\r\n");
  CHECK(call(c, {"SET", "b", "4"}) == "+OK\r\n");
  CHECK(call(c, {"CONFIG", "GET", "save"}) == "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  c.send(resp_v({"SHUTDOWN", "FORCE"}));
  c.read_until_closed(std::chrono::seconds(5));
}

TEST_CASE("persistence: a file-size limit: the previous dump.rdb is left as it was") {
  TempDir dir;
  std::vector<std::string> argv{"prlimit", "--fsize=300000", tessera_server_path(),
                                "--bind",  "127.0.0.1",      "--port"};
  const int port = free_port();
  argv.push_back(std::to_string(port));
  for (const auto& a : tessera_args(dir, 2, {"--save", "3600 1"})) argv.push_back(a);
  ServerProcess t(argv, port);
  RawConnection c(port);
  CHECK(call(c, {"SET", "small", "1"}) == "+OK\r\n");
  CHECK(call(c, {"SAVE"}) == "+OK\r\n");
  const std::string good = slurp(dir.path / "dump.rdb");
  std::mt19937_64 rng(9);
  std::string big(400000, '\0');
  for (char& ch : big) ch = static_cast<char>(rng());  // incompressible
  CHECK(call(c, {"SET", "big", big}) == "+OK\r\n");
  CHECK(call(c, {"BGSAVE"}) == "+Background saving started\r\n");
  wait_bgsave_done(c);
  CHECK(info_field(c, "rdb_last_bgsave_status") == "err");
  CHECK(call(c, {"SET", "x", "1"}).starts_with("-MISCONF"));
  CHECK(t.output().find("File too large") != std::string::npos);
  CHECK(slurp(dir.path / "dump.rdb") == good);
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename() == "dump.rdb");
  c.send(resp_v({"SHUTDOWN", "NOSAVE"}));
  c.read_until_closed(std::chrono::seconds(5));
}
