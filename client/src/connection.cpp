#include "connection.hpp"

#include <tessera/protocol/ascii.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <stdexcept>
#include <utility>

namespace tessera::client::detail {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Connection::State {
  explicit State(const asio::any_io_executor& ex) : socket(ex), resolver(ex), timer(ex) {}
  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer timer;
  std::uint64_t generation = 0;  // which operation the armed timer belongs to
  bool timed_out = false;        // the watchdog fired during the current operation
};

// Arms the timer for one operation; disarms it when the operation ends, however it ends.
class Connection::Watchdog {
 public:
  Watchdog(const std::shared_ptr<State>& state, std::chrono::milliseconds timeout) : state_(state) {
    state->timed_out = false;
    if (timeout.count() <= 0) return;
    armed_ = true;
    std::uint64_t generation = ++state->generation;
    state->timer.expires_after(timeout);
    state->timer.async_wait([weak = std::weak_ptr<State>(state), generation](error_code ec) {
      if (ec) return;  // cancelled: the operation finished in time
      auto s = weak.lock();
      if (!s || s->generation != generation) return;  // a later operation owns the timer now
      s->timed_out = true;
      error_code ignored;
      s->socket.cancel(ignored);
      s->resolver.cancel();
    });
  }
  ~Watchdog() {
    if (!armed_) return;
    ++state_->generation;
    state_->timer.cancel();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::shared_ptr<State> state_;
  bool armed_ = false;
};

class Connection::Busy {
 public:
  explicit Busy(bool& flag) : flag_(flag) {
    if (flag_) {
      throw std::logic_error(
          "tessera::client: an operation is already in progress on this connection (one at a "
          "time per client; use a Pipeline or another client for concurrency)");
    }
    flag_ = true;
  }
  ~Busy() { flag_ = false; }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  bool& flag_;
};

std::string command_name(std::string_view encoded) {
  // "*N\r\n$L\r\n<name>\r\n..."
  auto first = encoded.find("\r\n$");
  if (first == std::string_view::npos) return "command";
  auto len_begin = first + 3;
  auto len_end = encoded.find("\r\n", len_begin);
  std::size_t len = 0;
  if (len_end == std::string_view::npos ||
      std::from_chars(encoded.data() + len_begin, encoded.data() + len_end, len).ec !=
          std::errc()) {
    return "command";
  }
  return protocol::to_upper(encoded.substr(len_end + 2, std::min<std::size_t>(len, 32)));
}

Connection::Connection(asio::any_io_executor executor)
    : state_(std::make_shared<State>(executor)) {}

Connection::~Connection() {
  error_code ignored;
  state_->socket.close(ignored);
}

bool Connection::is_open() const { return state_->socket.is_open(); }

void Connection::close(std::string reason) {
  if (state_->socket.is_open()) {
    error_code ignored;
    state_->socket.shutdown(tcp::socket::shutdown_both, ignored);
    state_->socket.close(ignored);
  }
  closed_reason_ = std::move(reason);
}

void Connection::fail_io(const error_code& ec, const std::string& what, bool connecting) {
  const bool timed_out = state_->timed_out;
  std::string where = (connecting ? "connect to " : "") + peer_;
  if (timed_out) {
    std::string msg =
        connecting ? where + ": not connected within " + std::to_string(timeout_.count()) + " ms"
                   : what + ": no reply from " + peer_ + " within " +
                         std::to_string(timeout_.count()) + " ms";
    close("timed out");
    throw TimeoutError("tessera::client: " + msg + " (connection closed)");
  }
  using Reason = ConnectionError::Reason;
  Reason reason = Reason::kIo;
  std::string text;
  if (ec == asio::error::connection_refused) {
    reason = Reason::kRefused;
    text = "connection refused";
  } else if (ec == asio::error::eof) {
    reason = Reason::kClosed;
    text = "connection closed by the server";
  } else if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
             ec == asio::error::connection_aborted) {
    reason = Reason::kClosed;
    text = "connection lost (" + ec.message() + ")";
  } else if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
    reason = Reason::kNotConnected;
    text = "connection closed while the operation was in progress";
  } else if (ec.category() == asio::error::get_netdb_category() ||
             ec.category() == asio::error::get_addrinfo_category()) {
    reason = Reason::kResolve;
    text = "cannot resolve host: " + ec.message();
  } else {
    text = ec.message();
  }
  close(text);
  throw ConnectionError(
      reason, "tessera::client: " + (connecting ? where : what + " on " + where) + ": " + text);
}

