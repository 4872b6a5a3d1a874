// KeyOp: one data operation on one key, as a command hands it to the shard that owns the key.
//
// A command family defines what the operation does (`run`: a plain function that calls the Store
// and writes that command's reply); the session only decides where and when it runs: at once when
// the key lives on the connection's home shard, or queued for the owning shard's one hop per
// batch. The fields are generic (a key, a value, two integers, flags) so that a new command (SET
// EX, INCRBY, GETRANGE, SETRANGE, GETEX...) needs a new `run` function and nothing else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <tessera/protocol/reply_writer.hpp>

namespace tessera::server {

class Store;

// The command the dispatcher is running on this thread (its statistics index, 0: none; set by
// commands/dispatch.cpp around a handler): every KeyOp made meanwhile carries it to the shard that
// runs it, which counts an error reply against it (commands/command_stats.hpp).
inline constinit thread_local std::uint32_t dispatching_command = 0;

struct KeyOp {
  // Runs on the owning shard's thread. Appends this command's reply bytes, if it has any, to `out`
  // and returns a count that multi-key commands sum (DEL, EXISTS), 0 otherwise. Must not throw:
  // the families wrap their operations so that an allocation failure becomes an error reply.
  using Run = std::int64_t (*)(Store& store, const KeyOp& op, std::string& out);

  Run run = nullptr;
  // Views into the request (the parser's buffer), valid until the batch is flushed.
  std::string_view key = {};
  std::string_view value = {};
  std::int64_t param1 = 0;  // e.g. a deadline, an increment, a range start
  std::int64_t param2 = 0;  // e.g. a range end
  std::uint32_t flags = 0;  // the family's own option bits
  // The command that made it, for the statistics (dispatching_command above).
  std::uint32_t command = dispatching_command;
  // The protocol the requesting connection speaks (HELLO 2/3): `run` writes its reply in it, on
  // whichever shard it runs. Set by the session when it runs or queues the operation.
  protocol::RespVersion version = protocol::RespVersion::kResp2;
};

}  // namespace tessera::server
