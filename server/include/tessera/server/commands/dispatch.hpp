// Dispatch: how a session runs one command, in Redis's order (server.c processCommand): the
// command exists, its arity fits, the subcommand exists and its arity fits, the client is
// authenticated (or the command is allowed before AUTH), memory is under maxmemory (for commands
// that may grow it). Each check failing writes Redis's error text; otherwise the command's
// handler runs, or its barrier is returned for the session to run (session/session.hpp). This is
// the Dispatcher the network layer and InProcessSession give each Session.
#pragma once

#include <tessera/server/session/session.hpp>

namespace tessera::server {

// Between MULTI and EXEC, a command that passes the checks is queued (+QUEUED) instead, unless
// it is one of those that never are (kCmdNoQueue); one that fails them aborts the transaction.
Barrier dispatch(Session& session, Args argv);

struct CommandSpec;
// The command, or its subcommand, that argv names (nullptr when unknown); no checks, no effects.
const CommandSpec* resolve_command(Args argv);

}  // namespace tessera::server
