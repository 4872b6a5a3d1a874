// Limits and operations against the real process: maxclients, idle timeout, query buffer limit,
// clients that never read, AUTH, maxmemory, protected mode, and shutdown on SIGTERM.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.hpp"
#include "reliability_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

TEST_CASE("e2e limits: maxclients answers Redis's error and closes then recovers") {
  auto server = start_tessera(2, {"--maxclients", "3"});
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawConnection>(server.port()));
    CHECK(held.back()->roundtrip("PING\r\n", 7) == "+PONG\r\n");
  }
  RawConnection extra(server.port());
  CHECK(extra.read_until_closed() == "-ERR max number of clients reached\r\n");
  held.pop_back();
  CHECK(eventually([&] {
    RawConnection again(server.port());
    again.send("PING\r\n");
    return again.read_exactly(7, 1s) == "+PONG\r\n";
  }));
}

TEST_CASE("e2e limits: timeout closes idle clients not active ones") {
  auto server = start_tessera(2, {"--timeout", "1"});
  RawConnection idle(server.port());
  RawConnection active(server.port());
  CHECK(idle.roundtrip("PING\r\n", 7) == "+PONG\r\n");
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 3500ms) {
    CHECK(active.roundtrip("PING\r\n", 7) == "+PONG\r\n");
    std::this_thread::sleep_for(250ms);
  }
  CHECK(idle.closed_by_peer(1s));
  CHECK(active.roundtrip("PING\r\n", 7) == "+PONG\r\n");
}

