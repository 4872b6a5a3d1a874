#include <tessera/client/client.hpp>

#include "connection.hpp"
#include "replies.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>

namespace tessera::client {

namespace asio = boost::asio;

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), io(1), connection(io.get_executor()) {}

  // Runs one operation to completion on the private io_context. The watchdog inside the
  // operation bounds its time, so run() always returns.
  template <class T>
  T run(asio::awaitable<T> op) {
    std::exception_ptr error;
    std::optional<T> result;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
      error = e;
      if (!e) result.emplace(std::move(value));
    });
    io.restart();
    io.run();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
  void run(asio::awaitable<void> op) {
    std::exception_ptr error;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e) { error = e; });
    io.restart();
    io.run();
    if (error) std::rethrow_exception(error);
  }

  ClientOptions options;
  asio::io_context io;
  detail::Connection connection;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  reconnect();
}
Client::Client(std::string host, std::uint16_t port)
    : Client(ClientOptions{.host = std::move(host), .port = port}) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

void Client::reconnect() { impl_->run(impl_->connection.connect(impl_->options)); }
void Client::close() { impl_->connection.close(); }
bool Client::connected() const { return impl_->connection.is_open(); }
const ClientOptions& Client::options() const { return impl_->options; }
void Client::set_command_timeout(std::chrono::milliseconds timeout) {
  impl_->options.command_timeout = timeout;
}

Reply Client::round_trip(std::string encoded, std::string_view name) {
  // `encoded` lives in this frame until run() returns, which outlives the coroutine.
  return impl_->run(impl_->connection.exec(encoded, impl_->options.command_timeout, name));
}

void Client::unwatch() { run(detail::make_call(&detail::expect_ok, "UNWATCH")); }

void Client::unwatch_after_failure() noexcept {
  if (!connected()) return;
  try {
    unwatch();
  } catch (...) {  // the caller rethrows the original failure
  }
}

bool Client::exec(Transaction& transaction) {
  transaction.check_not_executed();
  const std::string bytes = transaction.bytes();
  std::vector<Reply> replies(transaction.size() + 2);
  auto keep = [&](std::size_t i, Reply& r) { replies[i] = std::move(r); };
  impl_->run(impl_->connection.round_trip(bytes, replies.size(), detail::ReplySink(keep),
                                          impl_->options.command_timeout, "EXEC"));
  return transaction.finish(replies);
}

std::vector<Reply> Client::execute(const Pipeline& pipeline) {
  std::vector<Reply> replies(pipeline.size());
  auto keep = [&](std::size_t i, Reply& r) { replies[i] = std::move(r); };
  if (!pipeline.empty()) {
    impl_->run(impl_->connection.round_trip(pipeline.bytes(), pipeline.size(),
                                            detail::ReplySink(keep), impl_->options.command_timeout,
                                            "pipeline"));
  }
  return replies;
}

void Client::execute(const Pipeline& pipeline,
                     const std::function<void(std::size_t, Reply&)>& on_reply) {
  if (pipeline.empty()) return;
  auto call = [&](std::size_t i, Reply& r) { on_reply(i, r); };
  impl_->run(impl_->connection.round_trip(pipeline.bytes(), pipeline.size(),
                                          detail::ReplySink(call), impl_->options.command_timeout,
                                          "pipeline"));
}

ScanPage Client::scan_page(std::uint64_t cursor, std::string_view match, std::size_t count) {
  return detail::to_scan_page(round_trip(detail::encode_scan(cursor, match, count), "SCAN"));
}

ScanRange Client::scan(std::string match, std::size_t count) {
  return ScanRange({this}, {}, std::move(match), count);
}

// ---- ScanRange -------------------------------------------------------------------------------

ScanRange::ScanRange(std::vector<Client*> clients, std::vector<ClientOptions> to_connect,
                     std::string match, std::size_t count)
    : clients_(std::move(clients)),
      to_connect_(std::move(to_connect)),
      match_(std::move(match)),
      count_(count) {}
ScanRange::ScanRange(ScanRange&&) noexcept = default;
ScanRange& ScanRange::operator=(ScanRange&&) noexcept = default;
ScanRange::~ScanRange() = default;

Client& ScanRange::client(std::size_t i) {
  if (!clients_.empty()) return *clients_[i];
  if (!owned_ || owned_index_ != i) {
    owned_.reset();  // one connection at a time
    owned_ = std::make_unique<Client>(to_connect_[i]);
    owned_index_ = i;
  }
  return *owned_;
}

ScanRange::iterator ScanRange::begin() {
  server_ = 0;
  page_ = {};
  index_ = 0;
  done_ = false;
  const std::size_t servers = clients_.empty() ? to_connect_.size() : clients_.size();
  if (servers == 0) {
    done_ = true;
    return iterator(this);
  }
  page_ = client(0).scan_page(0, match_, count_);
  fetch_until_key_or_end();
  return iterator(this);
}

// Invariant on return: done_, or index_ points at a key of page_.
void ScanRange::fetch_until_key_or_end() {
  const std::size_t servers = clients_.empty() ? to_connect_.size() : clients_.size();
  while (index_ >= page_.keys.size()) {
    if (page_.cursor != 0) {
      page_ = client(server_).scan_page(page_.cursor, match_, count_);
    } else if (server_ + 1 < servers) {
      ++server_;
      page_ = client(server_).scan_page(0, match_, count_);
    } else {
      done_ = true;
      owned_.reset();
      return;
    }
    index_ = 0;
  }
}

void ScanRange::advance() {
  ++index_;
  fetch_until_key_or_end();
}

std::vector<std::string> ScanRange::to_vector() {
  std::vector<std::string> keys;
  for (auto& key : *this) keys.push_back(std::move(key));
  return keys;
}

ScanRange scan_servers(std::vector<ClientOptions> servers, std::string match, std::size_t count) {
  return ScanRange({}, std::move(servers), std::move(match), count);
}

ScanRange scan_servers(std::vector<Client*> clients, std::string match, std::size_t count) {
  return ScanRange(std::move(clients), {}, std::move(match), count);
}

}  // namespace tessera::client
