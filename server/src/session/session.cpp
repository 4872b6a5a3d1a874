// Session: batch execution with one hop per remote shard per batch (design note in
// tessera/server/session/session.hpp).
#include <tessera/server/session/session.hpp>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <limits>
#include <stdexcept>
#include <tessera/server/shard/shard_calls.hpp>

namespace tessera::server {

namespace {
// Remote reply-bearing operations per flush, at most (the adaptive cap's ceiling), and remote
// operations of any kind (those hold only views and counts).
constexpr std::size_t kMaxRemoteReplies = 1024;
constexpr std::size_t kMaxRemoteOps = 8192;
// Above this, an idle session gives its buffers back after a flush.
constexpr std::size_t kKeepCapacity = 1024 * 1024;
}  // namespace

Session::Session(ShardSet& shards, ServerState& state, unsigned home, Dispatcher dispatch)
    : shards_(shards),
      state_(state),
      home_(home),
      dispatch_(dispatch),
      id_(state.next_client_id.fetch_add(1, std::memory_order_relaxed)),
      authenticated_(state.config.requirepass.empty()),
      remote_ops_(shards.size()),
      remote_done_(shards.size(), 0),
      remote_out_(shards.size()) {}

Session::~Session() {
  // WATCH registrations live in the shards' stores; drop them there (unless the server is
  // stopping: then the stores go away with the shards).
  if (multi_.watched.empty() || !shards_.running()) return;
  for (auto& w : multi_.watched) {
    shards_.post(w.shard, [&shard = shards_.shard(w.shard), key = std::move(w.key)] {
      shard.when_free([&shard, key] { shard.store().unwatch(key); });
    });
  }
}

asio::awaitable<Session::HoldGuard> Session::hold(std::vector<unsigned> shards) {
  if (!held_.empty()) {
    // Inside an enclosing hold (EXEC): everything needed is held already.
    for (unsigned s : shards) {
      if (!holds(s)) throw std::logic_error("session: a nested hold needs a shard not held");
    }
    co_return HoldGuard{};
  }
  if (shards.empty()) co_return HoldGuard{};
  co_await hold_shards(shards_, home_, id_, shards);
  held_ = std::move(shards);
  co_return HoldGuard{this};
}

void Session::release_held() {
  release_shards(shards_, home_, held_);
  held_.clear();
}

bool Session::holds(unsigned shard) const {
  return std::binary_search(held_.begin(), held_.end(), shard);
}

Store& Session::store_of(unsigned shard) {
  if (!holds(shard) && shard != home_) {
    throw std::logic_error("session: a store reached without holding its shard");
  }
  return shards_.shard(shard).store();
}

std::vector<unsigned> Session::shards_of(Args keys, std::size_t step) const {
  std::vector<unsigned> out;
  for (std::size_t i = 0; i < keys.size(); i += step) out.push_back(shards_.shard_of(keys[i]));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

asio::awaitable<void> Session::wait_home_free() {
  Shard& home = home_shard();
  while (home.holder() != 0 && home.holder() != id_) {
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [&home](auto handler) {
          // Resumed by a post, not inline from the release: the release goes on serving its FIFO.
          home.when_free([h = std::move(handler)]() mutable { asio::post(std::move(h)); });
        },
        asio::use_awaitable);
  }
}

void Session::queue_remote(unsigned shard, const KeyOp& op) {
  auto& ops = remote_ops_[shard];
  if (ops.size() == remote_done_[shard]) remote_shards_.push_back(shard);
  ops.push_back(RemoteOp{op});
  ++remote_pending_;
}

bool Session::run_or_queue(const KeyOp& request, unsigned shard) {
  KeyOp op = request;
  op.version = writer_.version();  // its reply is written in this connection's protocol
  if (shard == home_ || !held_.empty()) {
    // At home, or holding shards (an atomic operation): at once, in request order.
    op.run(store_of(shard), op, out_);
    return false;
  }
  queue_remote(shard, op);
  return true;
}

void Session::key_op(const KeyOp& op, unsigned shard) {
  if (!run_or_queue(op, shard)) return;
  // Queued: its reply goes into a hole here, filled in when the shard has run it.
  holes_.push_back(Hole{out_.size(), Hole::Kind::kBytes, static_cast<std::uint16_t>(shard),
                        static_cast<std::uint32_t>(remote_ops_[shard].size() - 1), 0, 0, 0});
  ++remote_replies_;
}

void Session::key_op_unreplied(const KeyOp& op, unsigned shard) { run_or_queue(op, shard); }

void Session::begin_sum() {
  sum_pos_ = out_.size();
  sum_base_ = 0;
  sum_refs_begin_ = static_cast<std::uint32_t>(sum_refs_.size());
}

void Session::sum_op(const KeyOp& request) {
  KeyOp op = request;
  op.version = writer_.version();
  const unsigned s = shards_.shard_of(op.key);
  if (s == home_ || !held_.empty()) {
    sum_base_ += op.run(store_of(s), op, out_);
    return;
  }
  queue_remote(s, op);
  sum_refs_.emplace_back(static_cast<std::uint16_t>(s),
                         static_cast<std::uint32_t>(remote_ops_[s].size() - 1));
}

void Session::end_sum() {
  const auto refs_end = static_cast<std::uint32_t>(sum_refs_.size());
  if (refs_end == sum_refs_begin_) {
    writer_.integer(sum_base_);
    return;
  }
  holes_.push_back(Hole{sum_pos_, Hole::Kind::kSum, 0, 0, sum_base_, sum_refs_begin_, refs_end});
}

asio::awaitable<void> Session::settle() {
  while (remote_pending_ != 0) co_await settle_round(std::numeric_limits<std::size_t>::max());
}

asio::awaitable<void> Session::settle_round(std::size_t budget) {
  if (remote_pending_ == 0) co_return;
  // Each shard taking part gets one closure running its operations in order (in parallel across
  // shards); the views in the operations stay valid because the parser's buffer is not touched
  // until the batch is flushed. A shard still holding `budget` unwritten bytes sits this round
  // out; the shard owning the first reply not yet produced never does (its earlier replies were
  // all written), so every round makes progress.
  round_shards_.clear();
  for (unsigned s : remote_shards_) {
    if (remote_out_[s].size() < budget) round_shards_.push_back(s);
  }
  if (round_shards_.empty()) round_shards_ = remote_shards_;  // never stall
  auto job = [this, budget](Shard& shard) {
    const unsigned s = shard.id();
    auto& ops = remote_ops_[s];
    std::string& out = remote_out_[s];
    std::size_t i = remote_done_[s];
    for (; i < ops.size() && out.size() < budget; ++i) {
      RemoteOp& o = ops[i];
      o.begin = out.size();
      o.count = o.op.run(shard.store(), o.op, out);
      o.end = out.size();
    }
    remote_done_[s] = static_cast<std::uint32_t>(i);
  };
  co_await run_on_shards(shards_, home_shard().context(), round_shards_, job);
  remote_pending_ = 0;
  std::erase_if(remote_shards_, [this](unsigned s) {
    const std::size_t left = remote_ops_[s].size() - remote_done_[s];
    remote_pending_ += left;
    return left == 0;
  });
}

bool Session::must_flush() const {
  return out_.size() >= state_.config.reply_chunk_bytes || remote_replies_ >= remote_reply_cap_ ||
         remote_pending_ >= kMaxRemoteOps;
}

bool Session::hole_ready(const Hole& h) const {
  if (h.kind == Hole::Kind::kBytes) return h.op < remote_done_[h.shard];
  for (std::uint32_t i = h.refs_begin; i < h.refs_end; ++i) {
    if (sum_refs_[i].second >= remote_done_[sum_refs_[i].first]) return false;
  }
  return true;
}

asio::awaitable<bool> Session::flush(ReplySink& sink) {
  const std::size_t budget = std::max<std::size_t>(state_.config.reply_chunk_bytes, 1);
  const bool had_holes = !holes_.empty();
  std::size_t largest = 0;
  bool ok = true;
  for (;;) {
    co_await settle_round(budget);
    if (!ok) {
      // The peer is gone: run what is left (acknowledged SETs among it), keeping no replies.
      for (auto& o : remote_out_) o.clear();
      if (remote_pending_ == 0) break;
      continue;
    }
    std::size_t ready = 0;
    while (ready < holes_.size() && hole_ready(holes_[ready])) ++ready;
    const std::size_t end = ready < holes_.size() ? holes_[ready].pos : out_.size();
    std::string_view data = std::string_view(out_).substr(0, end);
    if (ready > 0) {
      assembled_.clear();
      protocol::ReplyWriter w(assembled_);
      std::size_t prev = 0;
      for (std::size_t k = 0; k < ready; ++k) {
        const Hole& h = holes_[k];
        assembled_.append(out_, prev, h.pos - prev);
        prev = h.pos;
        if (h.kind == Hole::Kind::kBytes) {
          const RemoteOp& o = remote_ops_[h.shard][h.op];
          assembled_.append(remote_out_[h.shard], o.begin, o.end - o.begin);
          largest = std::max<std::size_t>(largest, o.end - o.begin);
        } else {
          std::int64_t sum = h.base;
          for (std::uint32_t i = h.refs_begin; i < h.refs_end; ++i) {
            sum += remote_ops_[sum_refs_[i].first][sum_refs_[i].second].count;
          }
          w.integer(sum);
        }
      }
      assembled_.append(out_, prev, end - prev);
      data = assembled_;
    }
    if (!data.empty()) ok = co_await sink.write(data);
    if (ready == holes_.size() && remote_pending_ == 0) break;
    // Drop what was written: the prefix of out_, its holes, and each shard's replies that no
    // remaining hole refers to (a shard's replies are in request order, like the holes).
    out_.erase(0, end);
    holes_.erase(holes_.begin(), holes_.begin() + static_cast<std::ptrdiff_t>(ready));
    for (Hole& h : holes_) h.pos -= end;
    for (unsigned s = 0; s < remote_out_.size(); ++s) {
      std::size_t keep = remote_out_[s].size();
      for (const Hole& h : holes_) {
        if (h.kind == Hole::Kind::kBytes && h.shard == s && h.op < remote_done_[s]) {
          keep = remote_ops_[s][h.op].begin;
          break;
        }
      }
      if (keep == 0) continue;
      remote_out_[s].erase(0, keep);
      for (std::uint32_t i = 0; i < remote_done_[s]; ++i) {
        RemoteOp& o = remote_ops_[s][i];
        o.begin = o.begin >= keep ? o.begin - keep : 0;
        o.end = o.end >= keep ? o.end - keep : 0;
      }
    }
  }
  if (had_holes) {
    // Size the next batch's remote reply cap so that it stays near one chunk of bytes.
    const std::size_t chunk = state_.config.reply_chunk_bytes;
    remote_reply_cap_ =
        std::clamp<std::size_t>(chunk / std::max<std::size_t>(largest, 1), 1, kMaxRemoteReplies);
  }
  reset_batch();
  co_return ok;
}

void Session::reset_batch() {
  out_.clear();
  if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
  assembled_.clear();
  if (assembled_.capacity() > kKeepCapacity) assembled_.shrink_to_fit();
  holes_.clear();
  sum_refs_.clear();
  for (std::size_t s = 0; s < remote_ops_.size(); ++s) {
    if (remote_done_[s] == 0) continue;
    remote_ops_[s].clear();
    remote_done_[s] = 0;
    remote_out_[s].clear();
    if (remote_out_[s].capacity() > kKeepCapacity) remote_out_[s].shrink_to_fit();
  }
  remote_replies_ = 0;
}

asio::awaitable<Session::Verdict> Session::drain(protocol::RequestParser& parser, ReplySink& sink) {
  ShardCounters& counters = home_shard().counters();
  for (;;) {
    if (sink.stopping()) break;  // shutting down: write what was computed, execute no more
    // Redis's pre-authentication limits (at most 10 arguments, bulks of at most 16384 bytes)
    // apply to every command parsed while the client still has to AUTH.
    parser.set_unauthenticated(!authenticated_);
    const auto status = parser.next(argv_);
    if (status == protocol::RequestParser::Status::kNeedMore) break;
    if (status == protocol::RequestParser::Status::kError) {
      writer_.error(parser.error());
      co_await flush(sink);
      co_return Verdict::kClose;
    }
    if (argv_.empty()) continue;
    // Another session's atomic operation holds the home shard: wait for it between commands
    // (the command below may run on the home store at once).
    if (home_shard().holder() != 0) co_await wait_home_free();
    ++counters.commands;
    if (const Barrier barrier = dispatch_(*this, argv_)) {
      // Remote replies are written first (in bounded rounds); then the rest runs before it.
      if (remote_replies_ != 0 && !co_await flush(sink)) co_return Verdict::kClose;
      co_await settle();
      co_await barrier(*this, argv_);
    }
    if (close_after_reply_) {
      co_await flush(sink);
      co_return Verdict::kClose;
    }
    if (must_flush() && !co_await flush(sink)) co_return Verdict::kClose;
  }
  const bool written = co_await flush(sink);
  co_return written && !sink.stopping() ? Verdict::kContinue : Verdict::kClose;
}

}  // namespace tessera::server
