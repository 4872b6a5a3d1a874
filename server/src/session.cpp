// Session: batch execution with one hop per remote shard per batch (design note in session.hpp).
#include <tessera/server/session.hpp>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tessera/server/commands.hpp>
#include <tessera/server/shard_calls.hpp>

namespace tessera::server {

namespace {
// Remote reply-bearing operations per flush, at most (the adaptive cap's ceiling), and remote
// operations of any kind (those hold only views and counts).
constexpr std::size_t kMaxRemoteReplies = 1024;
constexpr std::size_t kMaxRemoteOps = 8192;
// Above this, an idle session gives its buffers back after a flush.
constexpr std::size_t kKeepCapacity = 1024 * 1024;

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string upper(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
  return r;
}

const CommandSpec* find_sub(std::span<const CommandSpec> subs, std::string_view name) {
  for (const auto& s : subs) {
    if (s.name.size() != name.size()) continue;
    bool eq = true;
    for (std::size_t i = 0; i < name.size() && eq; ++i) eq = ascii_lower(name[i]) == s.name[i];
    if (eq) return &s;
  }
  return nullptr;
}

bool arity_ok(int arity, std::size_t argc) {
  return arity >= 0 ? argc == static_cast<std::size_t>(arity)
                    : argc >= static_cast<std::size_t>(-arity);
}
}  // namespace

Session::Session(ShardSet& shards, ServerState& state, unsigned home)
    : shards_(shards),
      state_(state),
      home_(home),
      id_(state.next_client_id.fetch_add(1, std::memory_order_relaxed)),
      authenticated_(state.config.requirepass.empty()),
      remote_ops_(shards.size()),
      remote_done_(shards.size(), 0),
      remote_from_(shards.size(), 0),
      remote_out_(shards.size()) {}

Session::RemoteOp& Session::queue_remote(unsigned shard, OpKind kind, std::string_view key,
                                         std::string_view value, std::uint8_t flags) {
  auto& ops = remote_ops_[shard];
  if (ops.size() == remote_done_[shard]) remote_shards_.push_back(shard);
  ops.push_back(RemoteOp{kind, flags, key, value});
  ++remote_pending_;
  return ops.back();
}

void Session::op(OpKind kind, std::string_view key, std::string_view value, std::uint8_t flags) {
  const unsigned s = shards_.shard_of(key);
  if (s == home_) {
    home_shard().apply(kind, flags, key, value, out_);
    return;
  }
  if (kind == OpKind::kSetSilent) {
    queue_remote(s, kind, key, value, flags);
    return;
  }
  if (kind == OpKind::kSet && flags == 0) {
    // The reply of a plain SET does not depend on the shard's state: answer now, run it later.
    queue_remote(s, OpKind::kSetSilent, key, value, 0);
    writer_.ok();
    return;
  }
  queue_remote(s, kind, key, value, flags);
  holes_.push_back(Hole{out_.size(), Hole::Kind::kBytes, static_cast<std::uint16_t>(s),
                        static_cast<std::uint32_t>(remote_ops_[s].size() - 1), 0, 0, 0});
  ++remote_replies_;
}

void Session::begin_sum() {
  in_sum_ = true;
  sum_pos_ = out_.size();
  sum_base_ = 0;
  sum_refs_begin_ = static_cast<std::uint32_t>(sum_refs_.size());
}

void Session::sum_op(OpKind kind, std::string_view key) {
  const unsigned s = shards_.shard_of(key);
  if (s == home_) {
    sum_base_ += home_shard().apply(kind, 0, key, {}, out_);
    return;
  }
  queue_remote(s, kind, key, {}, 0);
  sum_refs_.emplace_back(static_cast<std::uint16_t>(s),
                         static_cast<std::uint32_t>(remote_ops_[s].size() - 1));
}

void Session::end_sum() {
  in_sum_ = false;
  const auto refs_end = static_cast<std::uint32_t>(sum_refs_.size());
  if (refs_end == sum_refs_begin_) {
    writer_.integer(sum_base_);
    return;
  }
  holes_.push_back(Hole{sum_pos_, Hole::Kind::kSum, 0, 0, sum_base_, sum_refs_begin_, refs_end});
}

asio::awaitable<void> Session::settle() {
  if (remote_pending_ == 0) co_return;
  // Each shard with queued operations gets one closure running them in order (in parallel across
  // shards); the views in the operations stay valid because the parser's buffer is not touched
  // until this coroutine resumes.
  for (unsigned s : remote_shards_) remote_from_[s] = remote_done_[s];
  auto job = [this](Shard& shard) {
    const unsigned s = shard.id();
    auto& ops = remote_ops_[s];
    std::string& out = remote_out_[s];
    for (std::size_t i = remote_from_[s]; i < ops.size(); ++i) {
      RemoteOp& o = ops[i];
      o.begin = out.size();
      o.count = shard.apply(o.kind, o.flags, o.key, o.value, out);
      o.end = out.size();
    }
  };
  for (unsigned s : remote_shards_)
    remote_done_[s] = static_cast<std::uint32_t>(remote_ops_[s].size());
  co_await run_on_shards(shards_, home_shard().context(), remote_shards_, job);
  remote_shards_.clear();
  remote_pending_ = 0;
}

bool Session::must_flush() const {
  return out_.size() >= state_.config.reply_chunk_bytes || remote_replies_ >= remote_reply_cap_ ||
         remote_pending_ >= kMaxRemoteOps;
}

asio::awaitable<bool> Session::flush(ReplySink& sink) {
  co_await settle();
  std::string_view data = out_;
  if (!holes_.empty()) {
    std::size_t largest = 0;
    assembled_.clear();
    protocol::ReplyWriter w(assembled_);
    std::size_t prev = 0;
    for (const Hole& h : holes_) {
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
    assembled_.append(out_, prev, std::string::npos);
    data = assembled_;
    // Size the next batch's remote reply cap so that it stays near one chunk of bytes.
    const std::size_t chunk = state_.config.reply_chunk_bytes;
    remote_reply_cap_ =
        std::clamp<std::size_t>(chunk / std::max<std::size_t>(largest, 1), 1, kMaxRemoteReplies);
  }
  bool ok = true;
  if (!data.empty()) ok = co_await sink.write(data);
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
    ++counters.commands;
    if (const CommandSpec* barrier = dispatch(argv_)) {
      co_await settle();
      co_await barrier->async(*this, argv_);
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

const CommandSpec* Session::dispatch(Args argv) {
  // Redis's order (server.c processCommand): existence, arity, authentication, then memory.
  const CommandSpec* spec = find_command(argv[0]);
  if (spec == nullptr) {
    writer_.unknown_command(argv[0], argv.subspan(1));
    return nullptr;
  }
  if (!arity_ok(spec->arity, argv.size())) {
    writer_.wrong_arity(spec->name);
    return nullptr;
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = find_sub(spec->subcommands, argv[1]);
    if (sub == nullptr) {
      writer_.unknown_subcommand(argv[1], upper(spec->name));
      return nullptr;
    }
    if (!arity_ok(sub->arity, argv.size())) {
      std::string full(spec->name);
      full += '|';
      full += sub->name;
      writer_.wrong_arity(full);
      return nullptr;
    }
    spec = sub;
  }
  if (!authenticated_ && !(spec->flags & kCmdNoAuth)) {
    writer_.error("NOAUTH Authentication required.");
    return nullptr;
  }
  if ((spec->flags & kCmdDenyOom) != 0) {
    const std::uint64_t limit = state_.maxmemory.load(std::memory_order_relaxed);
    if (limit != 0 && shards_.used_memory() > limit) {
      writer_.error("OOM command not allowed when used memory > 'maxmemory'.");
      return nullptr;
    }
  }
  if (spec->sync == nullptr) return spec;  // a barrier: the caller settles and awaits it
  spec->sync(*this, argv);
  return nullptr;
}

}  // namespace tessera::server
