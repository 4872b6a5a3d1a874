// Flags, config file, units and the start-up refusals.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <tessera/server/config/config.hpp>
#include <tessera/server/config/parameters.hpp>
#include <vector>

using namespace tessera::server;

namespace {
ParseOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "tessera-server");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return parse_config(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST_CASE("config: memory units") {
  CHECK(parse_memory("0") == 0u);
  CHECK(parse_memory("100") == 100u);
  CHECK(parse_memory("1k") == 1000u);
  CHECK(parse_memory("1kb") == 1024u);
  CHECK(parse_memory("5MB") == 5u * 1024 * 1024);
  CHECK(parse_memory("2g") == 2000000000u);
  CHECK(parse_memory("1gb") == 1024ull * 1024 * 1024);
  CHECK_FALSE(parse_memory(""));
  CHECK_FALSE(parse_memory("mb"));
  CHECK_FALSE(parse_memory("12xb"));
  CHECK_FALSE(parse_memory("-1"));
}

TEST_CASE("config: defaults and flags") {
  auto d = parse({});
  REQUIRE(d.config);
  CHECK(d.config->bind == std::vector<std::string>{"127.0.0.1"});
  CHECK(d.config->port == 6379);
  CHECK(d.config->shards >= 1);
  CHECK(d.config->protected_mode);
  CHECK(d.config->client_query_buffer_limit == 1024ull * 1024 * 1024);

  auto f = parse({"--port", "7000", "--shards", "4", "--maxmemory", "100mb", "--timeout", "30",
                  "--protected-mode", "no", "--requirepass", "pw", "--maxclients", "50"});
  REQUIRE(f.config);
  CHECK(f.config->port == 7000);
  CHECK(f.config->shards == 4);
  CHECK(f.config->maxmemory == 100u * 1024 * 1024);
  CHECK(f.config->timeout == 30u);
  CHECK_FALSE(f.config->protected_mode);
  CHECK(f.config->requirepass == "pw");
  CHECK(f.config->maxclients == 50u);
  CHECK(f.config->describe().find("requirepass=(set)") != std::string::npos);
  CHECK(f.config->describe().find("pw") == std::string::npos);  // never logs the password
}

TEST_CASE("config: help version and bad flags exit without a config") {
  auto h = parse({"--help"});
  CHECK_FALSE(h.config);
  CHECK(h.exit_code == 0);
  CHECK(h.message.find("--shards") != std::string::npos);
  auto v = parse({"--version"});
  CHECK_FALSE(v.config);
  CHECK(v.message.find("tessera-server") != std::string::npos);
  auto bad = parse({"--no-such-flag"});
  CHECK_FALSE(bad.config);
  CHECK(bad.exit_code != 0);
  auto badmem = parse({"--maxmemory", "lots"});
  CHECK_FALSE(badmem.config);
  CHECK(badmem.exit_code != 0);
}

TEST_CASE("config: redis.conf-style file command line wins") {
  const std::string path = "/tmp/tessera-config-test-" + std::to_string(::getpid()) + ".conf";
  {
    std::ofstream f(path);
    f << "# a comment\nport 7001\nmaxmemory 2mb\ntimeout 9\nrequirepass \"secret\"\n";
  }
  auto c = parse({"--config", path, "--timeout", "3"});
  std::remove(path.c_str());
  REQUIRE(c.config);
  CHECK(c.config->port == 7001);
  CHECK(c.config->maxmemory == 2u * 1024 * 1024);
  CHECK(c.config->timeout == 3u);
  CHECK(c.config->requirepass == "secret");
  CHECK(c.config->config_file == path);  // already absolute
}

// Issue 21 item 8: the container passes the password in a file, never on the command line.
TEST_CASE("config: --requirepass-file reads the password's first line") {
  const std::string path = "/tmp/tessera-password-test-" + std::to_string(::getpid());
  auto write = [&](std::string_view text) { std::ofstream(path, std::ios::binary) << text; };
  write("pw with spaces\r\nsecond line\n");
  auto c = parse({"--requirepass-file", path});
  REQUIRE(c.config);
  CHECK(c.config->requirepass == "pw with spaces");
  write("nl\n");
  CHECK(parse({"--requirepass-file", path}).config->requirepass == "nl");
  // Like any two directives for the password, the later one wins.
  CHECK(parse({"--requirepass-file", path, "--requirepass", "x"}).config->requirepass == "x");
  CHECK(parse({"--requirepass", "x", "--requirepass-file", path}).config->requirepass == "nl");
  write("\n");
  auto empty = parse({"--requirepass-file", path});
  CHECK_FALSE(empty.config);
  CHECK(empty.exit_code == 1);
  std::remove(path.c_str());
  auto missing = parse({"--requirepass-file", path});
  CHECK_FALSE(missing.config);
  CHECK(missing.message.find("--requirepass-file") != std::string::npos);
}

// The container hands the password over as a pipe (/dev/fd/3), which can be read only once: the
// check and the set of the parameter must not both read it (checked to fail before: the check
// drained the pipe and the server started without the password).
TEST_CASE("config: --requirepass-file reads a pipe once") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const std::string text = "from a pipe\n";
  REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fds[1]);
  auto c = parse({"--requirepass-file", "/dev/fd/" + std::to_string(fds[0])});
  ::close(fds[0]);
  REQUIRE(c.config);
  CHECK(c.config->requirepass == "from a pipe");
}

