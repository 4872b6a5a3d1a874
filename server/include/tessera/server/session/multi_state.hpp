// A session's transaction state (MULTI ... EXEC, WATCH): what commands/transactions.cpp keeps
// between commands. Plain data; the session owns it, the transaction family reads and writes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::server {

struct MultiState {
  // Between MULTI and EXEC/DISCARD: commands are queued instead of run.
  bool active = false;
  // A command was refused while queueing (unknown, wrong arity, NOAUTH, OOM, queue full): EXEC
  // replies EXECABORT and discards the transaction (multi.c flagTransaction).
  bool aborted = false;
  // While EXEC runs the queued commands (MONITOR refuses to start there, as Redis refuses a client
  // flagged deny-blocking).
  bool in_exec = false;
  std::vector<std::vector<std::string>> queued;
  // What the queue holds, counting a fixed overhead per command and argument; bounded by
  // client-query-buffer-limit (a client cannot grow the server's memory without bound by
  // queueing; past the bound the transaction is aborted and the queue freed).
  std::uint64_t queued_bytes = 0;

  struct WatchedKey {
    std::string key;
    unsigned shard = 0;
    std::uint64_t version = 0;  // the key's store version when WATCH registered it
  };
  std::vector<WatchedKey> watched;
};

}  // namespace tessera::server
