// Allocation failures inside key operations (issue 21 item 2): every command gets exactly one
// reply, +OK only for a write that happened, and the replies after a failure stay in step.
//
// The failing allocator: this test executable replaces the global operator new (test_allocator.hpp;
// it also counts each thread's allocations, for allocation_test.cpp). A thread that is
// armed fails every allocation whose size falls in [fail_from, fail_below) with std::bad_alloc, and
// allocates normally otherwise. The window is chosen so that only the store's entry block for a
// value of about 1.2 MB falls in it: the request buffer is either on another thread or made larger
// than the window (padding), and replies stay small or larger than the window.
#include <doctest/doctest.h>

#include <cstdlib>
#include <future>
#include <new>
#include <string>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/in_process_session.hpp>

#include "test_allocator.hpp"

// GCC sees malloc'd memory reach free() through operator delete and warns; both are ours.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace tessera::test {
thread_local std::size_t allocations = 0;
}  // namespace tessera::test

namespace {
thread_local std::size_t t_fail_from = 0;
thread_local std::size_t t_fail_below = 0;
}  // namespace

void* operator new(std::size_t n) {
  ++tessera::test::allocations;
  if (n >= t_fail_from && n < t_fail_below) throw std::bad_alloc();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace tessera::server;

namespace {

constexpr std::size_t kFailFrom = 1024 * 1024;
constexpr std::size_t kFailBelow = 2 * 1024 * 1024;
const std::string kBig(1200 * 1024, 'b');  // its entry block falls in the window
const std::string kOutOfMemory = "-ERR out of memory\r\n";

struct Env {
  explicit Env(unsigned shards) : state(config(shards)), set(shards) { set.start(); }
  static Config config(unsigned shards) {
    Config c;
    c.shards = shards;
    return c;
  }
  // Arms (or disarms) the failing allocator on shard `shard`'s thread.
  void arm(unsigned shard, bool on) {
    std::promise<void> done;
    set.post(shard, [&] {
      t_fail_from = on ? kFailFrom : 0;
      t_fail_below = on ? kFailBelow : 0;
      done.set_value();
    });
    done.get_future().get();
  }
  std::string key_on(unsigned shard, const std::string& prefix) {
    for (int i = 0;; ++i) {
      std::string k = prefix + std::to_string(i);
      if (set.shard_of(k) == shard) return k;
    }
  }
  ServerState state;
  ShardSet set;
};

std::string command(std::initializer_list<std::string_view> argv) {
  std::string out;
  tessera::protocol::write_command(out, argv);
  return out;
}

}  // namespace

// Checked to fail before the fix: the remote SET was answered +OK before it ran and its failure
// was dropped.
TEST_CASE("failure: a write that fails on another shard is answered with its error, once") {
  Env env(2);
  InProcessSession c(env.set, env.state, 0);
  const std::string remote = env.key_on(1, "r:"), home = env.key_on(0, "h:");
  env.arm(1, true);
  CHECK(c.call({"SET", remote, kBig}) == kOutOfMemory);
  CHECK(c.call({"GET", remote}) == "$-1\r\n");
  CHECK(c.send(command({"SET", remote, kBig}) + command({"PING"}) + command({"SET", home, "v"})) ==
        kOutOfMemory + "+PONG\r\n+OK\r\n");
  // MSET is atomic across shards: it holds both and writes from the home shard's thread, so that
  // thread is armed too (the ECHO pads the request past the window, as below).
  env.arm(0, true);
  const std::string padding(3 * 1024 * 1024, 'p');
  std::string echo;
  tessera::protocol::ReplyWriter(echo).bulk(padding);
  CHECK(c.send(command({"MSET", home, "w", remote, kBig}) + command({"ECHO", padding})) ==
        kOutOfMemory + echo);
  CHECK(c.send(command({"MSET", remote, kBig, home, "x"}) + command({"ECHO", padding})) ==
        kOutOfMemory + echo);
  env.arm(0, false);
  env.arm(1, false);
  CHECK(c.call({"GET", home}) == "$1\r\nw\r\n");  // the writes before the failing one stay
  CHECK(c.call({"GET", remote}) == "$-1\r\n");
  CHECK(c.call({"SET", remote, kBig}) == "+OK\r\n");
  CHECK(c.call({"STRLEN", remote}) == ":" + std::to_string(kBig.size()) + "\r\n");
}

// Checked to fail before the fix: MSET on the home shard answered twice ("-ERR out of memory",
// then "+OK"), shifting every later reply by one.
TEST_CASE(
    "failure: MSET whose write fails on the home shard answers once and later replies stay in "
    "step") {
  Env env(1);
  InProcessSession c(env.set, env.state, 0);
  env.arm(0, true);
  // The ECHO pads the request (and its reply) past the window, so that only the store fails.
  const std::string padding(3 * 1024 * 1024, 'p');
  const std::string out = c.send(command({"MSET", "a", "1", "k", kBig}) + command({"GET", "a"}) +
                                 command({"ECHO", padding}) + command({"PING"}));
  env.arm(0, false);
  std::string echo;
  tessera::protocol::ReplyWriter(echo).bulk(padding);
  CHECK(out == kOutOfMemory + "$1\r\n1\r\n" + echo + "+PONG\r\n");
  CHECK(c.call({"EXISTS", "k", "a"}) == ":1\r\n");
}
