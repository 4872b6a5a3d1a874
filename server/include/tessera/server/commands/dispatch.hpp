// Dispatch: how a session runs one command, in Redis's order (server.c processCommand): the
// command exists, its arity fits, the subcommand exists and its arity fits, the client is
// authenticated (or the command is allowed before AUTH), memory is under maxmemory (for commands
// that may grow it). Each check failing writes Redis's error text; otherwise the command's
// handler runs, or its barrier is returned for the session to run (session/session.hpp). This is
// the Dispatcher the network layer and InProcessSession give each Session.
#pragma once

#include <tessera/server/session/session.hpp>

namespace tessera::server {

Barrier dispatch(Session& session, Args argv);

}  // namespace tessera::server
