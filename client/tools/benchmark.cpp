#include "benchmark.hpp"

#include <tessera/client/async_client.hpp>
#include <tessera/protocol/ascii.hpp>

#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace tessera::client::bench {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

std::string test_name(const std::string& test) {
  return test == "ping" ? "PING_MBULK" : protocol::to_upper(test);
}

std::string fixed(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, v);
  return buf;
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// State shared by every connection of one test.
struct Shared {
  std::atomic<std::int64_t> remaining{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::string error;
  void fail(std::string message) {
    std::lock_guard lock(mutex);
    if (error.empty()) error = std::move(message);
    stop.store(true, std::memory_order_relaxed);
  }
};

struct ConnectionLoad {
  const Options* options;
  const std::string* test;
  const std::string* value;
  Shared* shared;
  LatencyHistogram* histogram;
  std::uint64_t rng;
  Clock::time_point batch_start;
};

std::uint64_t next_random(std::uint64_t& state) {  // splitmix64
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

asio::awaitable<void> run_connection(AsyncClient& client, ConnectionLoad& load) {
  const Options& o = *load.options;
  Pipeline pipeline;
  char key[16];
  std::memcpy(key, "key:__rand_int__", 16);
  const std::string_view key_view(key, 16);
  ConnectionLoad* ctx = &load;
  std::function<void(std::size_t, Reply&)> on_reply = [ctx](std::size_t, Reply& reply) {
    ctx->histogram->record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - ctx->batch_start)
            .count()));
    if (reply.type == Reply::Type::kError) ctx->shared->fail("Error from server: " + reply.str);
  };
  const int kind = *load.test == "set" ? 1 : *load.test == "get" ? 2 : 0;
  while (!load.shared->stop.load(std::memory_order_relaxed)) {
    const auto depth = static_cast<std::int64_t>(o.pipeline);
    std::int64_t before = load.shared->remaining.fetch_sub(depth, std::memory_order_relaxed);
    if (before <= 0) break;
    const auto batch = static_cast<std::size_t>(std::min(depth, before));
    pipeline.clear();
    for (std::size_t i = 0; i < batch; ++i) {
      if (o.keyspace > 0) format_key(next_random(load.rng) % o.keyspace, key);
      switch (kind) {
        case 1:
          pipeline.set(key_view, *load.value);
          break;
        case 2:
          pipeline.get(key_view);
          break;
        default:
          pipeline.ping();
      }
    }
    load.batch_start = Clock::now();
    co_await client.execute(pipeline, on_reply);
  }
}

// -t's list: comma-separated, case-insensitive, ping_mbulk is ping, repeats dropped.
std::vector<std::string> parse_test_list(std::string_view list) {
  std::vector<std::string> tests;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string t = protocol::to_lower(list.substr(start, comma - start));
    if (t == "ping_mbulk") t = "ping";
    if (t == "ping" || t == "set" || t == "get") {
      if (std::find(tests.begin(), tests.end(), t) == tests.end()) tests.push_back(t);
    } else if (!t.empty()) {
      throw std::invalid_argument("unsupported test \"" + t + "\" (supported: ping,set,get)");
    }
    start = comma + 1;
  }
  if (tests.empty()) throw std::invalid_argument("-t: no test given");
  return tests;
}

// The one description of the flags: parse_options() and usage() both build it. `-h` is the host,
// as in redis-benchmark, so help is `--help` only.
std::unique_ptr<CLI::App> make_app(Options& o, std::string& tests) {
  auto app = std::make_unique<CLI::App>(
      "tessera-benchmark: a multi-threaded load generator with redis-benchmark's flags and output",
      "tessera-benchmark");
  app->set_help_flag("--help", "This help");
  // As in redis-benchmark, a flag given twice takes its last value.
  app->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->add_option("-h", o.host, "Server hostname")->capture_default_str();
  app->add_option("-p", o.port, "Server port")->capture_default_str()->check(CLI::Range(1, 65535));
  app->add_option("-a", o.password, "Password, sent as AUTH on every connection");
  app->add_option("--user", o.user, "Username for AUTH (with -a)");
  app->add_option("-c", o.clients, "Number of parallel connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app->add_option("-n", o.requests, "Total number of requests per test")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  app->add_option("-d", o.data_size, "Data size of SET values in bytes")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30));
  app->add_option("-r", o.keyspace,
                  "Use random keys key:%012d in 0..keyspacelen-1 (default: one key, "
                  "\"key:__rand_int__\", as redis-benchmark)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1000000000000}));
  app->add_option("-P", o.pipeline, "Pipeline <numreq> requests (1: no pipeline)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app->add_option("-t", tests,
                  "Comma-separated tests among ping,set,get (default: all three; ping is "
                  "PING_MBULK)");
  app->add_option("--threads", o.threads,
                  "Client threads, each with its own share of the connections (default: one per "
                  "hardware thread)")
      ->check(CLI::Range(1, 1024));
  app->add_flag("--csv", o.csv, "Output in CSV (redis-benchmark's columns plus p999_latency_ms)");
  app->add_flag("-q", o.quiet, "Quiet: one line per test (requests per second and percentiles)");
  app->add_option("--precision", o.precision, "Decimal places in latency output")
      ->capture_default_str()
      ->check(CLI::Range(0, 9));
  return app;
}

}  // namespace

std::string usage() {
  Options o;
  std::string tests;
  return make_app(o, tests)->help();
}

Options parse_options(int argc, const char* const* argv) {
  Options o;
  std::string tests;
  const auto app = make_app(o, tests);
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    o.help = true;
    return o;
  } catch (const CLI::ParseError& e) {
    throw std::invalid_argument(e.what());
  }
  if (!tests.empty() || app->count("-t") != 0) o.tests = parse_test_list(tests);
  return o;
}