TEST_CASE("e2e limits: the query buffer limit closes the client with a log line others go on") {
  auto server = start_tessera(2, {"--client-query-buffer-limit", "1mb"});
  RawConnection big(server.port());
  RawConnection other(server.port());
  big.send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n");
  std::string chunk(256 * 1024, 'x');
  bool closed = false;
  for (int i = 0; i < 8 && !closed; ++i) {
    if (::send(big.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) closed = true;
  }
  CHECK(big.read_until_closed(5s).empty());  // no reply, just closed
  CHECK(other.roundtrip("PING\r\n", 7) == "+PONG\r\n");
  CHECK(eventually(
      [&] { return server.output().find("max query buffer length") != std::string::npos; }));
}

TEST_CASE("e2e limits: a client that never reads keeps the server's memory bounded") {
  auto server = start_tessera(2);
  RawConnection setup(server.port());
  const std::string value(100 * 1024, 'v');
  CHECK(setup.roundtrip(resp({"SET", "big", value}), 5) == "+OK\r\n");
  const auto rss_before = rss_kb(server.pid());
  RawConnection reader_never(server.port());
  int small = 4096;  // keep the kernel's buffering small too, so the server's part shows
  ::setsockopt(reader_never.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string req;
  for (int i = 0; i < 2000; ++i) req += resp({"GET", "big"});  // 200 MB of replies
  reader_never.send(req);
  std::this_thread::sleep_for(500ms);
  const auto rss_after = rss_kb(server.pid());
  CHECK(rss_after - rss_before < 32 * 1024);  // far below the 200 MB Redis would buffer
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(setup.roundtrip("PING\r\n", 7) == "+PONG\r\n");  // everyone else is served
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(open_fds(server.pid()) < 64);
}

TEST_CASE("e2e limits: requirepass gates every command behind AUTH") {
  auto server = start_tessera(2, {"--requirepass", "pw"});
  RawConnection c(server.port());
  const std::string want =
      "-NOAUTH Authentication required.\r\n"
      "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
      "+OK\r\n+OK\r\n$1\r\nv\r\n";
  c.send(resp({"SET", "k", "v"}) + resp({"AUTH", "nope"}) + resp({"AUTH", "pw"}) +
         resp({"SET", "k", "v"}) + resp({"GET", "k"}));
  CHECK(c.read_exactly(want.size()) == want);
  auto cli = run_command({"redis-cli", "-p", std::to_string(server.port()), "-a", "pw",
                          "--no-auth-warning", "get", "k"});
  CHECK(cli.exit_code == 0);
  CHECK(cli.out == "v\n");
}

TEST_CASE("e2e limits: maxmemory refuses writes with -OOM and reads and deletes work") {
  auto server = start_tessera(2, {"--maxmemory", "1mb"});
  RawConnection c(server.port());
  const std::string value(1000, 'x');
  std::string req;
  for (int i = 0; i < 3000; ++i) req += resp({"SET", "oom:" + std::to_string(i), value});
  c.send(req);
  std::string replies = c.read_available(300ms, 10s);
  CHECK(replies.find("-OOM command not allowed when used memory > 'maxmemory'.\r\n") !=
        std::string::npos);
  CHECK(c.roundtrip(resp({"GET", "oom:1"}), bulk(value).size()) == bulk(value));
  CHECK(c.roundtrip(resp({"DEL", "oom:1"}), 4) == ":1\r\n");
  CHECK(c.roundtrip(resp({"FLUSHALL"}), 5) == "+OK\r\n");
  CHECK(c.roundtrip(resp({"SET", "after", "v"}), 5) == "+OK\r\n");
}

TEST_CASE("e2e limits: protected mode refuses a non-loopback bind without a password") {
  // It refuses before binding anything: nothing ever listens beyond loopback.
  auto r = run_command(
      {tessera_server_path(), "--bind", "0.0.0.0", "--port", std::to_string(free_port())}, {}, 10s);
  CHECK(r.exit_code == 1);
  CHECK((r.out + r.err).find("protected mode") != std::string::npos);
  auto help = run_command({tessera_server_path(), "--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("--maxmemory") != std::string::npos);
  auto version = run_command({tessera_server_path(), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.find("tessera-server") != std::string::npos);
}

TEST_CASE("e2e limits: SIGTERM under load exits 0 within a second replies delivered") {
  for (int signo : {SIGTERM, SIGINT}) {
    auto server = start_tessera(2);
    CHECK(eventually(
        [&] { return server.output().find("Ready to accept connections") != std::string::npos; }));
    RawConnection busy(server.port());
    RawConnection idle(server.port());
    std::string req;
    for (int i = 0; i < 5000; ++i) req += resp({"SET", "s:" + std::to_string(i), "v"});
    busy.send(req);
    CHECK(busy.read_exactly(5 * 5000, 10s).size() == 5 * 5000);
    const auto t0 = std::chrono::steady_clock::now();
    auto status = server.stop(signo, 3s);
    REQUIRE(status.has_value());
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
    CHECK(idle.closed_by_peer(1s));
  }
}

// Issue 21 item 4: a connection that sent one large request and then stays idle gives the input
// buffer back (it used to wait for its next request holding it: prepare() keeps a big buffer the
// round just needed, and the last read of the request ends exactly at its end). Checked to fail
// before: RSS stayed about 32 MB above the baseline while the connection was idle.
TEST_CASE("e2e limits: an idle connection gives back the buffer a large request grew") {
  auto server = start_tessera(1);
  RawConnection c(server.port());
  CHECK(c.roundtrip("PING\r\n", 7) == "+PONG\r\n");
  const auto rss_before = rss_kb(server.pid());
  const std::string key(32 * 1024 * 1024, 'k');
  CHECK(c.roundtrip(resp({"EXISTS", key}), 4) == ":0\r\n");
  // Idle from here on: within the idle tick (2 s) the server is back near where it started.
  // (Under ASan freed memory stays in its quarantine: there the flow runs, the RSS is not judged.)
  std::int64_t held = 0;
  const bool back = eventually(
      [&] {
        held = rss_kb(server.pid()) - rss_before;
        return held < 8 * 1024;
      },
      5s);
  MESSAGE("RSS held by the idle connection: " << held << " kB");
  if (!kSanitized) CHECK(back);
  CHECK(c.roundtrip("PING\r\n", 7) == "+PONG\r\n");  // and it still works
}

// Issue 21 item 6: a client that is still receiving a long reply is not idle. With --timeout 2 a
// slow reader takes several seconds to receive 40 MB; every partial write counts as activity
// (checked to fail before: the idle sweep closed it mid-reply, as only a whole write counted).
// The idle clock ticks once a second, so a connection may go without progress for up to about
// the timeout: 2 s leaves room for a loaded machine.
TEST_CASE("e2e limits: the idle timeout spares a client slowly receiving a long reply") {
  auto server = start_tessera(1, {"--timeout", "2"});
  RawConnection setup(server.port());
  const std::string value(40 * 1024 * 1024, 'v');
  CHECK(setup.roundtrip(resp({"SET", "big", value}), 5) == "+OK\r\n");
  RawConnection slow(server.port());
  int small = 16 * 1024;
  ::setsockopt(slow.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  slow.send(resp({"GET", "big"}));
  const std::size_t want = bulk(value).size();
  std::size_t got = 0;
  const auto t0 = std::chrono::steady_clock::now();
  char buf[64 * 1024];
  while (got < want && std::chrono::steady_clock::now() - t0 < 60s) {
    const ssize_t n = ::recv(slow.fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;  // closed by the server
    if (n > 0) got += static_cast<std::size_t>(n);
    std::this_thread::sleep_for(5ms);  // about 6 MB/s at most: several seconds for the reply
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  MESSAGE("received " << got << " of " << want << " bytes in "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms");
  CHECK(took > 4s);  // long enough for the idle sweep to have struck
  CHECK(got == want);
  CHECK(slow.roundtrip("PING\r\n", 7) == "+PONG\r\n");
}

// Issue 21 item 7: SIGTERM while long KEYS jobs of many connections are queued on every shard:
// the shards stop, then the queued handlers (owning coroutines of connections homed on other
// shards) are destroyed before any shard is. Under ASan, checked to fail before (a use after free
// when shard 0 was destroyed while shard 1 still queued a hop of one of shard 0's connections).
TEST_CASE("e2e limits: SIGTERM with long KEYS queued on every shard exits cleanly") {
  auto server = start_tessera(4);
  {
    RawConnection loader(server.port());
    std::string req;
    for (int batch = 0; batch < 200; ++batch) {
      req += "*" + std::to_string(1 + 2 * 1000) + "\r\n$4\r\nMSET\r\n";
      for (int i = 0; i < 1000; ++i) {
        const std::string k = "keys:" + std::to_string(batch * 1000 + i);
        req += bulk(k) + bulk("v");
      }
    }
    loader.send(req);
    CHECK(loader.read_exactly(5 * 200, 60s).size() == 5 * 200);
  }
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 48; ++i) {
    clients.push_back(std::make_unique<RawConnection>(server.port()));
    std::string req;
    for (int j = 0; j < 4; ++j) req += resp({"KEYS", "*"});
    clients.back()->send(req);
  }
  std::this_thread::sleep_for(300ms);
  auto status = server.stop(SIGTERM, 20s);
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  const std::string log = server.output();
  CHECK(log.find("AddressSanitizer") == std::string::npos);
  CHECK(log.find("bye bye") != std::string::npos);
}
