// RESP3 live: the steps of tests/server/resp3/steps.txt sent over TCP, after HELLO 3, to a
// redis-server 7.0.15 and a tessera-server (4 shards) started here, each reply's bytes compared as
// the step's mode says (resp3/compare.hpp) the moment both arrive. The server test replays the
// same steps against bytes recorded once; this one needs no recording, so a step added to
// steps.txt is checked against the Redis on this machine at once. Without redis-server the test
// says so and checks nothing.
#include <doctest/doctest.h>

#include <tessera/protocol/reply_reader.hpp>

#include "e2e_util.hpp"
#include "resp3/compare.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using namespace tessera::test;
using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;

namespace {

bool on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((std::filesystem::path(dir) / program).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

// A connection that reads one whole reply at a time and returns its exact bytes.
class ReplyConnection {
 public:
  explicit ReplyConnection(int port) : raw_(port) {}

  std::string call(const std::vector<std::string>& args) {
    std::string request = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) request += bulk(a);
    raw_.send(request);
    return read_reply();
  }

 private:
  // Feeds what arrives to a ReplyReader until it completes a reply; the reply's bytes are those it
  // consumed (what it fed minus what it still buffers).
  std::string read_reply() {
    Reply r;
    for (;;) {
      const auto status = reader_.next(r);
      if (status == ReplyReader::Status::kReply) break;
      if (status == ReplyReader::Status::kError) throw std::runtime_error("malformed reply");
      pollfd p{.fd = raw_.fd(), .events = POLLIN, .revents = 0};
      if (::poll(&p, 1, 10000) <= 0) throw std::runtime_error("no reply within 10 s");
      char buf[65536];
      const ssize_t n = ::recv(raw_.fd(), buf, sizeof buf, 0);
      if (n <= 0) throw std::runtime_error("connection closed before a whole reply");
      pending_.append(buf, static_cast<std::size_t>(n));
      reader_.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    const std::size_t used = pending_.size() - reader_.buffered();
    std::string reply = pending_.substr(0, used);
    pending_.erase(0, used);
    return reply;
  }

  RawConnection raw_;
  ReplyReader reader_;
  std::string pending_;  // bytes fed to reader_ and not yet returned
};

struct Step {
  std::string mode;
  std::vector<std::string> args;
};

std::vector<Step> read_steps(const std::string& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot read ", file);
  std::vector<Step> steps;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line.front() == '#') continue;
    const auto bar = line.find('|');
    REQUIRE(bar != std::string::npos);
    Step step{line.substr(0, bar), {}};
    std::stringstream words(line.substr(bar + 1));
    for (std::string w; std::getline(words, w, ' ');) step.args.push_back(w);
    steps.push_back(std::move(step));
  }
  return steps;
}

}  // namespace

TEST_CASE("RESP3 live: steps.txt over TCP, tessera-server's bytes against redis-server's") {
  if (!on_path("redis-server")) {
    MESSAGE(
        "SKIPPED: redis-server is not on PATH (Debian's redis-server 7.0.15 is the reference; "
        "scripts/setup test installs it)");
    return;
  }
  const std::vector<Step> steps = read_steps(TESSERA_RESP3_STEPS);
  REQUIRE(steps.size() > 50);
  auto redis = ServerProcess::redis();
  auto tessera = start_tessera(4);
  ReplyConnection r(redis.port()), t(tessera.port());
  // As record.py does: a fresh keyspace, then HELLO 3.
  for (ReplyConnection* c : {&r, &t}) {
    REQUIRE(c->call({"FLUSHALL"}) == "+OK\r\n");
    REQUIRE(c->call({"HELLO", "3"}).starts_with("%7\r\n"));
  }
  std::size_t compared = 0;
  for (const Step& step : steps) {
    std::string command;
    for (const auto& arg : step.args) command += arg + " ";
    CAPTURE(step.mode);
    CAPTURE(command);
    const std::string theirs = r.call(step.args);
    const std::string ours = t.call(step.args);
    CAPTURE(ours);
    CAPTURE(theirs);
    resp3::check_step(step.mode, ours, theirs);
    ++compared;
  }
  CHECK(compared == steps.size());
  MESSAGE(compared, " steps compared live with redis-server");
}
