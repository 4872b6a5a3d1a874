// Session: the batch travels (design note in tessera/server/session/session.hpp).
#include <tessera/server/session/session.hpp>

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <tessera/server/persistence/aof.hpp>

namespace tessera::server {

namespace {
// Steps queued before the batch is flushed between two commands (each holds views and a few
// integers, about 90 bytes).
constexpr std::size_t kMaxSteps = 8192;
// Above this, a session gives its buffers back after a flush.
constexpr std::size_t kKeepCapacity = 1024 * 1024;
}  // namespace

Session::Session(ShardSet& shards, ServerState& state, unsigned home, Dispatcher dispatch)
    : shards_(shards),
      state_(state),
      home_(home),
      dispatch_(dispatch),
      id_(state.next_client_id.fetch_add(1, std::memory_order_relaxed)),
      budget_(std::max<std::size_t>(state.config.reply_chunk_bytes, 1)),
      authenticated_(state.config.requirepass.empty()) {}

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

void Session::set_protocol(protocol::RespVersion version) {
  writer_.set_version(version);
  literal_writer_.set_version(version);
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
  // The append-only file: the operation's changes are appended as one unit at the release.
  for (unsigned s : held_) shards_.shard(s).store().begin_capture();
  co_return HoldGuard{this};
}

void Session::release_held() {
  ChangeLog* log = nullptr;
  std::vector<CapturedChanges> parts;
  for (unsigned s : held_) {
    Store& store = shards_.shard(s).store();
    if (store.change_log() == nullptr) continue;
    log = store.change_log();
    parts.push_back(store.end_capture());
  }
  if (log != nullptr) log->append_unit(parts);  // before any other work reaches these stores
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

void Session::seal_literal() {
  if (literals_.size() == literals_sealed_) return;
  steps_.push_back(
      Step{.kind = StepKind::kLiteral, .begin = literals_sealed_, .end = literals_.size()});
  literals_sealed_ = literals_.size();
}

void Session::add_step(const Step& step) {
  seal_literal();
  steps_.push_back(step);
}

void Session::key_op(const KeyOp& request, unsigned shard) {
  KeyOp op = request;
  op.version = writer_.version();  // its reply is written in this connection's protocol
  if (holding() || (steps_.empty() && shard == home_ && out_.size() < budget_)) {
    // Holding shards (an atomic command), or at home with nothing pending: at once.
    op.run(store_of(shard), op, out_);
    return;
  }
  add_step(Step{.op = op, .shard = shard, .kind = StepKind::kReplied});
}

// A group's step runs at once while the session holds shards (an atomic command), or while nothing
// is pending and it may run here (on the home shard, or on none); otherwise it queues behind the
// pending steps.
void Session::run_or_add(const Step& step) {
  const unsigned shard = step.shard == kAnyShard ? home_ : step.shard;
  if (holding() || (steps_.empty() && shard == home_)) {
    execute(step, store_of(shard));
  } else {
    add_step(step);
  }
}

void Session::begin_group() { run_or_add(Step{.kind = StepKind::kGroupBegin}); }

void Session::group_op(const KeyOp& request) {
  Step step{.op = request, .shard = shard_of(request.key), .kind = StepKind::kGroupOp};
  step.op.version = writer_.version();
  run_or_add(step);
}

void Session::end_group_sum() { run_or_add(Step{.kind = StepKind::kGroupSum}); }

void Session::end_group_ok() { run_or_add(Step{.kind = StepKind::kGroupOk}); }

void Session::execute(const Step& step, Store& store) {
  switch (step.kind) {
    case StepKind::kReplied:
      step.op.run(store, step.op, out_);
      break;
    case StepKind::kGroupOp: {
      if (group_failed_) break;
      const std::size_t mark = out_.size();
      const std::int64_t count = step.op.run(store, step.op, out_);
      if (out_.size() != mark) {  // its error: the group's reply, in place of the sum or +OK
        group_error_.assign(out_, mark);
        out_.resize(mark);
        group_failed_ = true;
      } else {
        group_sum_ += count;
      }
      break;
    }
    case StepKind::kGroupBegin:
      group_sum_ = 0;
      group_failed_ = false;
      group_error_.clear();
      break;
    case StepKind::kGroupSum:
    case StepKind::kGroupOk:
      if (group_failed_) {
        out_ += group_error_;
      } else if (step.kind == StepKind::kGroupSum) {
        writer_.integer(group_sum_);
      } else {
        writer_.ok();
      }
      break;
    case StepKind::kLiteral:
      out_.append(literals_, step.begin, step.end - step.begin);
      break;
  }
}

void Session::advance(unsigned shard) {
  Store& store = shards_.shard(shard).store();
  while (!chain_stops()) {
    const Step& step = steps_[next_];
    if (step.shard != shard && step.shard != kAnyShard) return;
    execute(step, store);
    ++next_;
  }
}

// One leg of the chain: runs on `shard` what is its own (once no other session holds that shard),
// then posts the chain on to the next step's shard, or resumes the session at home (with the
// exception a step threw, if any). The session's coroutine is suspended meanwhile, so only the
// shard running a leg touches it.
template <class Handler>
void Session::post_leg(unsigned shard, Handler handler) {
  shards_.post(shard, [this, shard, handler = std::move(handler)]() mutable {
    shards_.shard(shard).when_free([this, shard, handler = std::move(handler)]() mutable {
      std::exception_ptr error;
      try {
        advance(shard);
      } catch (...) {
        error = std::current_exception();
      }
      if (!error && !chain_stops() && steps_[next_].shard != home_) {
        post_leg(steps_[next_].shard, std::move(handler));
        return;
      }
      const auto home = asio::get_associated_executor(handler);
      asio::post(home,
                 [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
    });
  });
}

asio::awaitable<void> Session::run_steps() {
  seal_literal();
  for (;;) {
    if (home_shard().holder() != 0) co_await wait_home_free();
    advance(home_);
    if (chain_stops()) co_return;
    co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
        [this](auto handler) { post_leg(steps_[next_].shard, std::move(handler)); },
        asio::use_awaitable);
  }
}

asio::awaitable<bool> Session::write_out(ReplySink& sink) {
  if (out_.empty()) co_return true;
  // appendfsync always: no reply leaves before the writes it follows are on disk.
  if (AppendOnlyFile* aof = state_.aof; aof != nullptr && aof->fsync_always()) {
    co_await aof->durable();
  }
  const bool ok = co_await sink.write(out_);
  out_.clear();
  co_return ok;
}

asio::awaitable<bool> Session::run_pending(ReplySink& sink) {
  bool ok = true;
  while (ok && next_ < steps_.size()) {
    co_await run_steps();
    if (out_.size() >= budget_) ok = co_await write_out(sink);
  }
  steps_.clear();
  next_ = 0;
  literals_.clear();
  literals_sealed_ = 0;
  co_return ok;
}

asio::awaitable<bool> Session::flush(ReplySink& sink) {
  bool ok = co_await run_pending(sink);
  if (ok) ok = co_await write_out(sink);
  reset_batch();
  co_return ok;
}

bool Session::must_flush() const {
  return out_.size() >= budget_ || literals_.size() >= budget_ || steps_.size() >= kMaxSteps;
}

void Session::reset_batch() {
  out_.clear();
  if (out_.capacity() > kKeepCapacity) out_.shrink_to_fit();
  if (literals_.capacity() > kKeepCapacity) literals_.shrink_to_fit();
  if (steps_.capacity() > kMaxSteps) steps_.shrink_to_fit();
  if (group_error_.capacity() > kKeepCapacity) group_error_.shrink_to_fit();
}

void Session::release_buffers() {
  out_.clear();
  out_.shrink_to_fit();
  literals_.clear();
  literals_.shrink_to_fit();
  steps_.clear();
  steps_.shrink_to_fit();
  next_ = 0;
  literals_sealed_ = 0;
  group_error_.clear();
  group_error_.shrink_to_fit();
  argv_.clear();
  argv_.shrink_to_fit();
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
      reply().error(parser.error());
      co_await flush(sink);
      co_return Verdict::kClose;
    }
    if (argv_.empty()) continue;
    // Another session's atomic operation holds the home shard: wait for it between commands
    // (the command below may run on the home store at once).
    if (home_shard().holder() != 0) co_await wait_home_free();
    ++counters.commands;
    if (const Barrier barrier = dispatch_(*this, argv_)) {
      if (!co_await run_pending(sink)) co_return Verdict::kClose;
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
