// A client session without its socket: batching and reply order. It takes pipelined commands from
// the parser, hands each to the dispatcher it was given (commands/dispatch.hpp gives the real one:
// the session knows neither the command table nor what a data operation means), runs the key
// operations the commands make on the shards that own the keys, and writes the replies in request
// order. The Connection wraps it around a TCP socket; InProcessSession (and the command fuzzer)
// around a string, so tests drive the real command table on a real shard set.
//
// Guarantee: a client's commands take effect one after the other, in request order, as any other
// client observes them, even when their keys live on different shards; every command gets exactly
// one reply. (Redis gives the same, and people build on it: write the payload, then the flag.)
//
// Design: the batch travels.
//   - Commands are dispatched on the home shard one by one. While nothing is pending, immediate
//     replies and key operations on the home shard run at once, straight into `out_` (the fast
//     path: a one-shard server, or a batch that stays home, never queues anything).
//   - From the first operation that cannot run at once (its key lives on another shard, or out_
//     already holds a chunk), every later part of the batch is queued as a *step*, in request
//     order: key operations with their shard, and the immediate replies between them as literal
//     byte ranges (which may run on any shard).
//   - At the flush the steps run strictly in order, as one chain: the home shard runs the steps
//     that are its own, then the chain is posted to the shard of the next step, which runs its
//     run of consecutive steps and posts the chain straight on to the shard after it (not back
//     home), and so on; it comes home when a home step is next, when it is done, or when the
//     replies pass the chunk budget. Exactly one shard touches the session at a time and each post
//     is a happens-before edge, so whichever shard runs a step appends its reply to the one output
//     buffer: no holes, no splicing, and no operation starts before the one before it finished.
//     Why this and not the old parallel hop: any two operations of one client that run at once on
//     two shards (two reads included) can be seen in the wrong order by another client, so strict
//     order means one operation after the other; carrying the batch costs one post per change of
//     shard (a round trip back home per remote run would cost two). Cost: a one-shard batch
//     never posts; a pipeline spread over n shards pays about one post per operation instead of
//     two per batch (bench/compare --baseline-server shows it at -P 16), and one client's
//     operations never run in parallel.
//   - Commands that read or change every shard (DBSIZE, SCAN, KEYS, FLUSHALL, INFO...) are
//     barriers: the pending steps run first, then the barrier, so it sees all earlier writes.
//   - Commands whose one reply covers several key operations (DEL, EXISTS, MSET) form a group:
//     its operations write nothing unless they fail, the chain sums their counts, and the group's
//     end writes the sum or +OK, or the first failure's error instead (later operations of a
//     failed group are skipped). So a failing write (out of memory) is never acknowledged, and no
//     command ever answers twice.
//   - Bounded memory: the chain stops between two steps once out_ holds reply_chunk_bytes (so one
//     MGET of many large values is written chunk by chunk, too), the session writes that and goes
//     on; queued steps and literal bytes force a flush between commands past their own bounds. The
//     session waits for each write before it executes or reads more, so a client that never reads
//     holds about one chunk of replies (plus one reply) and stops being read from.
//   - If the peer is gone, the steps not yet run are dropped: none of them was acknowledged, and
//     what ran is a prefix of the batch.
//   - Holds (shard/shard_hold.hpp): every leg enters its shard through Shard::when_free, and the
//     session waits for its home shard to be free before each command and before the steps it
//     runs at home, so the chain never touches a store another session holds. An atomic command
//     (MSET, RENAME across shards, EXEC...) is a barrier: it holds its shards with nothing
//     pending, and while it holds them its key operations run at once, in order, on the held
//     stores from the home thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/protocol/request_parser.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/session/multi_state.hpp>
#include <tessera/server/shard/key_op.hpp>
#include <tessera/server/shard/shard_calls.hpp>
#include <tessera/server/shard/shard_hold.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

using Args = std::span<const std::string_view>;
class Session;

// A command that reads or changes every shard (DBSIZE, SCAN, FLUSHALL, INFO...): the session runs
// it once every key operation queued before it has run, so that it sees all earlier writes.
using Barrier = asio::awaitable<void> (*)(Session&, Args);
// Runs one command (argv[0] is its name): writes its reply, or makes key operations, through the
// session, and returns nullptr; or returns the barrier the session must run for it.
using Dispatcher = Barrier (*)(Session&, Args);

// Where a session's replies go: a socket, or a string for in-process use.
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // Sends all of `bytes`; false when the peer is gone (the session then ends).
  virtual asio::awaitable<bool> write(std::string_view bytes) = 0;
  // True once the server is shutting down: the session then writes what it computed and stops
  // executing further commands.
  virtual bool stopping() const { return false; }
};

