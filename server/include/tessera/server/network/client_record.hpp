// ClientRecord: one client connection as CLIENT LIST / CLIENT INFO / CLIENT KILL see it.
//
// Each shard owns the registry of its own connections (Shard::connections(), the intrusive list the
// idle sweep walks); a connection describes itself on its shard's thread
// (ConnectionHook::describe), so CLIENT LIST visits every shard once and each shard reads only what
// its own thread writes: the socket's addresses, the parser's buffer, and the session's id, name,
// transaction and last command (all changed on the home thread only).
#pragma once

#include <cstdint>
#include <string>

namespace tessera::server {

struct ClientRecord {
  std::uint64_t id = 0;
  std::string addr;   // "ip:port" of the peer ("" in process)
  std::string laddr;  // "ip:port" it connected to
  int fd = -1;
  std::string name;
  std::uint64_t age_s = 0;   // since the connection was accepted
  std::uint64_t idle_s = 0;  // since its last read or write
  bool in_multi = false;
  bool no_evict = false;
  bool monitor = false;
  std::int64_t multi = -1;      // commands queued in MULTI, -1 outside
  std::uint64_t qbuf = 0;       // bytes received, not yet executed
  std::uint64_t qbuf_free = 0;  // room left in the query buffer
  std::uint64_t tot_mem = 0;    // the buffers the connection holds
  std::string cmd;              // the last command ("client|list"), "NULL" before any
  int resp = 2;
};

// "id=3 addr=127.0.0.1:45052 laddr=... resp=2": CLIENT LIST's line (without the newline), Redis
// 7.0.15's fields in its order; those Tessera has no counterpart for (pub/sub, tracking) read as a
// Redis client without them does.
std::string client_line(const ClientRecord& r);

class Session;
// The session's part of its record: id, name, addresses, transaction, last command, protocol.
void describe_session(const Session& s, ClientRecord& r);

}  // namespace tessera::server