TEST_CASE("config: protected mode and range checks") {
  Config c;
  c.shards = 2;
  CHECK(validate(c).empty());
  c.bind = {"127.0.0.1", "-::1", "0.0.0.0"};
  CHECK(validate(c).find("protected mode") != std::string::npos);
  c.requirepass = "pw";
  CHECK(validate(c).empty());
  c.requirepass.clear();
  c.protected_mode = false;
  CHECK(validate(c).empty());
  CHECK_FALSE(parse({"--shards", "0"}).config);
  CHECK_FALSE(parse({"--shards", "1025"}).config);
  CHECK(parse({"--shards", "1024"}).config);
  CHECK(is_loopback_address("127.0.0.1"));
  CHECK(is_loopback_address("127.1.2.3"));
  CHECK(is_loopback_address("::1"));
  CHECK(is_loopback_address("localhost"));
  CHECK_FALSE(is_loopback_address("10.0.0.1"));
  CHECK_FALSE(is_loopback_address("::"));
}

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = "/tmp/tessera-config-test-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST_CASE("config: Redis's sdssplitargs quoting") {
  using V = std::vector<std::string>;
  CHECK(split_config_args("bind 127.0.0.1 -::1") == V{"bind", "127.0.0.1", "-::1"});
  CHECK(split_config_args("  requirepass \"a b\\\"c\\x41\\n\"  ") == V{"requirepass", "a b\"cA\n"});
  CHECK(split_config_args("logfile ''") == V{"logfile", ""});
  CHECK(split_config_args("x 'it\\'s'") == V{"x", "it's"});
  CHECK(split_config_args("notify-keyspace-events \"\"") == V{"notify-keyspace-events", ""});
  CHECK_FALSE(split_config_args("bind 1 \"2"));
  CHECK_FALSE(split_config_args("a \"b\"c"));  // a closing quote must end the word
  CHECK_FALSE(split_config_args("a 'b"));
}

TEST_CASE("config: a typo or a bad value refuses to start, naming file, line and reason") {
  // The findings: `requirepas` and `maxmemroy` used to start silently without a password
  // or a limit.
  for (const char* line : {"requirepas secret", "maxmemroy 100mb"}) {
    const std::string path = write_temp("typo.conf", std::string("port 7001\n\n") + line + "\n");
    auto c = parse({path});
    std::remove(path.c_str());
    CHECK_FALSE(c.config);
    CHECK(c.exit_code == 1);
    CHECK(c.message.find(path + ", at line 3") != std::string::npos);
    CHECK(c.message.find(std::string(">>> '") + line + "'") != std::string::npos);
    CHECK(c.message.find("Bad directive or wrong number of arguments") != std::string::npos);
  }
  struct Case {
    const char* line;
    const char* reason;
  } cases[] = {
      {"maxmemory lots", "argument must be a memory value"},
      {"timeout -1", "argument must be between 0 and 2147483647 inclusive"},
      {"port 70000", "argument must be between 0 and 65535 inclusive"},
      {"protected-mode maybe", "argument must be 'yes' or 'no'"},
      {"loglevel loud",
       "argument(s) must be one of the following: debug, verbose, notice, warning"},
      {"bind 1 \"2", "Unbalanced quotes in configuration line"},
      {"port 1 2", "wrong number of arguments"},
      {"appendfsync sometimes", "argument(s) must be one of the following: always, everysec, no"},
      {"appenddirname a/b", "appendfilename/appenddirname can't be a path, just a filename"},
      {"daemonize yes", "accepts 'daemonize' only at Redis's default 'no'"},
      {"save 900", "Invalid save parameters"},
      {"save 0 1", "Invalid save parameters"},
      {"dbfilename a/dump.rdb", "dbfilename can't be a path, just a filename"},
      {"client-output-buffer-limit normal 1mb 0 0", "reply-chunk-bytes"},
  };
  for (const auto& k : cases) {
    CAPTURE(k.line);
    const std::string path = write_temp("bad.conf", std::string(k.line) + "\n");
    auto c = parse({path});
    std::remove(path.c_str());
    CHECK_FALSE(c.config);
    CHECK(c.exit_code == 1);
    CHECK(c.message.find(k.reason) != std::string::npos);
  }
}