class Session {
 public:
  // Must be used from `home`'s thread only.
  Session(ShardSet& shards, ServerState& state, unsigned home, Dispatcher dispatch);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Drops the session's WATCH registrations on their shards.
  ~Session();

  enum class Verdict { kContinue, kClose };
  // Runs every complete command buffered in `parser`, writing replies to `sink` in request order.
  // kClose when the connection must end: QUIT, a protocol error (its text was written), or a
  // failed write. Leaves nothing pending: every reply computed has been written when it returns.
  asio::awaitable<Verdict> drain(protocol::RequestParser& parser, ReplySink& sink);

  // Gives back the buffers an idle session keeps between batches (the idle timer calls it; only
  // between two drain() calls).
  void release_buffers();

  // ---- for command handlers (server/src/commands/); all on the home shard's thread ----
  // Where the current command writes its immediate replies (in request order with its key
  // operations). Ask again after a key operation: do not keep the reference across one.
  protocol::ReplyWriter& reply() { return steps_.empty() ? writer_ : literal_writer_; }
  // HELLO: the protocol every later reply of this connection is written in.
  void set_protocol(protocol::RespVersion version);
  // The shard that owns `key`, and whether that is this session's home shard.
  unsigned shard_of(std::string_view key) const { return shards_.shard_of(key); }
  bool is_home(unsigned shard) const { return shard == home_; }
  // Runs `op` on `shard` (the owner of op.key) in request order; the reply it writes takes its
  // place among the others.
  void key_op(const KeyOp& op, unsigned shard);
  void key_op(const KeyOp& op) { key_op(op, shard_of(op.key)); }
  // A group: one reply for several key operations (DEL, EXISTS, MSET). Each group_op writes
  // nothing on success and returns a count; whatever it writes is its error. end_group_sum()
  // replies with the sum of the counts, end_group_ok() with +OK; either replies with the first
  // error instead when an operation failed (the group's later operations are then skipped).
  void begin_group();
  void group_op(const KeyOp& op);
  void end_group_sum();
  void end_group_ok();

  // ---- atomic operations over several shards (shard/shard_hold.hpp); only from a barrier ----
  // Holds `shards` (ascending, no repeats) for this session until the returned guard is
  // released or destroyed. While holding, key_op and group_op run at once on the held shard's
  // store (from this thread), store_of() gives a held store, and on_shard / on_all_shards run
  // their function inline. Inside an enclosing hold (a command run by EXEC) the shards must be
  // among those held and nothing more is taken.
  class HoldGuard {
   public:
    HoldGuard() = default;
    explicit HoldGuard(Session* s) : session_(s) {}
    HoldGuard(HoldGuard&& o) noexcept : session_(std::exchange(o.session_, nullptr)) {}
    HoldGuard& operator=(HoldGuard&&) = delete;
    ~HoldGuard() { release(); }
    void release() {
      if (session_ != nullptr) std::exchange(session_, nullptr)->release_held();
    }

   private:
    Session* session_ = nullptr;
  };
  asio::awaitable<HoldGuard> hold(std::vector<unsigned> shards);
  bool holding() const { return !held_.empty(); }
  bool holds(unsigned shard) const;
  // The store of `shard`, which this session holds (or the home shard's, between awaits).
  Store& store_of(unsigned shard);
  // Sorted, unique shards of `keys`.
  std::vector<unsigned> shards_of(Args keys, std::size_t step = 1) const;

  // call_on / call_on_all (shard_calls.hpp), or inline on the shards this session holds.
  template <class F>
  auto on_shard(unsigned target, F f) -> asio::awaitable<decltype(f(std::declval<Shard&>()))> {
    if (holds(target)) co_return f(shards_.shard(target));
    co_return co_await call_on(shards_, home_, target, std::move(f));
  }
  template <class F>
  auto on_all_shards(F f) -> asio::awaitable<std::vector<decltype(f(std::declval<Shard&>()))>> {
    if (held_.size() == shards_.size()) {
      std::vector<decltype(f(shards_.shard(0)))> results;
      results.reserve(shards_.size());
      for (unsigned i = 0; i < shards_.size(); ++i) results.push_back(f(shards_.shard(i)));
      co_return results;
    }
    co_return co_await call_on_all(shards_, home_, std::move(f));
  }

  // MULTI / EXEC / WATCH state (commands/transactions.cpp).
  MultiState& multi() { return multi_; }

  ShardSet& shards() { return shards_; }
  ServerState& state() { return state_; }
  unsigned home() const { return home_; }
  Shard& home_shard() { return shards_.shard(home_); }

