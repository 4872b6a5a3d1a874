// The Prometheus endpoint (issue 20) against the real process: metrics_scrape.py scrapes it,
// parses it with python3-prometheus-client's parser, checks that counters move by what commands
// did, and checks the HTTP errors and bounds. With --metrics-port and with the config file's
// metrics-port directive; off (nothing listening) by default.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "e2e_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

namespace {

bool have_parser() {
  return run_command({"/usr/bin/python3", "-c", "import prometheus_client.parser, redis"})
             .exit_code == 0;
}

// With http_checks, the HTTP errors and bounds too (a slow client's 408 takes 10 s).
void run_scrape_script(const ServerProcess& server, int metrics_port, unsigned shards,
                       bool http_checks) {
  std::vector<std::string> argv{"/usr/bin/python3", TESSERA_E2E_DIR "/metrics_scrape.py",
                                std::to_string(server.port()), std::to_string(metrics_port),
                                std::to_string(shards)};
  if (!http_checks) argv.emplace_back("scrape-only");
  auto r = run_command(argv, {}, 90s);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("metrics endpoint OK") != std::string::npos);
}

}  // namespace

TEST_CASE("e2e metrics: --metrics-port serves /metrics, parsed by prometheus_client") {
  if (!have_parser()) {
    MESSAGE("SKIPPED: /usr/bin/python3 lacks prometheus_client or redis (scripts/setup test)");
    return;
  }
  const int metrics_port = free_port();
  auto server = start_tessera(3, {"--metrics-port", std::to_string(metrics_port)});
  CHECK(server.output().find("Prometheus metrics on 127.0.0.1:" + std::to_string(metrics_port)) !=
        std::string::npos);
  run_scrape_script(server, metrics_port, 3, true);
}

TEST_CASE("e2e metrics: the config file's metrics-port and metrics-bind; off by default") {
  if (!have_parser()) {
    MESSAGE("SKIPPED: /usr/bin/python3 lacks prometheus_client or redis (scripts/setup test)");
    return;
  }
  const std::string dir = "/tmp/tessera-metrics-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const int metrics_port = free_port();
  const std::string conf = dir + "/tessera.conf";
  std::ofstream(conf) << "metrics-port " << metrics_port << "\nmetrics-bind 127.0.0.1\n";
  const int port = free_port();
  ServerProcess server(
      {tessera_server_path(), conf, "--port", std::to_string(port), "--save", "", "--shards", "1"},
      port);
  run_scrape_script(server, metrics_port, 1, false);
  RawConnection c(port);
  const std::string value = std::to_string(metrics_port);
  const std::string want =
      "*2\r\n$12\r\nmetrics-port\r\n$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  CHECK(c.roundtrip(resp({"CONFIG", "GET", "metrics-port"}), want.size()) == want);
  std::filesystem::remove_all(dir);

  // Without the flag nothing listens for HTTP: the default is off.
  auto plain = start_tessera(1);
  CHECK(plain.output().find("Prometheus") == std::string::npos);
}
