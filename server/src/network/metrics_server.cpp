// The Prometheus endpoint (design note in metrics_server.hpp).
#include "metrics_server.hpp"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <tessera/protocol/ascii.hpp>
#include <tessera/server/commands/metrics.hpp>
#include <tessera/server/network/server.hpp>

namespace tessera::server {

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHead = 8192;
constexpr auto kDeadline = std::chrono::seconds(10);
constexpr unsigned kMaxConnections = 64;
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";

std::string response(std::string_view status, std::string_view type, std::string_view body,
                     bool head_only, bool close, std::string_view extra = {}) {
  std::string r =
      fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n", status, type,
                  body.size(), extra, close ? "Connection: close\r\n" : "");
  if (!head_only) r += body;
  return r;
}

std::string error_response(std::string_view status, std::string_view extra = {}) {
  return response(status, "text/plain; charset=utf-8", std::string(status) + "\n", false, true,
                  extra);
}

// For a peer about to be closed: one non-blocking attempt, never a wait.
void write_now(asio::ip::tcp::socket& socket, std::string_view bytes) {
  boost::system::error_code ec;
  socket.native_non_blocking(true, ec);
  socket.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
}

// Answers an error and closes without losing the answer: closing with unread input would reset
// the connection (RST), and the peer might never read the status. So: the answer, our side shut,
// then what the peer still sends is read and dropped (at most 256 KB, at most 1 s) before the
// close.
asio::awaitable<void> refuse(std::shared_ptr<asio::ip::tcp::socket> socket, std::string reply) {
  write_now(*socket, reply);
  boost::system::error_code ec;
  socket->shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  asio::steady_timer limit(socket->get_executor());
  limit.expires_after(std::chrono::seconds(1));
  limit.async_wait([socket](const boost::system::error_code& e) {
    boost::system::error_code ignored;
    if (!e) socket->cancel(ignored);
  });
  std::array<char, 4096> sink{};
  for (std::size_t dropped = 0; dropped < (256u << 10);) {
    auto [read_ec, n] = co_await socket->async_read_some(asio::buffer(sink), kUseTuple);
    if (read_ec) break;
    dropped += n;
  }
  socket->close(ec);
}

struct Request {
  std::string_view method;
  std::string_view path;
  bool close = false;
};

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c <= 32 || c >= 127 ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9112's request line and header fields (the head without its final CRLF CRLF). Returns the
// error status to answer, or "".
std::string_view parse_head(std::string_view head, Request& r) {
  std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return "400 Bad Request";
  }
  r.method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(r.method) || target.empty() || target.front() != '/') return "400 Bad Request";
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return "400 Bad Request";
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return "505 HTTP Version Not Supported";
  r.close = version == "HTTP/1.0";
  r.path = target.substr(0, target.find('?'));
  while (eol != std::string_view::npos) {
    const std::size_t start = eol + 2;
    eol = head.find("\r\n", start);
    const std::string_view field =
        head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    const std::size_t colon = field.find(':');
    if (colon == std::string_view::npos || !is_token(field.substr(0, colon))) {
      return "400 Bad Request";  // also an obsolete folded line (leading space)
    }
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (protocol::iequals(name, "transfer-encoding") ||
        (protocol::iequals(name, "content-length") && value != "0")) {
      return "400 Bad Request";  // a scrape has no body
    }
    if (protocol::iequals(name, "connection")) {
      if (protocol::iequals(value, "close")) r.close = true;
      if (protocol::iequals(value, "keep-alive")) r.close = false;
    }
  }
  if (r.method != "GET" && r.method != "HEAD") return "405 Method Not Allowed";
  if (r.path != "/metrics") return "404 Not Found";
  return {};
}

}  // namespace

MetricsServer::MetricsServer(asio::io_context& context, ShardSet& shards, const ServerState& state)
    : context_(context), shards_(shards), state_(state) {}

MetricsServer::~MetricsServer() = default;

std::string MetricsServer::listen(const std::vector<std::string>& bind, int port) {
  std::string where;
  for (const std::string& entry : bind) {
    Listener l;
    if (std::string error = open_listener(context_, entry, port, 128, l); !error.empty()) {
      return error + " (metrics-port)";
    }
    if (!l.acceptor) continue;
    where += (where.empty() ? "" : ", ") + l.shown;
    acceptors_.push_back(std::move(l.acceptor));
  }
  if (acceptors_.empty()) return "Could not listen on any of the metrics bind addresses";
  spdlog::info("Prometheus metrics on {} (GET /metrics)", where);
  return {};
}

