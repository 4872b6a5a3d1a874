// Connection: the socket side of a session (design note in connection.hpp).
#include "connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <tessera/protocol/limits.hpp>
#include <tessera/protocol/request_parser.hpp>

namespace tessera::server {

namespace {
// "127.0.0.1:6379", "[::1]:6379": Redis's formatting of an address (anetFormatAddr).
std::string endpoint_text(const asio::ip::tcp::endpoint& e) {
  const std::string ip = e.address().to_string();
  const std::string port = std::to_string(e.port());
  return e.address().is_v6() ? "[" + ip + "]:" + port : ip + ":" + port;
}
}  // namespace

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
}

class Connection::SocketSink final : public ReplySink {
 public:
  SocketSink(Connection& c, Shard& shard) : c_(c), shard_(shard) {}
  asio::awaitable<bool> write(std::string_view bytes) override {
    // The monitor's writer sends it, in order with the lines. MONITOR's +OK is the first thing
    // in the stream, ahead of any line: a command another client sends once it has seen the +OK
    // is fed to it.
    if (!c_.monitor_ && c_.session_ != nullptr && c_.session_->monitor())
      c_.start_monitor(bytes);
    else if (c_.monitor_)
      c_.monitor_->append(bytes);
    if (c_.monitor_) co_return true;
    // Piece by piece, so that every bit of progress counts as activity: a client that is slowly
    // receiving a long reply is not idle (Redis refreshes its last interaction on each write).
    while (!bytes.empty()) {
      auto [ec, n] = co_await c_.socket_.async_write_some(asio::buffer(bytes), kUseTuple);
      if (ec) co_return false;
      c_.last_active_s = shard_.clock_s();
      bytes.remove_prefix(n);
    }
    co_return true;
  }
  bool stopping() const override { return c_.stopping_; }

 private:
  Connection& c_;
  Shard& shard_;
};

Connection::Connection(ShardSet& shards, ServerState& state, unsigned home, Dispatcher dispatch,
                       asio::ip::tcp::socket socket)
    : shards_(shards),
      state_(state),
      home_(home),
      dispatch_(dispatch),
      socket_(std::move(socket)),
      writer_done_(socket_.get_executor(), asio::steady_timer::time_point::max()) {}

Connection::~Connection() { state_.connected_clients.fetch_sub(1, std::memory_order_relaxed); }

void Connection::shut_down() {
  if (monitor_) {  // nothing it was computing for: a monitor's stream never ends by itself
    close_now();
    return;
  }
  stopping_ = true;
  boost::system::error_code ec;
  if (reading_) socket_.cancel(ec);  // a write in progress is left to finish
}

void Connection::close_now() {
  stopping_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
}