  std::uint64_t id() const { return id_; }
  bool authenticated() const { return authenticated_; }
  void set_authenticated(bool v) { authenticated_ = v; }
  const std::string& name() const { return name_; }
  void set_name(std::string_view n) { name_.assign(n); }
  void close_after_reply() { close_after_reply_ = true; }
  // The client's address and the local one, "ip:port" (CLIENT LIST, SLOWLOG, MONITOR): set by the
  // Connection; empty for an in-process session.
  const std::string& peer() const { return peer_; }
  const std::string& local() const { return local_; }
  void set_endpoints(std::string peer, std::string local) {
    peer_ = std::move(peer);
    local_ = std::move(local);
  }
  // The last command dispatched (its statistics index, 0: none yet; CLIENT LIST's cmd=) and CLIENT
  // NO-EVICT (accepted and shown; Tessera never evicts clients).
  std::uint32_t last_command() const { return last_command_; }
  void set_last_command(std::uint32_t index) { last_command_ = index; }
  bool no_evict() const { return no_evict_; }
  void set_no_evict(bool on) { no_evict_ = on; }
  bool resp3() const { return writer_.resp3(); }
  // MONITOR (commands/monitor.hpp): the session asked to stream every command (its Connection
  // starts the stream), and whether any monitor was registered when this batch began (set by the
  // Connection before each batch; dispatch feeds the hub only then).
  bool monitor() const { return monitor_; }
  void set_monitor() { monitor_ = true; }
  bool feeding_monitors() const { return feeding_monitors_; }
  void set_feeding_monitors(bool on) { feeding_monitors_ = on; }

 private:
  enum class StepKind : std::uint8_t {
    kReplied,     // a key operation that writes its reply
    kGroupOp,     // a key operation of a group
    kGroupBegin,  // resets the group's sum
    kGroupSum,    // writes the group's reply: the sum
    kGroupOk,     // writes the group's reply: +OK
    kLiteral,     // immediate reply bytes, literals_[begin, end)
  };
  // A step may run on any shard (it touches no store).
  static constexpr std::uint32_t kAnyShard = 0xffffffffu;
  struct Step {
    KeyOp op = {};  // kReplied, kGroupOp; its views point into the parser's buffer
    std::uint32_t shard = kAnyShard;
    StepKind kind = StepKind::kLiteral;
    std::size_t begin = 0;
    std::size_t end = 0;
  };

  void release_held();
  // Waits until no other session holds the home shard (nothing of this session's is pending
  // there meanwhile).
  asio::awaitable<void> wait_home_free();

  void add_step(const Step& step);
  // Runs a group's step now when it can, else queues it (session.cpp).
  void run_or_add(const Step& step);
  // Turns the literal bytes written since the last step into a step of their own.
  void seal_literal();
  // Runs one step on the thread of `store`'s shard (any thread for kAnyShard steps).
  void execute(const Step& step, Store& store);
  // Runs steps from next_ while they belong to `shard` (or to any) and out_ is under the budget.
  void advance(unsigned shard);
  // The chain stops: every step ran, or out_ must be written first.
  bool chain_stops() const { return next_ == steps_.size() || out_.size() >= budget_; }
  // Runs the chain until it stops, travelling from shard to shard (on home's thread).
  asio::awaitable<void> run_steps();
  template <class Handler>
  void post_leg(unsigned shard, Handler handler);
  // Runs every pending step, writing out_ each time it passes the budget; false if the peer is
  // gone (the steps not yet run are then dropped).
  asio::awaitable<bool> run_pending(ReplySink& sink);
  asio::awaitable<bool> write_out(ReplySink& sink);
  // run_pending, then one write of what is left; resets the batch.
  asio::awaitable<bool> flush(ReplySink& sink);
  bool must_flush() const;
  void reset_batch();

  ShardSet& shards_;
  ServerState& state_;
  unsigned home_;
  Dispatcher dispatch_;
  std::uint64_t id_;
  std::size_t budget_;  // reply_chunk_bytes
  bool authenticated_;
  bool close_after_reply_ = false;
  std::string name_;
  std::string peer_;
  std::string local_;
  std::uint32_t last_command_ = 0;
  bool no_evict_ = false;
  bool monitor_ = false;
  bool feeding_monitors_ = false;

  std::string out_;  // replies in request order, not yet written
  protocol::ReplyWriter writer_{out_};
  std::string literals_;  // immediate replies written while steps are pending
  protocol::ReplyWriter literal_writer_{literals_};
  std::size_t literals_sealed_ = 0;
  std::vector<Step> steps_;  // in request order; steps_[next_] runs next
  std::size_t next_ = 0;
  // The current group, touched only by the shard running the chain.
  std::int64_t group_sum_ = 0;
  bool group_failed_ = false;
  std::string group_error_;
  std::vector<std::string_view> argv_;
  std::vector<unsigned> held_;  // shards this session holds (ascending), empty when none
  MultiState multi_;
};

}  // namespace tessera::server