void MetricsServer::start() {
  for (auto& a : acceptors_) {
    asio::co_spawn(context_, accept_loop(*a), asio::detached);
  }
}

void MetricsServer::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  for (auto& a : acceptors_) a->close(ec);
  for (auto& w : open_) {
    if (auto s = w.lock()) s->close(ec);
  }
  open_.clear();
}

asio::awaitable<void> MetricsServer::accept_loop(asio::ip::tcp::acceptor& acceptor) {
  asio::steady_timer backoff(context_);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (stopped_ || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or similar: let the condition pass instead of spinning.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(kUseTuple);
      continue;
    }
    if (connections_ >= kMaxConnections) {
      asio::co_spawn(context_,
                     refuse(std::make_shared<asio::ip::tcp::socket>(std::move(socket)),
                            error_response("503 Service Unavailable")),
                     asio::detached);
      continue;
    }
    auto shared = std::make_shared<asio::ip::tcp::socket>(std::move(socket));
    std::erase_if(open_, [](const auto& w) { return w.expired(); });
    open_.push_back(shared);
    asio::co_spawn(context_, serve(std::move(shared)), asio::detached);
  }
}

asio::awaitable<void> MetricsServer::serve(std::shared_ptr<asio::ip::tcp::socket> socket) {
  ++connections_;
  struct Uncount {
    unsigned& n;
    ~Uncount() { --n; }
  } uncount{connections_};
  // The deadline cancels what the socket waits for; the loop then sees timed_out.
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer deadline(context_);
  std::string in;
  std::array<char, 4096> chunk{};
  for (;;) {
    deadline.expires_after(kDeadline);
    deadline.async_wait([socket, timed_out](const boost::system::error_code& ec) {
      if (ec) return;
      *timed_out = true;
      boost::system::error_code ignored;
      socket->cancel(ignored);
    });
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos && in.size() < kMaxHead) {
      auto [ec, n] = co_await socket->async_read_some(asio::buffer(chunk), kUseTuple);
      if (*timed_out) {
        // A keep-alive connection that stays quiet is simply closed; a request begun is not.
        if (!in.empty()) write_now(*socket, error_response("408 Request Timeout"));
        co_return;  // no lingering: this peer is too slow already
      }
      if (ec) co_return;
      in.append(chunk.data(), n);
    }
    if (end == std::string::npos || end > kMaxHead) {
      co_await refuse(socket, error_response("431 Request Header Fields Too Large"));
      co_return;
    }
    Request r;
    const std::string_view status = parse_head(std::string_view(in).substr(0, end), r);
    if (!status.empty()) {
      co_await refuse(socket,
                      error_response(status, status.starts_with("405") ? "Allow: GET, HEAD\r\n"
                                                                       : std::string_view()));
      co_return;
    }
    const bool head_only = r.method == "HEAD";
    const bool close = r.close;
    in.erase(0, end + 4);  // what follows is the next request (pipelined)
    const std::string page = response("200 OK", kMetricsType, co_await scrape(), head_only, close);
    if (*timed_out || stopped_) co_return;
    auto [ec, n] = co_await asio::async_write(*socket, asio::buffer(page), kUseTuple);
    if (ec || *timed_out || close) co_return;
  }
}

asio::awaitable<std::string> MetricsServer::scrape() {
  struct Gather {
    Gather(asio::io_context& c, std::size_t n)
        : figures(n),
          left(static_cast<unsigned>(n)),
          timer(c, asio::steady_timer::time_point::max()) {}
    std::vector<ShardFigures> figures;
    std::atomic<unsigned> left;
    asio::steady_timer timer;  // on the main thread
    bool done = false;         // main thread only
  };
  auto g = std::make_shared<Gather>(context_, shards_.size());
  for (unsigned i = 0; i < shards_.size(); ++i) {
    Shard& shard = shards_.shard(i);
    shards_.post(i, [g, i, &shard] {
      shard.when_free([g, i, &shard] {
        g->figures[i] = read_shard_figures(shard);
        if (g->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          asio::post(g->timer.get_executor(), [g] {
            g->done = true;
            g->timer.cancel();
          });
        }
      });
    });
  }
  while (!g->done) co_await g->timer.async_wait(kUseTuple);
  co_return metrics_text(state_, g->figures);
}

}  // namespace tessera::server
