// Operating Tessera like Redis (issue 20), against the real process: the config file and flags
// (Redis's positional form, Debian's stock redis.conf, refusals with exit status 1), start-up
// errors in words, several bind addresses, CONFIG REWRITE, the shutdown log.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "e2e_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

namespace {

std::string temp_dir() {
  std::string dir = "/tmp/tessera-operating-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("e2e operating: a typo in the config file stops the start, naming file and line") {
  const std::string dir = temp_dir();
  const std::string conf = dir + "/typo.conf";
  std::ofstream(conf) << "port " << free_port() << "\nrequirepas secret\n";
  auto r = run_command({tessera_server_path(), conf}, {}, 10s);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("Reading the configuration file " + conf + ", at line 2") != std::string::npos);
  CHECK(r.err.find(">>> 'requirepas secret'") != std::string::npos);
  CHECK(r.err.find("Bad directive or wrong number of arguments") != std::string::npos);
  // Bad flags exit 1 too, with the same validation as CONFIG SET (the issue: 2^64-1 accepted).
  for (std::vector<std::string> flags : {std::vector<std::string>{"--timeout", "-1"},
                                         {"--no-such-flag", "x"},
                                         {"--maxmemory", "lots"},
                                         {"--shards", "0"}}) {
    std::vector<std::string> argv{tessera_server_path()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto f = run_command(argv, {}, 10s);
    CAPTURE(flags[0]);
    CHECK(f.exit_code == 1);
    CHECK(f.err.find("FATAL CONFIG FILE ERROR") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("e2e operating: a taken port is reported in words, exit 1") {
  auto first = ServerProcess::tessera({"--shards", "1"});
  const std::string port = std::to_string(first.port());
  auto r = run_command({tessera_server_path(), "--port", port, "--shards", "1"}, {}, 10s);
  CHECK(r.exit_code == 1);
  const std::string all = r.out + r.err;
  CHECK(all.find("Could not listen on 127.0.0.1:" + port + ": address already in use") !=
        std::string::npos);
  CHECK(all.find(".hpp") == std::string::npos);  // no source paths
  CHECK(all.find(".ipp") == std::string::npos);
}

TEST_CASE("e2e operating: Debian's stock redis.conf, several bind addresses, CONFIG REWRITE") {
  const std::string stock = "/etc/redis/redis.conf";
  if (!std::filesystem::exists(stock)) {
    MESSAGE("no " << stock << " (Debian's redis-server not installed): skipped");
    return;
  }
  const std::string dir = temp_dir();
  const std::string conf = dir + "/redis.conf";
  std::filesystem::copy_file(stock, conf, std::filesystem::copy_options::overwrite_existing);
  const int port = free_port();
  // As shipped it asks to daemonize, which Tessera refuses, naming the line.
  auto refused =
      run_command({tessera_server_path(), conf, "--port", std::to_string(port)}, {}, 10s);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find(">>> 'daemonize yes'") != std::string::npos);
  // With the overrides redis-server itself needs to run as a plain user, it starts and honours
  // `bind 127.0.0.1 -::1`, pidfile, logfile and dir.
  const std::string pidfile = dir + "/tessera.pid", logfile = dir + "/tessera.log";
  {
    ServerProcess server(
        {tessera_server_path(), conf, "--port", std::to_string(port), "--daemonize", "no",
         "--pidfile", pidfile, "--logfile", logfile, "--dir", dir, "--shards", "2"},
        port);
    CHECK(eventually([&] { return std::filesystem::exists(pidfile); }));
    CHECK(read_text(pidfile) == std::to_string(server.pid()) + "\n");
    RawConnection c(server.port());
    CHECK(c.roundtrip("CONFIG GET bind\r\n", 39) ==
          "*2\r\n$4\r\nbind\r\n$14\r\n127.0.0.1 -::1\r\n");
    CHECK(c.roundtrip("CONFIG GET loglevel\r\n", 33) == "*2\r\n$8\r\nloglevel\r\n$6\r\nnotice\r\n");
    const std::string refused_timeout =
        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be "
        "between 0 and 2147483647 inclusive\r\n";
    CHECK(c.roundtrip("CONFIG SET timeout -1\r\n", refused_timeout.size()) == refused_timeout);
    CHECK(c.roundtrip("CONFIG SET timeout 77\r\n", 5) == "+OK\r\n");
    CHECK(c.roundtrip("CONFIG REWRITE\r\n", 5) == "+OK\r\n");
    CHECK(c.roundtrip("SET k v\r\n", 5) == "+OK\r\n");
    auto status = server.stop(SIGTERM);
    REQUIRE(status);
    CHECK(WEXITSTATUS(*status) == 0);
    const std::string log = read_text(logfile);
    CHECK(log.find("Ready to accept connections tcp on 127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);
    CHECK(log.find("(2 shards)") != std::string::npos);
    // The stock file keeps Redis's default save rules: SIGTERM saved the key into dir.
    CHECK(log.find("Saving the final RDB snapshot before exiting.") != std::string::npos);
    CHECK(std::filesystem::exists(dir + "/dump.rdb"));
    CHECK_FALSE(std::filesystem::exists(pidfile));  // removed at exit
  }
  // The rewrite kept the stock file's comments and lines and recorded the new timeout (and the
  // command line's values, as redis-server does).
  const std::string rewritten = read_text(conf);
  CHECK(rewritten.find("\ntimeout \"77\"\n") != std::string::npos);
  CHECK(rewritten.find("\ndaemonize \"no\"\n") == std::string::npos);  // inert rows untouched
  CHECK(rewritten.find("# Note on units:") != std::string::npos);
  CHECK(rewritten.find("\nport \"" + std::to_string(port) + "\"\n") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("e2e operating: every bind address is listened on") {
  const int port = free_port();
  ServerProcess server({tessera_server_path(), "--bind", "127.0.0.1", "127.0.0.2", "-::1", "--port",
                        std::to_string(port), "--shards", "1"},
                       port);
  for (const char* host : {"127.0.0.1", "127.0.0.2"}) {
    auto r = run_command({"redis-cli", "-h", host, "-p", std::to_string(port), "ping"}, {}, 10s);
    CAPTURE(host);
    CHECK(r.out == "PONG\n");
  }
}

TEST_CASE("e2e operating: a killed test binary leaves no server behind (PR_SET_PDEATHSIG)") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Stands in for a test binary: starts a server, then dies without running any destructor.
    ::close(fds[0]);
    auto server = ServerProcess::tessera({"--shards", "1"});
    const pid_t pid = server.pid();
    if (::write(fds[1], &pid, sizeof pid) != sizeof pid) ::_exit(1);
    ::kill(::getpid(), SIGKILL);
  }
  ::close(fds[1]);
  pid_t server_pid = -1;
  REQUIRE(::read(fds[0], &server_pid, sizeof server_pid) == sizeof server_pid);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  // Gone, or a zombie waiting for init to reap it: no longer running either way.
  auto running = [&] {
    std::ifstream stat("/proc/" + std::to_string(server_pid) + "/stat");
    std::string pid, comm, state;
    if (!(stat >> pid >> comm >> state)) return false;
    return state != "Z" && state != "X";
  };
  CHECK(eventually([&] { return !running(); }));
  if (running()) ::kill(server_pid, SIGKILL);
}

TEST_CASE("e2e operating: the shutdown log says what happens to the keys in memory") {
  // Without save rules (the launcher passes --save ""): the keys are dropped, and the log says so.
  {
    auto server = start_tessera(1);
    RawConnection c(server.port());
    CHECK(c.roundtrip(resp({"SET", "a", "1"}), 5) == "+OK\r\n");
    CHECK(c.roundtrip(resp({"SET", "b", "1"}), 5) == "+OK\r\n");
    const auto status = server.stop(SIGINT);
    REQUIRE(status.has_value());
    CHECK(WIFEXITED(*status));
    const std::string log = server.output();
    CHECK(log.find("(1 shard)") != std::string::npos);  // not "(1 shards)"
    CHECK(log.find("Not saving: no save rules (save \"\"); the 2 keys in memory are dropped") !=
          std::string::npos);
  }
  // With save rules the final snapshot is saved instead, and nothing is said to be dropped.
  {
    auto server = start_tessera(2, {"--save", "3600 1"});
    RawConnection c(server.port());
    CHECK(c.roundtrip(resp({"SET", "a", "1"}), 5) == "+OK\r\n");
    server.stop(SIGINT);
    const std::string log = server.output();
    CHECK(log.find("(2 shards)") != std::string::npos);
    CHECK(log.find("DB saved on disk (1 keys") != std::string::npos);
    CHECK(log.find("dropped") == std::string::npos);
  }
}
