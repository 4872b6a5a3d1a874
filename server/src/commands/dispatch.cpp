// Dispatch: one command from the table, checked in Redis's order (design note in
// tessera/server/commands/dispatch.hpp).
#include <tessera/server/commands/dispatch.hpp>

#include <string>

#include <tessera/protocol/ascii.hpp>

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

// The checks, in Redis's order (server.c processCommand): existence, arity, authentication, then
// memory. Returns the command (or subcommand) to run, or nullptr after writing the refusal.
const CommandSpec* admit(Session& session, Args argv) {
  protocol::ReplyWriter& reply = session.reply();
  const CommandSpec* spec = find_command(argv[0]);
  if (spec == nullptr) {
    reply.unknown_command(argv[0], argv.subspan(1));
    return nullptr;
  }
  if (!arity_ok(spec->arity, argv.size())) {
    reply.wrong_arity(spec->name);
    return nullptr;
  }
  if (!spec->subcommands.empty() && argv.size() >= 2) {
    const CommandSpec* sub = find_subcommand(spec->subcommands, argv[1]);
    if (sub == nullptr) {
      reply.unknown_subcommand(argv[1], protocol::to_upper(spec->name));
      return nullptr;
    }
    if (!arity_ok(sub->arity, argv.size())) {
      std::string full(spec->name);
      full += '|';
      full += sub->name;
      reply.wrong_arity(full);
      return nullptr;
    }
    spec = sub;
  }
  if (!session.authenticated() && !(spec->flags & kCmdNoAuth)) {
    reply.error(errors::kNoAuth);
    return nullptr;
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
      return nullptr;
    }
  }
  return spec;
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

const CommandSpec* resolve_command(Args argv) {
  const CommandSpec* spec = find_command(argv[0]);
  if (spec != nullptr && !spec->subcommands.empty() && argv.size() >= 2) {
    spec = find_subcommand(spec->subcommands, argv[1]);
  }
  return spec;
}

Barrier dispatch(Session& session, Args argv) {
  const CommandSpec* spec = admit(session, argv);
  MultiState& m = session.multi();
  if (spec == nullptr) {
    // multi.c flagTransaction: a command refused while queueing dooms the transaction.
    if (m.active) m.aborted = true;
    return nullptr;
  }
  if (m.active && (spec->flags & kCmdNoQueue) == 0) {
    queue_command(session, argv);
    return nullptr;
  }
  if (spec->sync == nullptr) return spec->async;  // a barrier: the session settles and awaits it
  spec->sync(session, argv);
  return nullptr;
}

}  // namespace tessera::server
