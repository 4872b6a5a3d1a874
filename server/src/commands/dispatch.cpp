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

}  // namespace

Barrier dispatch(Session& session, Args argv) {
  // Redis's order (server.c processCommand): existence, arity, authentication, then memory.
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
  if (spec->sync == nullptr) return spec->async;  // a barrier: the session settles and awaits it
  spec->sync(session, argv);
  return nullptr;
}

}  // namespace tessera::server
