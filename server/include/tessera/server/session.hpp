// A client session without its socket: runs pipelined commands in order on the connection's home
// shard and produces the reply bytes. The Connection wraps it around a TCP socket; LocalClient (and
// the command fuzzer) around a string, so tests drive the real command table on a real shard set.
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
//     remote SET is acknowledged before it runs, and an acknowledged write is never dropped.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/protocol/request_parser.hpp>
#include <tessera/server/server_state.hpp>
#include <tessera/server/shard_set.hpp>

namespace tessera::server {

using Args = std::span<const std::string_view>;
struct CommandSpec;

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
  Session(ShardSet& shards, ServerState& state, unsigned home);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  enum class Verdict { kContinue, kClose };
  // Runs every complete command buffered in `parser`, writing replies to `sink` in request order.
  // kClose when the connection must end: QUIT, a protocol error (its text was written), or a
  // failed write. Leaves nothing pending: every reply computed has been written when it returns.
  asio::awaitable<Verdict> drain(protocol::RequestParser& parser, ReplySink& sink);

  // ---- for command handlers (commands.cpp); all on the home shard's thread ----
  protocol::ReplyWriter& reply() { return writer_; }
  // A single-key data operation whose reply goes here, in order (on whichever shard owns the key).
  void op(OpKind kind, std::string_view key, std::string_view value = {}, std::uint8_t flags = 0);
  // An integer reply summed over data operations (DEL, EXISTS with many keys).
  void begin_sum();
  void sum_op(OpKind kind, std::string_view key);
  void end_sum();
  // Runs every queued remote operation now (before a command that reads all shards).
  asio::awaitable<void> settle();

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
    OpKind kind;
    std::uint8_t flags;
    std::string_view key;  // views into the parser's buffer: valid until the next prepare()
    std::string_view value;
    std::size_t begin = 0;  // reply bytes in remote_out_[shard]
    std::size_t end = 0;
    std::int64_t count = 0;  // kDel/kExists result
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

  // Runs a command that needs no hop (errors included) and returns nullptr, or returns the spec of
  // a barrier command for the caller to settle and await.
  const CommandSpec* dispatch(Args argv);
  RemoteOp& queue_remote(unsigned shard, OpKind kind, std::string_view key, std::string_view value,
                         std::uint8_t flags);
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
  bool in_sum_ = false;
  std::size_t sum_pos_ = 0;
  std::int64_t sum_base_ = 0;
  std::uint32_t sum_refs_begin_ = 0;
  std::vector<std::string_view> argv_;
};

}  // namespace tessera::server