void Connection::release_idle_memory() {
  // Only while waiting for input: a session that is writing or waiting for a shard holds its
  // buffers for the batch in progress.
  if (!reading_ || stopping_ || session_ == nullptr) return;
  session_->release_buffers();
  if (parser_->buffered() == 0 && parser_->capacity() > protocol::kDefaultReadSize) {
    // The pending read targets the parser's buffer: cancel it, and let run() replace the parser
    // before it reads again.
    fresh_parser_wanted_ = true;
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
}

std::uint64_t Connection::client_id() const { return session_ != nullptr ? session_->id() : 0; }

ClientRecord Connection::describe() const {
  ClientRecord r;
  if (session_ != nullptr) describe_session(*session_, r);
  r.fd = const_cast<asio::ip::tcp::socket&>(socket_).native_handle();
  const std::uint64_t now = shards_.shard(home_).clock_s();
  r.age_s = now - accepted_s_;
  r.idle_s = now - std::min(now, last_active_s);
  if (parser_ != nullptr) {
    r.qbuf = parser_->buffered();
    r.qbuf_free = parser_->capacity() - std::min(parser_->capacity(), parser_->buffered());
    r.tot_mem = sizeof(Connection) + sizeof(Session) + sizeof(protocol::RequestParser) +
                parser_->capacity();
  }
  return r;
}

void Connection::start_monitor(std::string_view first) {
  monitor_ = std::make_shared<MonitorStream>(socket_.get_executor(), kMonitorOutputLimit, [this] {
    spdlog::warn(
        "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
        client_id(), session_ != nullptr ? session_->peer() : std::string());
    close_now();
  });
  monitor_->append(first);
  monitor_hub().add(monitor_);
  timeout_exempt = true;
  writer_running_ = true;
  asio::co_spawn(socket_.get_executor(), write_monitor(monitor_), [this](std::exception_ptr e) {
    writer_running_ = false;
    writer_done_.cancel();
    if (e) close_now();
  });
}

asio::awaitable<void> Connection::write_monitor(std::shared_ptr<MonitorStream> stream) {
  Shard& shard = shards_.shard(home_);
  std::string out;
  for (;;) {
    const MonitorStream::Taken taken = stream->take(out);
    if (taken.over_limit) co_return;  // the stream's overflow handler closes the connection
    if (!out.empty()) {
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), kUseTuple);
      if (ec) {
        close_now();
        co_return;
      }
      last_active_s = shard.clock_s();
      if (out.capacity() > (1u << 20)) std::string().swap(out);  // a burst's buffer goes back
      continue;
    }
    if (taken.closed) co_return;
    co_await stream->wait();
  }
}

asio::awaitable<void> Connection::stop_monitor() {
  monitor_hub().remove(monitor_.get());
  monitor_->close();
  while (writer_running_) {
    writer_done_.expires_at(asio::steady_timer::time_point::max());
    co_await writer_done_.async_wait(kUseTuple);
  }
}

asio::awaitable<void> Connection::run() {
  Shard& shard = shards_.shard(home_);
  // In the shard's list for the idle sweep and shutdown until destroyed (auto-unlink).
  shard.connections().push_back(*this);
  ++shard.counters().connections_received;
  last_active_s = shard.clock_s();
  accepted_s_ = last_active_s;

  protocol::RequestParser parser;
  Session session(shards_, state_, home_, dispatch_);
  parser_ = &parser;
  session_ = &session;
  {
    boost::system::error_code ec;
    session.set_endpoints(endpoint_text(socket_.remote_endpoint(ec)),
                          endpoint_text(socket_.local_endpoint(ec)));
  }
  SocketSink sink(*this, shard);
  const std::uint64_t query_limit = state_.config.client_query_buffer_limit;
  while (!stopping_) {
    if (fresh_parser_wanted_) {
      fresh_parser_wanted_ = false;
      if (parser.buffered() == 0) parser = protocol::RequestParser();
    }
    auto space = parser.prepare();
    reading_ = true;
    auto [ec, n] =
        co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), kUseTuple);
    reading_ = false;
    if (ec) {
      if (ec == asio::error::operation_aborted && !stopping_) continue;  // release_idle_memory
      break;
    }
    parser.commit(n);
    last_active_s = shard.clock_s();
    if (parser.buffered() > query_limit) {
      spdlog::warn("Closing client that reached max query buffer length: id={} qbuf={}",
                   session.id(), parser.buffered());
      break;
    }
    session.set_feeding_monitors(monitor_hub().active());
    if (co_await session.drain(parser, sink) == Session::Verdict::kClose) break;
    // A batch that ends with nothing buffered gives back a buffer a large request grew (above
    // 1 MB): otherwise the connection would wait for its next request holding it.
    if (parser.buffered() == 0) parser.trim();
  }
  // A monitor ends by what ended its read loop: QUIT (its +OK is in the stream, written before
  // the writer returns), or a closed or failed socket (the writer's write fails at once).
  if (monitor_) co_await stop_monitor();
  session_ = nullptr;
  parser_ = nullptr;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace tessera::server
