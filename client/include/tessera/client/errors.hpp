// Errors of the Tessera client: one base class, four kinds.
//
// Every failure the client reports is an exception derived from tessera::client::Error, and
// Error::kind() says which of the four it is, so callers can either catch the derived type or
// switch on the kind:
//
//   ServerError      the server answered with an error reply (-ERR ..., -WRONGTYPE ...). The
//                    connection is still good: the next command can be sent right away.
//   TimeoutError     the connect or command timeout passed. The connection is closed (a late reply
//                    would be taken for the next command's), so call reconnect() before going on.
//   ConnectionError  the connection could not be made (refused, name not resolved) or was lost
//                    (closed or reset by the peer, or never opened). reason() tells which. Call
//                    reconnect() to go on.
//   ProtocolError    the bytes from the server are not valid RESP2/RESP3, or a reply has a shape
//                    the command cannot have (GET answered with an array). The connection is
//                    closed.
//
// A fifth kind, WatchConflictError (transaction.hpp), is thrown only by the optimistic-transaction
// helpers, when a watched key changed in every attempt: the connection is fine.
//
// Pipelines are the one exception to "error replies throw": Pipeline execution returns every reply,
// error replies included, as protocol::Reply values, so one failed command does not hide the
// replies of the others (see throw_if_error()).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tessera::client {

class Error : public std::runtime_error {
 public:
  enum class Kind { kServer, kTimeout, kConnection, kProtocol, kWatchConflict };
  Error(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};

// The server replied with an error. message() is the reply text without the leading '-';
// prefix() its first word ("ERR", "WRONGTYPE", "NOAUTH", "WRONGPASS", ...).
class ServerError : public Error {
 public:
  ServerError(std::string_view command, std::string message);
  const std::string& message() const noexcept { return message_; }
  std::string_view prefix() const noexcept;

 private:
  std::string message_;
};

class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& what) : Error(Kind::kTimeout, what) {}
};

class ConnectionError : public Error {
 public:
  enum class Reason {
    kRefused,       // nothing listens there (ECONNREFUSED)
    kResolve,       // the host name could not be resolved
    kClosed,        // the server closed the connection (EOF), or reset it
    kNotConnected,  // the connection was lost earlier, or never made: call reconnect()
    kIo,            // any other socket error
  };
  ConnectionError(Reason reason, const std::string& what)
      : Error(Kind::kConnection, what), reason_(reason) {}
  Reason reason() const noexcept { return reason_; }

 private:
  Reason reason_;
};

class ProtocolError : public Error {
 public:
  explicit ProtocolError(const std::string& what) : Error(Kind::kProtocol, what) {}
};

}  // namespace tessera::client
