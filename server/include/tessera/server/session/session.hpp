// A client session without its socket: batching and reply order. It takes pipelined commands from
// the parser, hands each to the dispatcher it was given (commands/dispatch.hpp gives the real one:
// the session knows neither the command table nor what a data operation means), runs the key
// operations the commands make on the shards that own the keys, and writes the replies in request
// order. The Connection wraps it around a TCP socket; InProcessSession (and the command fuzzer)
// around a string, so tests drive the real command table on a real shard set.
//
// Batch execution (the hot path):
//   - Commands are taken from the parser one by one. Immediate replies, and data operations whose
//     key lives on the home shard, are written straight into `out_`, in request order.
//   - A data operation on another shard is queued for that shard and leaves a *hole* in `out_` at
//     the place its reply goes. When the batch is flushed, every shard with queued operations gets
//     ONE closure running all of them in order (one hop per shard per batch, in parallel); the
//     session waits for the last one, then splices the replies into the holes and writes once.
//   - Per shard, operations run in request order, and a key always lives on one shard, so every
//     key sees the batch's commands in order. Commands that read every shard (DBSIZE, SCAN, KEYS,
//     FLUSHALL, INFO...) first settle the queued operations, so they see all earlier writes.
//   - Bounded memory: a flush happens as soon as the pending replies pass reply_chunk_bytes (or too
//     many remote replies are queued), and the session waits for the write before executing more.
//     The size of a remote reply is unknown until its shard runs it, so a flush runs the queued
//     operations in rounds: a shard stops once it produced a chunk of reply bytes (or sits a round
//     out while it holds a chunk not yet written), the longest prefix of the batch whose replies
//     are all there is written, and the next round goes on from there. A client that never reads
//     therefore holds at most about one chunk of replies per shard (plus one reply each), and the
//     server stops reading from it; the kernel's socket buffers do the rest.
//   - Every operation of a batch has run before flush() returns, even when the peer is gone: a
//     command may acknowledge a remote write before it runs (key_op_unreplied: SET does, for a
//     plain SET), and an acknowledged write is never dropped.
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

  // ---- for command handlers (server/src/commands/); all on the home shard's thread ----
  protocol::ReplyWriter& reply() { return writer_; }
  // The shard that owns `key`, and whether that is this session's home shard (where an operation
  // runs at once instead of waiting for the batch's hop).
  unsigned shard_of(std::string_view key) const { return shards_.shard_of(key); }
  bool is_home(unsigned shard) const { return shard == home_; }
  // Runs `op` on `shard` (the owner of op.key); its reply takes its place here, in request order.
  void key_op(const KeyOp& op, unsigned shard);
  void key_op(const KeyOp& op) { key_op(op, shard_of(op.key)); }
  // Runs `op`, which writes no reply, on `shard`; when that is not the home shard, later (in this
  // batch's hop), after the caller may already have written a reply for it.
  void key_op_unreplied(const KeyOp& op, unsigned shard);
  // An integer reply summed over key operations' counts (DEL, EXISTS with many keys); the
  // operations write no reply bytes.
  void begin_sum();
  void sum_op(const KeyOp& op);
  void end_sum();
  // Runs every queued remote operation now (before a command that reads all shards).
  asio::awaitable<void> settle();

  // ---- atomic operations over several shards (shard/shard_hold.hpp) ----
  // Holds `shards` (ascending, no repeats) for this session until the returned guard is
  // released or destroyed. While holding, key_op / key_op_unreplied / sum_op run at once on the
  // held shard's store (from this thread), store_of() gives a held store, and on_shard /
  // on_all_shards run their function inline. Inside an enclosing hold (a command run by EXEC)
  // the shards must be among those held and nothing more is taken.
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

  // Test-only: the reply bytes pending (not yet flushed).
  std::size_t TEST_pending_bytes() const { return out_.size(); }

 private:
  struct RemoteOp {
    KeyOp op;               // its views point into the parser's buffer: valid until the flush
    std::size_t begin = 0;  // reply bytes in remote_out_[shard]
    std::size_t end = 0;
    std::int64_t count = 0;  // what op.run returned (summed for DEL/EXISTS)
  };
  struct Hole {
    std::size_t pos;  // offset in out_
    enum class Kind : std::uint8_t { kBytes, kSum } kind;
    std::uint16_t shard;       // kBytes
    std::uint32_t op;          // kBytes: index in remote_ops_[shard]
    std::int64_t base;         // kSum: the part computed locally
    std::uint32_t refs_begin;  // kSum: range in sum_refs_
    std::uint32_t refs_end;
  };

  void queue_remote(unsigned shard, const KeyOp& op);
  void release_held();
  // Waits until no other session holds the home shard (between commands).
  asio::awaitable<void> wait_home_free();
  // Runs `op` now when `shard` is home (false), else queues it for that shard (true).
  bool run_or_queue(const KeyOp& op, unsigned shard);
  Store& home_store() { return shards_.shard(home_).store(); }
  bool must_flush() const;
  // One round: each shard with queued operations and less than `budget` reply bytes not yet
  // written runs its operations in order until it produced `budget` bytes or ran them all.
  asio::awaitable<void> settle_round(std::size_t budget);
  bool hole_ready(const Hole& h) const;
  // Rounds of settle_round + splice + write of the ready prefix until the batch is written;
  // resets the batch. False when the peer is gone (the batch's operations still all ran).
  asio::awaitable<bool> flush(ReplySink& sink);
  void reset_batch();

  ShardSet& shards_;
  ServerState& state_;
  unsigned home_;
  Dispatcher dispatch_;
  std::uint64_t id_;
  bool authenticated_;
  bool close_after_reply_ = false;
  std::string name_;

  std::string out_;
  protocol::ReplyWriter writer_{out_};
  std::string assembled_;
  std::vector<Hole> holes_;
  std::vector<std::pair<std::uint16_t, std::uint32_t>> sum_refs_;
  std::vector<std::vector<RemoteOp>> remote_ops_;  // per shard, in request order
  std::vector<std::uint32_t> remote_done_;         // per shard: ops it has run (set by its job)
  std::vector<std::string> remote_out_;            // per shard: reply bytes not yet written
  std::vector<unsigned> remote_shards_;            // shards with ops not yet run
  std::vector<unsigned> round_shards_;             // those taking part in the current round
  std::size_t remote_pending_ = 0;                 // ops queued, not yet run
  std::size_t remote_replies_ = 0;                 // reply-bearing ops queued since the last flush
  std::size_t remote_reply_cap_ = 64;              // adapts to the size of remote replies
  std::size_t sum_pos_ = 0;
  std::int64_t sum_base_ = 0;
  std::uint32_t sum_refs_begin_ = 0;
  std::vector<std::string_view> argv_;
  std::vector<unsigned> held_;  // shards this session holds (ascending), empty when none
  MultiState multi_;
};

}  // namespace tessera::server
