// Heap allocations per request on the fast path (issue 18): GET and SET through the real Session
// on a real ShardSet, counted by the test executable's operator new (test_allocator.hpp) on the
// shards' threads, where all of a request's work runs.
//
// A pipeline's fixed costs (the coroutine that feeds it, the reply buffer doubling, the request
// buffer growing) are the same or grow logarithmically with its length, so the figure per request
// is the slope between a short and a long pipeline of the same commands.
#include <doctest/doctest.h>

#include <functional>
#include <future>
#include <string>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/in_process_session.hpp>

#include "session_env.hpp"
#include "test_allocator.hpp"

using namespace tessera::server;
using tessera::server::testing::Env;

namespace {

// Allocations made so far by all the shards' threads.
std::size_t allocations(Env& env) {
  std::size_t sum = 0;
  for (unsigned s = 0; s < env.set.size(); ++s) {
    std::promise<std::size_t> n;
    env.set.post(s, [&] { n.set_value(tessera::test::allocations); });
    sum += n.get_future().get();
  }
  return sum;
}

std::string command(std::initializer_list<std::string_view> argv) {
  std::string out;
  tessera::protocol::write_command(out, argv);
  return out;
}

// Allocations per request: the shards' allocations for a pipeline of `make(i)` for i < long_run,
// less those for i < 200, over the difference in length. make() may keep state (new keys).
double per_request(Env& env, InProcessSession& c, const std::function<std::string(int)>& make,
                   int long_run = 4200) {
  auto run = [&](int n) {
    std::string req;
    for (int i = 0; i < n; ++i) req += make(i);
    const std::size_t before = allocations(env);
    c.send(req);
    return allocations(env) - before;
  };
  run(long_run);  // the first run grows the buffers the session keeps
  const std::size_t short_run = run(200);
  const std::size_t long_one = run(long_run);
  return (static_cast<double>(long_one) - static_cast<double>(short_run)) / (long_run - 200);
}

const std::string kValue(32, 'v');
std::string key(int i) { return "key:" + std::to_string(i % 1000); }

}  // namespace

TEST_CASE("allocations: GET and SET of existing keys allocate nothing per request") {
  for (unsigned shards : {1u, 2u}) {
    CAPTURE(shards);
    Env env(shards);
    InProcessSession c(env.set, env.state, 0);
    for (int i = 0; i < 1000; ++i) c.call({"SET", key(i), kValue});
    const double get_hit = per_request(env, c, [](int i) { return command({"GET", key(i)}); });
    const double get_miss = per_request(env, c, [](int i) {
      return command({"GET", "missing:" + std::to_string(i)});
    });
    const double set_same_size = per_request(env, c, [](int i) {
      return command({"SET", key(i), kValue});
    });
    MESSAGE("shards " << shards << ": allocations per GET hit " << get_hit << ", GET miss "
                      << get_miss << ", SET overwrite " << set_same_size);
    CHECK(get_hit < 0.01);
    CHECK(get_miss < 0.01);
    CHECK(set_same_size < 0.01);
  }
}

TEST_CASE("allocations: a SET of a new key allocates its entry block and nothing else") {
  Env env(1);
  InProcessSession c(env.set, env.state, 0);
  int next = 0;
  const double set_new = per_request(env, c, [&](int) {
    return command({"SET", "new:" + std::to_string(next++), kValue});
  });
  MESSAGE("allocations per SET of a new key: " << set_new);
  CHECK(set_new >= 0.99);  // the entry block
  CHECK(set_new < 1.05);   // plus the map's growth, a segment at a time
}