TEST_CASE("config: flags share the file's validation and exit 1") {
  for (std::vector<std::string> argv : {std::vector<std::string>{"--timeout", "-1"},
                                        {"--no-such-flag", "1"},
                                        {"--maxmemory", "lots"},
                                        {"--port"},
                                        {"stray"},
                                        {"--port", "1", "stray-after-file?"}}) {
    auto c = parse(argv);
    CAPTURE(argv[0]);
    if (argv[0] == "stray") {
      // A first word without "--" is the config file (Redis's positional form): missing here.
      CHECK(c.message.find("can't open config file 'stray'") != std::string::npos);
    }
    CHECK_FALSE(c.config);
    CHECK(c.exit_code == 1);
  }
  auto t = parse({"--timeout", "-1"});
  CHECK(t.message.find("argument must be between 0 and 2147483647 inclusive") != std::string::npos);
}

TEST_CASE("config: the positional form, include, Redis's names and the command line winning") {
  const std::string inc = write_temp("inc.conf", "maxmemory 3mb\nloglevel warning\n");
  const std::string path =
      write_temp("main.conf", "# Debian-style\nbind 127.0.0.1 -::1\nport 7002\ninclude " + inc +
                                  "\nsave \"\"\nappendonly no\ndatabases 16\ndaemonize yes\n"
                                  "client-output-buffer-limit normal 0 0 0\n"
                                  "client-output-buffer-limit replica 256mb 64mb 60\n");
  auto c = parse({path, "--port", "7003", "--daemonize", "no", "--log-level", "verbose"});
  std::remove(path.c_str());
  std::remove(inc.c_str());
  REQUIRE(c.config);
  CHECK(c.config->bind == std::vector<std::string>{"127.0.0.1", "-::1"});
  CHECK(c.config->port == 7003);
  CHECK(c.config->maxmemory == 3u * 1024 * 1024);
  CHECK(c.config->loglevel == "verbose");
  CHECK(c.config->config_file == path);
}

TEST_CASE("config: every parameter's default passes its own validation and reads back") {
  Config c;
  for (const auto& p : parameters()) {
    CAPTURE(p.name);
    const std::string v = parameter_value(c, p);
    if (p.name == "shards" || p.name == "dir") continue;  // resolved at start-up
    CHECK(check_parameter(p, v) == "");
    Config copy = c;
    CHECK(apply_parameter(copy, p, v) == "");
    CHECK(parameter_value(copy, p) == v);
    if (p.flags & kParamInert) CHECK((p.set == nullptr));  // nothing behind it to set
    if (p.flags & kParamMutable) CHECK((p.publish != nullptr));
  }
  CHECK(find_parameter("LOG-LEVEL") == find_parameter("loglevel"));
  CHECK(find_parameter("slave-read-only") == find_parameter("replica-read-only"));
  CHECK(find_parameter("nope") == nullptr);
}

TEST_CASE("config: CONFIG REWRITE keeps comments and unknown-to-it lines, updates and appends") {
  const std::string path =
      write_temp("rewrite.conf", "# keep me\nport 7004\ntimeout 5\ntimeout 6\ndaemonize no\n");
  auto c = parse({path});
  REQUIRE(c.config);
  c.config->timeout = 42;
  c.config->maxmemory = 1024 * 1024;
  CHECK(rewrite_config_file(*c.config) == "");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text ==
        "# keep me\nport \"7004\"\ntimeout \"42\"\ndaemonize no\n\n"
        "# Generated by CONFIG REWRITE\nmaxmemory \"1048576\"\n");
  auto again = parse({path});
  std::remove(path.c_str());
  REQUIRE(again.config);
  CHECK(again.config->timeout == 42u);
  CHECK(again.config->maxmemory == 1024u * 1024);
  Config none;
  CHECK(rewrite_config_file(none) == "The server is running without a config file");
}