asio::awaitable<void> Connection::connect(const ClientOptions& options) {
  if (options.protocol != 2 && options.protocol != 3) {
    throw std::invalid_argument("tessera::client: ClientOptions::protocol must be 2 or 3");
  }
  Busy busy(busy_);
  close("reconnecting");
  reader_.emplace();
  peer_ = options.host + ":" + std::to_string(options.port);
  timeout_ = options.connect_timeout;
  {
    Watchdog watchdog(state_, options.connect_timeout);
    error_code ec;
    auto address = asio::ip::make_address(options.host, ec);
    if (!ec) {
      tcp::endpoint endpoint(address, options.port);
      std::tie(ec) = co_await state_->socket.async_connect(endpoint, kTuple);
      if (ec) fail_io(ec, "connect", true);
    } else {
      auto [rec, results] = co_await state_->resolver.async_resolve(
          options.host, std::to_string(options.port), kTuple);
      if (rec) fail_io(rec, "connect", true);
      auto [cec, endpoint] = co_await asio::async_connect(state_->socket, results, kTuple);
      if (cec) fail_io(cec, "connect", true);
    }
    state_->socket.set_option(tcp::no_delay(true), ec);
  }
  // HELLO 3 carries the credentials itself (HELLO 3 AUTH user pass); under RESP2 it is AUTH.
  if (options.protocol == 3 || options.password) {
    const bool hello = options.protocol == 3;
    std::vector<std::string_view> argv;
    if (hello) argv = {"HELLO", "3"};
    if (options.password) {
      argv.push_back("AUTH");
      if (options.username) {
        argv.push_back(*options.username);
      } else if (hello) {
        argv.push_back("default");  // HELLO's AUTH always names the user
      }
      argv.push_back(*options.password);
    }
    std::string bytes;
    protocol::write_command(bytes, argv);
    const std::string_view what = hello ? "HELLO" : "AUTH";
    protocol::Reply reply;
    auto keep = [&](std::size_t, protocol::Reply& r) { reply = std::move(r); };
    busy_ = false;  // round_trip takes the flag itself
    co_await round_trip(bytes, 1, ReplySink(keep), options.connect_timeout, what);
    busy_ = true;
    if (reply.type == protocol::Reply::Type::kError) {
      close(std::string(what) + " rejected");
      throw ServerError(what, std::move(reply.str));
    }
    if (hello && reply.type != protocol::Reply::Type::kMap) {
      close("HELLO 3 answered without a map");
      throw ProtocolError("tessera::client: HELLO 3 to " + peer_ +
                          ": expected a RESP3 map reply (connection closed)");
    }
  }
  closed_reason_.clear();
}

asio::awaitable<void> Connection::write_all(std::string_view bytes, const std::string& what) {
  if (state_->timed_out) fail_io(asio::error::timed_out, what, false);
  auto [ec, n] = co_await asio::async_write(state_->socket, asio::buffer(bytes), kTuple);
  if (ec) fail_io(ec, what, false);
}

asio::awaitable<void> Connection::read_replies(std::size_t n, ReplySink sink,
                                               const std::string& what) {
  protocol::Reply reply;
  std::size_t got = 0;
  while (got < n) {
    switch (reader_->next(reply)) {
      case protocol::ReplyReader::Status::kReply:
        sink(got++, reply);
        continue;
      case protocol::ReplyReader::Status::kError: {
        std::string msg = "tessera::client: " + what + ": invalid reply from " + peer_ + ": " +
                          std::string(reader_->error());
        close("protocol error");
        throw ProtocolError(msg + " (connection closed)");
      }
      case protocol::ReplyReader::Status::kNeedMore:
        break;
    }
    if (state_->timed_out) fail_io(asio::error::timed_out, what, false);
    auto space = reader_->prepare();
    auto [ec, k] =
        co_await state_->socket.async_read_some(asio::buffer(space.data(), space.size()), kTuple);
    if (ec) fail_io(ec, what, false);
    reader_->commit(k);
  }
}

asio::awaitable<void> Connection::round_trip(std::string_view bytes, std::size_t n, ReplySink sink,
                                             std::chrono::milliseconds timeout,
                                             std::string_view what) {
  Busy busy(busy_);
  std::string name = what.empty() ? command_name(bytes) : std::string(what);
  if (!state_->socket.is_open()) {
    throw ConnectionError(ConnectionError::Reason::kNotConnected,
                          "tessera::client: " + name + ": not connected to " +
                              (peer_.empty() ? std::string("a server") : peer_) + " (" +
                              closed_reason_ + "); call reconnect()");
  }
  timeout_ = timeout;
  Watchdog watchdog(state_, timeout);
  if (bytes.size() <= kConcurrentWriteBytes) {
    co_await write_all(bytes, name);
    co_await read_replies(n, sink, name);
  } else {
    using namespace asio::experimental::awaitable_operators;
    co_await (write_all(bytes, name) && read_replies(n, sink, name));
  }
}

asio::awaitable<protocol::Reply> Connection::exec(std::string_view bytes,
                                                  std::chrono::milliseconds timeout,
                                                  std::string_view what) {
  protocol::Reply reply;
  auto keep = [&](std::size_t, protocol::Reply& r) { reply = std::move(r); };
  co_await round_trip(bytes, 1, ReplySink(keep), timeout, what);
  co_return reply;
}

}  // namespace tessera::client::detail
