// Dispatch: one command from the table, checked in Redis's order (design note in
// tessera/server/commands/dispatch.hpp).
#include <tessera/server/commands/dispatch.hpp>

#include <string>
#include <utility>

#include <tessera/protocol/ascii.hpp>
#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/commands/cycle_clock.hpp>
#include <tessera/server/commands/monitor.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/persistence.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

const CommandSpec* find_subcommand(std::span<const CommandSpec> subs, std::string_view name) {
  for (const auto& s : subs) {
    if (protocol::iequals(s.name, name)) return &s;
  }
  return nullptr;
}

bool arity_ok(int arity, std::size_t argc) {
  return arity >= 0 ? argc == static_cast<std::size_t>(arity)
                    : argc >= static_cast<std::size_t>(-arity);
}

// What admit() decided: the command (or subcommand) to run, or nullptr after the refusal was
// written; `index` names the command for the statistics (0 when it is unknown: Redis counts an
// unknown command or subcommand only in errorstats).
struct Admitted {
  const CommandSpec* spec = nullptr;
  unsigned index = 0;
};

// The command argv names, and its statistics index, without any check.
Admitted lookup(Args argv) {
  const CommandSpec* top = find_command(argv[0]);
  if (top == nullptr) return {};
  if (top->subcommands.empty() || argv.size() < 2) {
    return {top, command_stats::index_of(*top, nullptr)};
  }
  const CommandSpec* sub = find_subcommand(top->subcommands, argv[1]);
  if (sub == nullptr) return {};
  return {sub, command_stats::index_of(*top, sub)};
}

// The checks, in Redis's order (server.c processCommand): existence, arity, authentication, then
// memory. A refusal (spec nullptr) has been written; its index is the command refused, if known.
Admitted admit(Session& session, Args argv) {
  protocol::ReplyWriter& reply = session.reply();
  const CommandSpec* spec = find_command(argv[0]);
  if (spec == nullptr) {
    reply.unknown_command(argv[0], argv.subspan(1));
    return {};
  }
  unsigned index = command_stats::index_of(*spec, nullptr);
  if (!arity_ok(spec->arity, argv.size())) {
    reply.wrong_arity(spec->name);
    return {nullptr, index};
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = find_subcommand(spec->subcommands, argv[1]);
    if (sub == nullptr) {
      reply.unknown_subcommand(argv[1], protocol::to_upper(spec->name));
      return {};
    }
    index = command_stats::index_of(*spec, sub);
    if (!arity_ok(sub->arity, argv.size())) {
      std::string full(spec->name);
      full += '|';
      full += sub->name;
      reply.wrong_arity(full);
      return {nullptr, index};
    }
    spec = sub;
  }
  if (!session.authenticated() && !(spec->flags & kCmdNoAuth)) {
    reply.error(errors::kNoAuth);
    return {nullptr, index};
  }
  // server.c processCommand: a monitor (a replica there) may not touch the keyspace.
  if (session.monitor() && (spec->flags & (kCmdWrite | kCmdReadonly)) != 0) {
    reply.error("ERR Replica can't interact with the keyspace");
    return {nullptr, index};
  }
  if ((spec->flags & kCmdNoMulti) != 0 && session.multi().active) {
    reply.error("ERR Command not allowed inside a transaction");
    return {nullptr, index};
  }
  if ((spec->flags & kCmdDenyOom) != 0) {
    // With an allkeys-* policy the owning store evicts before the write, so no write is refused;
    // with a volatile-* one only while some key has a deadline to evict (as Redis's
    // performEvictions fails only when nothing qualifies).
    const StoreSettings& limits = session.state().store;
    const std::uint64_t limit = limits.maxmemory.load(std::memory_order_relaxed);
    const EvictionPolicy policy = limits.policy.load(std::memory_order_relaxed);
    const bool can_evict = policy != EvictionPolicy::kNoEviction &&
                           (!policy_is_volatile(policy) || session.shards().deadline_keys() != 0);
    if (limit != 0 && !can_evict && session.shards().used_memory() > limit) {
      reply.error(errors::kOom);
      return {nullptr, index};
    }
  }
  // server.c processCommand: after a failed background save (with save rules set and
  // stop-writes-on-bgsave-error yes) writes, and PING, get -MISCONF.
  if (const Persistence* p = session.state().persistence;
      p != nullptr && ((spec->flags & kCmdWrite) != 0 || spec->name == "ping") &&
      p->writes_refused()) {
    reply.error(kMisconfError);
    return {nullptr, index};
  }
  if (const AppendOnlyFile* aof = session.state().aof;
      aof != nullptr && ((spec->flags & kCmdWrite) != 0 || spec->name == "ping") &&
      aof->write_failed()) {
    reply.error(aof->misconf_text());
    return {nullptr, index};
  }
  return {spec, index};
}