std::string benchmark_value(std::size_t size) {
  std::string data(size, '\0');
  std::uint32_t state = 1234;
  for (auto& c : data) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>('0' + ((state >> 16) & 63));
  }
  return data;
}

void format_key(std::uint64_t n, char out[16]) {
  std::memcpy(out, "key:", 4);
  for (int i = 15; i >= 4; --i) {
    out[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}

TestResult run_test(const Options& o, const std::string& test) {
  TestResult result;
  result.name = test_name(test);
  std::size_t threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, o.clients);
  const std::string value = benchmark_value(o.data_size);
  ClientOptions client_options{.host = o.host,
                               .port = o.port,
                               .connect_timeout = std::chrono::seconds(10),
                               .command_timeout = std::chrono::milliseconds(0),
                               .password = o.password,
                               .username = o.user};

  Shared shared;
  shared.remaining = static_cast<std::int64_t>(o.requests);
  std::vector<LatencyHistogram> histograms(threads);
  std::vector<Clock::time_point> ends(threads);
  std::barrier sync(static_cast<std::ptrdiff_t>(threads + 1));
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      asio::io_context io(1);
      std::vector<std::unique_ptr<AsyncClient>> clients;
      std::vector<ConnectionLoad> loads;
      for (std::size_t c = t; c < o.clients; c += threads) {
        clients.push_back(std::make_unique<AsyncClient>(io.get_executor(), client_options));
        loads.push_back(ConnectionLoad{&o, &test, &value, &shared, &histograms[t], 0x5eed + c, {}});
      }
      auto on_error = [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          shared.fail(ex.what());
        }
      };
      for (auto& client : clients) asio::co_spawn(io, client->connect(), on_error);
      io.run();
      io.restart();
      sync.arrive_and_wait();  // every connection is up (or failed)
      sync.arrive_and_wait();  // the clock has started
      if (!shared.stop.load()) {
        for (std::size_t i = 0; i < clients.size(); ++i) {
          asio::co_spawn(io, run_connection(*clients[i], loads[i]), on_error);
        }
        io.run();
      }
      ends[t] = Clock::now();
    });
  }
  sync.arrive_and_wait();
  const auto start = Clock::now();
  sync.arrive_and_wait();
  for (auto& w : workers) w.join();
  const auto end = *std::max_element(ends.begin(), ends.end());
  result.seconds = std::chrono::duration<double>(end - start).count();
  for (auto& h : histograms) result.latency_ns.merge(h);
  result.requests = result.latency_ns.count();
  result.error = shared.error;
  return result;
}

std::string format_quiet(const TestResult& r, int precision) {
  const auto& h = r.latency_ns;
  return r.name + ": " + fixed(r.rps(), 2) +
         " requests per second, p50=" + fixed(ms(h.percentile(50)), precision) +
         " msec, p99=" + fixed(ms(h.percentile(99)), precision) +
         " msec, p99.9=" + fixed(ms(h.percentile(99.9)), precision) +
         " msec, max=" + fixed(ms(h.max()), precision) + " msec";
}

std::string csv_header() {
  return "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
         "\"p95_latency_ms\",\"p99_latency_ms\",\"p999_latency_ms\",\"max_latency_ms\"";
}

std::string format_csv(const TestResult& r, int precision) {
  const auto& h = r.latency_ns;
  auto q = [](const std::string& s) { return "\"" + s + "\""; };
  return q(r.name) + "," + q(fixed(r.rps(), 2)) + "," + q(fixed(h.mean() / 1e6, precision)) + "," +
         q(fixed(ms(h.min()), precision)) + "," + q(fixed(ms(h.percentile(50)), precision)) + "," +
         q(fixed(ms(h.percentile(95)), precision)) + "," +
         q(fixed(ms(h.percentile(99)), precision)) + "," +
         q(fixed(ms(h.percentile(99.9)), precision)) + "," + q(fixed(ms(h.max()), precision));
}

std::string format_full(const TestResult& r, const Options& o) {
  const auto& h = r.latency_ns;
  const int p = o.precision;
  std::string s = "====== " + r.name + " ======\n";
  s += "  " + std::to_string(r.requests) + " requests completed in " + fixed(r.seconds, 2) +
       " seconds\n";
  s += "  " + std::to_string(o.clients) + " parallel clients\n";
  s += "  " + std::to_string(o.data_size) + " bytes payload\n";
  s += "  keep alive: 1\n";
  s += "  pipeline: " + std::to_string(o.pipeline) + "\n";
  std::size_t threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  s += "  threads: " + std::to_string(std::min(threads, o.clients)) + "\n\n";
  s += "Latency by percentile distribution:\n";
  for (double pct : {0.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    std::uint64_t v = pct == 0.0 ? h.min() : h.percentile(pct);
    s += fixed(pct, 3) + "% <= " + fixed(ms(v), p) + " milliseconds\n";
  }
  s += "\nSummary:\n";
  s += "  throughput summary: " + fixed(r.rps(), 2) + " requests per second\n";
  s += "  latency summary (msec):\n";
  char line[256];
  std::snprintf(line, sizeof line, "  %9s %9s %9s %9s %9s %9s %9s\n", "avg", "min", "p50", "p95",
                "p99", "p99.9", "max");
  s += line;
  std::snprintf(line, sizeof line, "  %9.*f %9.*f %9.*f %9.*f %9.*f %9.*f %9.*f\n", p,
                h.mean() / 1e6, p, ms(h.min()), p, ms(h.percentile(50)), p, ms(h.percentile(95)), p,
                ms(h.percentile(99)), p, ms(h.percentile(99.9)), p, ms(h.max()));
  s += line;
  return s;
}

}  // namespace tessera::client::bench
