// The connection core shared by Client and AsyncClient (private to the library).
//
// One TCP socket, one ReplyReader, and a watchdog timer. round_trip() writes a batch of encoded
// commands and reads exactly as many replies, in order. Small batches are written, then read;
// batches over kConcurrentWriteBytes are written and read at the same time, so that a server which
// stops reading while its replies are not consumed can never deadlock with us.
//
// Timeouts: the watchdog timer, armed for the duration of one operation, cancels the socket when it
// fires; the operation then fails with TimeoutError. The timer's handler holds only a weak pointer
// to the socket state and checks a generation number, so a late handler (the operation finished
// just as the timer fired, or the Connection is gone) does nothing.
//
// Invariant: after any failure other than an error reply the socket is closed. A reply stream that
// lost its place (a timeout mid-batch, a malformed byte) must never be read again, or the next
// command would receive an earlier command's reply.
#pragma once

#include <tessera/client/errors.hpp>
#include <tessera/client/options.hpp>
#include <tessera/protocol/reply_reader.hpp>
#include <tessera/protocol/reply_writer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::client::detail {

// A non-owning callable reference: cheaper than std::function on the per-reply path.
class ReplySink {
 public:
  template <class F>
  ReplySink(F& f)  // NOLINT: implicit on purpose, like std::function_ref
      : object_(&f),
        call_([](void* o, std::size_t i, protocol::Reply& r) { (*static_cast<F*>(o))(i, r); }) {}
  void operator()(std::size_t i, protocol::Reply& r) const { call_(object_, i, r); }

 private:
  void* object_;
  void (*call_)(void*, std::size_t, protocol::Reply&);
};

// The name of the command in an encoded batch (its first argument), for error messages.
std::string command_name(std::string_view encoded);

class Connection {
 public:
  static constexpr std::size_t kConcurrentWriteBytes = 64 * 1024;

  explicit Connection(boost::asio::any_io_executor executor);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Closes any current connection, connects, and authenticates when options.password is set.
  boost::asio::awaitable<void> connect(const ClientOptions& options);
  // Writes `bytes` (n encoded commands) and hands the n replies to sink in order. `what` names the
  // operation in error messages (empty: the first command's name).
  boost::asio::awaitable<void> round_trip(std::string_view bytes, std::size_t n, ReplySink sink,
                                          std::chrono::milliseconds timeout,
                                          std::string_view what = {});
  // One command, one reply.
  boost::asio::awaitable<protocol::Reply> exec(std::string_view bytes,
                                               std::chrono::milliseconds timeout,
                                               std::string_view what = {});
  void close(std::string reason = "closed by the client");
  bool is_open() const;
  const std::string& peer() const { return peer_; }

 private:
  struct State;
  class Busy;
  class Watchdog;
  boost::asio::awaitable<void> write_all(std::string_view bytes, const std::string& what);
  boost::asio::awaitable<void> read_replies(std::size_t n, ReplySink sink, const std::string& what);
  [[noreturn]] void fail_io(const boost::system::error_code& ec, const std::string& what,
                            bool connecting);

  std::shared_ptr<State> state_;
  std::optional<protocol::ReplyReader> reader_;
  std::string peer_;
  std::string closed_reason_ = "never connected";
  std::chrono::milliseconds timeout_{0};
  bool busy_ = false;
};

}  // namespace tessera::client::detail