// The reply `w` holds from `before` on is an error (`w` still being where the session writes).
std::string_view error_written(Session& session, protocol::ReplyWriter* w, std::size_t before) {
  if (&session.reply() != w) return {};
  const std::string& out = w->out();
  if (out.size() <= before || out[before] != '-') return {};
  return std::string_view(out).substr(before);
}

// A barrier, timed and counted like a handler (dispatch returns this instead of the command's own).
asio::awaitable<void> counted_barrier(Session& session, Args argv) {
  const Admitted a = lookup(argv);
  protocol::ReplyWriter* w = &session.reply();
  const std::size_t before = w->out().size();
  const CycleClock::Ticks start = CycleClock::now();
  co_await a.spec->async(session, argv);
  const std::uint64_t ns = CycleClock::ns_since(start);
  // Barriers make no key operations of their own (EXEC's queued commands are counted as they are
  // dispatched), so an error here is the barrier's reply.
  const std::string_view error = error_written(session, w, before);
  if (!error.empty()) command_stats::record_error_reply(error);
  command_stats::record_call(a.index, ns, !error.empty());
  if ((a.spec->flags & kCmdSkipSlowlog) == 0) slowlog_record(session, argv, ns);
  if (session.feeding_monitors() && (a.spec->flags & kCmdAdmin) == 0) feed_monitors(session, argv);
}

// Between MULTI and EXEC a command is queued (multi.c queueMultiCommand): its arguments are
// copied (the request buffer moves on) and counted against client-query-buffer-limit with a
// fixed overhead per command and argument. Past the limit the queue is freed and the transaction
// aborted (EXEC will answer EXECABORT); after an abort nothing more is kept, but commands are
// still answered +QUEUED, as Redis answers them.
constexpr std::uint64_t kQueuedCommandOverhead = 64;
constexpr std::uint64_t kQueuedArgOverhead = 32;

void queue_command(Session& session, Args argv) {
  MultiState& m = session.multi();
  if (!m.aborted) {
    std::uint64_t bytes = kQueuedCommandOverhead;
    for (std::string_view a : argv) bytes += kQueuedArgOverhead + a.size();
    if (m.queued_bytes + bytes > session.state().config.client_query_buffer_limit) {
      m.aborted = true;
      m.queued.clear();
      m.queued.shrink_to_fit();
      m.queued_bytes = 0;
      session.reply().error(errors::kMultiQueueFull);
      return;
    }
    m.queued.emplace_back(argv.begin(), argv.end());
    m.queued_bytes += bytes;
  }
  session.reply().simple("QUEUED");
}

}  // namespace

const CommandSpec* resolve_command(Args argv) { return lookup(argv).spec; }

Barrier dispatch(Session& session, Args argv) {
  protocol::ReplyWriter* w = &session.reply();
  const std::size_t before = w->out().size();
  const Admitted a = admit(session, argv);
  session.set_last_command(a.index);
  const CommandSpec* spec = a.spec;
  MultiState& m = session.multi();
  if (spec == nullptr) {
    if (a.index != 0) command_stats::record_rejected(a.index);
    command_stats::record_error_reply(error_written(session, w, before));
    // multi.c flagTransaction: a command refused while queueing dooms the transaction.
    if (m.active) m.aborted = true;
    return nullptr;
  }
  if (m.active && (spec->flags & kCmdNoQueue) == 0) {
    queue_command(session, argv);
    const std::string_view error = error_written(session, w, before);
    if (!error.empty()) command_stats::record_error_reply(error);
    return nullptr;
  }
  // A barrier: the session settles and awaits it.
  if (spec->sync == nullptr) return &counted_barrier;
  // Key operations made by the handler carry its index; one that runs inline (home shard) and
  // fails counts its error itself, so it is counted here only if nothing counted it yet.
  const std::uint64_t errors_before = command_stats::errors_counted_here();
  const std::uint32_t outer = std::exchange(dispatching_command, a.index);
  const CycleClock::Ticks start = CycleClock::now();
  spec->sync(session, argv);
  const std::uint64_t ns = CycleClock::ns_since(start);
  dispatching_command = outer;
  const std::string_view error = error_written(session, w, before);
  const bool failed = !error.empty() && command_stats::errors_counted_here() == errors_before;
  if (failed) command_stats::record_error_reply(error);
  command_stats::record_call(a.index, ns, failed);
  slowlog_record(session, argv, ns);
  // server.c call(): monitors see a command once it ran, admin commands never.
  if (session.feeding_monitors() && (spec->flags & kCmdAdmin) == 0) feed_monitors(session, argv);
  return nullptr;
}

}  // namespace tessera::server
