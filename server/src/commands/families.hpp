// What the command families share (private to server/src/commands/): each family's rows, for
// command_table.cpp to assemble; the adaptor that turns a family's key operation into a KeyOp::Run;
// and small helpers more than one family uses.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/commands/command_stats.hpp>
#include <tessera/server/commands/command_table.hpp>
#include <tessera/server/shard/key_op.hpp>
#include <tessera/server/store/store.hpp>

#include "errors.hpp"

namespace tessera::server {

// The rows of each family (one file each).
std::span<const CommandSpec> string_commands();         // strings.cpp
std::span<const CommandSpec> keyspace_commands();       // keyspace.cpp
std::span<const CommandSpec> connection_commands();     // connection.cpp
std::span<const CommandSpec> server_commands();         // server.cpp
std::span<const CommandSpec> introspection_commands();  // introspection.cpp
std::span<const CommandSpec> transaction_commands();    // transactions.cpp
std::span<const CommandSpec> expiry_commands();         // expiry.cpp
std::span<const CommandSpec> slowlog_commands();        // slowlog.cpp
std::span<const CommandSpec> monitor_commands();        // monitor.cpp

// CLIENT's subcommands that read the connection registry (clients.cpp).
asio::awaitable<void> cmd_client_list(Session& s, Args a);
asio::awaitable<void> cmd_client_kill(Session& s, Args a);
void cmd_client_info(Session& s, Args a);
void cmd_client_no_evict(Session& s, Args a);

// The slow log (slowlog.cpp): dispatch offers it every command that ran, with its duration.
void slowlog_record(Session& s, Args argv, std::uint64_t ns);
// Whether argument i of argv is a secret that SLOWLOG and MONITOR show as "(redacted)".
bool argument_redacted(Args argv, std::size_t i);
std::span<const CommandSpec> persistence_commands();  // persistence.cpp

// Redis-compatible identity: tools and client libraries gate features on redis_version, so INFO and
// HELLO report the Redis version whose behaviour Tessera follows (7.0.15) and name Tessera's own
// version separately (INFO tessera_version).
inline constexpr std::string_view kRedisVersion = "7.0.15";

// A family's key operation: runs on the owning shard, calls the store, writes the reply.
using KeyOpBody = std::int64_t (*)(Store&, const KeyOp&, protocol::ReplyWriter&);

// KeyOp::Run for `Body`: an allocation failure leaves the store unchanged (its strong guarantee),
// drops whatever part of the reply was written, and replies "-ERR out of memory" instead; nothing
// escapes to the shard's thread.
// An error reply counts as a failure of the command that made the operation, on the thread that
// runs it (commands/command_stats.hpp).
template <KeyOpBody Body>
std::int64_t guarded(Store& store, const KeyOp& op, std::string& out) noexcept {
  const std::size_t mark = out.size();
  std::int64_t result = 0;
  try {
    protocol::ReplyWriter w(out, op.version);
    result = Body(store, op, w);
  } catch (const std::bad_alloc&) {
    out.resize(mark);
    protocol::ReplyWriter(out).error(errors::kOutOfMemory);
  }
  if (out.size() > mark && out[mark] == '-') [[unlikely]] {
    command_stats::record_failed_op(op.command, std::string_view(out).substr(mark));
  }
  return result;
}

// Runs body(), which reads and writes the held stores (Session::store_of) and writes the reply,
// with `shards` held by the session (shard/shard_hold.hpp): every other client sees all of its
// effects or none. An allocation failure drops the partial reply and answers "-ERR out of
// memory" (each store write keeps its strong guarantee; the writes before it stay).
template <class Body>
asio::awaitable<void> atomically(Session& s, std::vector<unsigned> shards, Body body) {
  auto hold = co_await s.hold(std::move(shards));
  std::string& out = s.reply().out();
  const std::size_t mark = out.size();
  try {
    body();
  } catch (const std::bad_alloc&) {
    out.resize(mark);
    s.reply().error(errors::kOutOfMemory);
  }
}

// "<CONTAINER> <subcommand> ..." help replies (CLIENT HELP, CONFIG HELP, COMMAND HELP).
void write_help(Session& s, std::string_view container,
                std::initializer_list<std::string_view> lines);

// Argument docs more than one family uses.
inline constexpr ArgDoc kKeyArg[] = {{.name = "key", .type = "key"}};
inline constexpr ArgDoc kKeysArg[] = {{.name = "key", .type = "key", .multiple = true}};
inline constexpr ArgDoc kSubcommandArg[] = {{.name = "subcommand", .type = "string"}};

}  // namespace tessera::server
