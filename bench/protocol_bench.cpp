// Google Benchmark of the protocol layer (results and the command that produced them:
// bench/README.md, "protocol").
//
// BM_ParseSet / BM_ParseGet: a pipelined buffer of redis-benchmark-style commands
// (`SET key:000000000042 <32 bytes>`, `GET key:...`, keys varying as with -r), fed to the parser in
// socket-sized reads (prepare + memcpy + commit, as the server does) and drained after each read.
// items_per_second is commands per second on one core, the copy into the parser included.
// BM_ParseLargeBulk: one SET with a bulk of N bytes, fed in 64 KB reads; bytes_per_second.
// BM_WriteReplies / BM_ReadReplies: the reply writer and the client's reply reader.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/reply_reader.hpp"
#include "tessera/protocol/reply_writer.hpp"
#include "tessera/protocol/request_parser.hpp"

namespace {

using tessera::protocol::ReplyReader;
using tessera::protocol::ReplyWriter;
using tessera::protocol::RequestParser;

constexpr int kPipelined = 10000;

std::string key(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "key:%012d", i % 1000000);
  return buf;
}

std::string set_pipeline() {
  std::string out;
  const std::string value(32, 'x');  // -d 32
  for (int i = 0; i < kPipelined; ++i) {
    const std::string k = key(i * 7919);
    tessera::protocol::write_command(out, {"SET", k, value});
  }
  return out;
}

std::string get_pipeline() {
  std::string out;
  for (int i = 0; i < kPipelined; ++i) {
    const std::string k = key(i * 7919);
    tessera::protocol::write_command(out, {"GET", k});
  }
  return out;
}

std::string inline_pipeline() {
  std::string out;
  for (int i = 0; i < kPipelined; ++i) out += "PING\r\n";
  return out;
}

// Feeds `input` in reads of `chunk` bytes, draining after each; returns the commands parsed.
std::size_t parse_all(RequestParser& parser, std::string_view input, std::size_t chunk,
                      std::vector<std::string_view>& argv) {
  std::size_t commands = 0;
  for (std::size_t at = 0; at < input.size();) {
    const std::size_t n = std::min(chunk, input.size() - at);
    const auto span = parser.prepare(n);
    std::memcpy(span.data(), input.data() + at, n);
    parser.commit(n);
    at += n;
    while (parser.next(argv) == RequestParser::Status::kCommand) {
      benchmark::DoNotOptimize(argv.data());
      ++commands;
    }
  }
  return commands;
}

void run_pipeline(benchmark::State& state, const std::string& input) {
  const auto chunk = static_cast<std::size_t>(state.range(0));
  RequestParser parser;
  std::vector<std::string_view> argv;
  std::size_t commands = 0;
  for (auto _ : state) commands += parse_all(parser, input, chunk, argv);
  if (commands != static_cast<std::size_t>(state.iterations()) * kPipelined) {
    state.SkipWithError("wrong command count");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(commands));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}

void BM_ParseSet(benchmark::State& state) {
  static const std::string input = set_pipeline();
  run_pipeline(state, input);
}
BENCHMARK(BM_ParseSet)->Arg(16 * 1024)->Arg(64 * 1024)->Arg(1 << 20);

void BM_ParseGet(benchmark::State& state) {
  static const std::string input = get_pipeline();
  run_pipeline(state, input);
}
BENCHMARK(BM_ParseGet)->Arg(16 * 1024)->Arg(64 * 1024);

void BM_ParseInlinePing(benchmark::State& state) {
  static const std::string input = inline_pipeline();
  run_pipeline(state, input);
}
BENCHMARK(BM_ParseInlinePing)->Arg(16 * 1024);

void BM_ParseLargeBulk(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + std::to_string(size) + "\r\n";
  input.append(size, '\n');  // line feeds everywhere: a scanning parser would pay for each
  input += "\r\n";
  RequestParser parser;
  std::vector<std::string_view> argv;
  std::size_t commands = 0;
  for (auto _ : state) commands += parse_all(parser, input, 64 * 1024, argv);
  if (commands != static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("wrong command count");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
}
// The first iteration grows the buffer (and pays the page faults of fresh memory); the rest reuse
// it, as a connection streaming large values does.
BENCHMARK(BM_ParseLargeBulk)
    ->Arg(1 << 20)
    ->Arg(16 << 20)
    ->Arg(100 << 20)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

void BM_WriteReplies(benchmark::State& state) {
  std::string out;
  const std::string value(32, 'x');
  for (auto _ : state) {
    out.clear();
    ReplyWriter w(out);
    for (int i = 0; i < kPipelined; ++i) {
      if (i & 1) {
        w.bulk(value);
      } else {
        w.ok();
      }
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kPipelined);
}
BENCHMARK(BM_WriteReplies);

void BM_ReadReplies(benchmark::State& state) {
  std::string input;
  ReplyWriter w(input);
  const std::string value(32, 'x');
  for (int i = 0; i < kPipelined; ++i) {
    if (i & 1) {
      w.bulk(value);
    } else {
      w.ok();
    }
  }
  ReplyReader reader;
  tessera::protocol::Reply reply;
  std::size_t replies = 0;
  for (auto _ : state) {
    for (std::size_t at = 0; at < input.size(); at += 16384) {
      reader.feed(std::string_view(input).substr(at, 16384));
      while (reader.next(reply) == ReplyReader::Status::kReply) ++replies;
    }
  }
  if (replies != static_cast<std::size_t>(state.iterations()) * kPipelined) {
    state.SkipWithError("wrong reply count");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(replies));
}
BENCHMARK(BM_ReadReplies);

}  // namespace
