#include <tessera/client/async_client.hpp>

#include "connection.hpp"
#include "replies.hpp"

namespace tessera::client {

namespace asio = boost::asio;

AsyncClient::AsyncClient(asio::any_io_executor executor, ClientOptions options)
    : options_(std::move(options)),
      connection_(std::make_unique<detail::Connection>(std::move(executor))) {}
AsyncClient::AsyncClient(AsyncClient&&) noexcept = default;
AsyncClient& AsyncClient::operator=(AsyncClient&&) noexcept = default;
AsyncClient::~AsyncClient() = default;

asio::awaitable<void> AsyncClient::connect() { co_await connection_->connect(options_); }
void AsyncClient::close() { connection_->close(); }
bool AsyncClient::connected() const { return connection_->is_open(); }

asio::awaitable<Reply> AsyncClient::reply_command(std::string encoded, std::string_view name) {
  std::string n =
      name.empty() || name == "command" ? detail::command_name(encoded) : std::string(name);
  co_return detail::checked(co_await connection_->exec(encoded, options_.command_timeout, n), n);
}

asio::awaitable<std::optional<std::string>> AsyncClient::get(std::string_view key) {
  std::string encoded = detail::encode("GET", key);
  return [](detail::Connection& c, std::string e,
            std::chrono::milliseconds t) -> asio::awaitable<std::optional<std::string>> {
    co_return detail::to_optional_string(co_await c.exec(e, t, "GET"), "GET");
  }(*connection_, std::move(encoded), options_.command_timeout);
}

asio::awaitable<void> AsyncClient::set(std::string_view key, std::string_view value) {
  std::string encoded = detail::encode("SET", key, value);
  return [](detail::Connection& c, std::string e,
            std::chrono::milliseconds t) -> asio::awaitable<void> {
    detail::expect_ok(co_await c.exec(e, t, "SET"), "SET");
  }(*connection_, std::move(encoded), options_.command_timeout);
}

asio::awaitable<void> AsyncClient::mset(
    std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  std::string encoded = detail::encode_mset(pairs);
  return [](detail::Connection& c, std::string e,
            std::chrono::milliseconds t) -> asio::awaitable<void> {
    detail::expect_ok(co_await c.exec(e, t, "MSET"), "MSET");
  }(*connection_, std::move(encoded), options_.command_timeout);
}

asio::awaitable<std::int64_t> AsyncClient::dbsize() {
  return integer_command(detail::encode("DBSIZE"), "DBSIZE");
}

asio::awaitable<std::string> AsyncClient::ping() {
  std::string encoded = detail::encode("PING");
  co_return detail::to_status(co_await connection_->exec(encoded, options_.command_timeout, "PING"),
                              "PING");
}

asio::awaitable<std::int64_t> AsyncClient::integer_command(std::string encoded,
                                                           std::string_view name) {
  co_return detail::to_integer(co_await connection_->exec(encoded, options_.command_timeout, name),
                               name);
}

asio::awaitable<std::vector<std::optional<std::string>>> AsyncClient::mget_command(
    std::string encoded) {
  co_return detail::to_optional_strings(
      co_await connection_->exec(encoded, options_.command_timeout, "MGET"), "MGET");
}

asio::awaitable<Reply> AsyncClient::command_argv(std::span<const std::string_view> argv) {
  std::string encoded;
  protocol::write_command(encoded, argv);
  return reply_command(std::move(encoded), {});
}

asio::awaitable<std::vector<Reply>> AsyncClient::execute(const Pipeline& pipeline) {
  std::vector<Reply> replies(pipeline.size());
  auto keep = [&](std::size_t i, Reply& r) { replies[i] = std::move(r); };
  if (!pipeline.empty()) {
    co_await connection_->round_trip(pipeline.bytes(), pipeline.size(), detail::ReplySink(keep),
                                     options_.command_timeout, "pipeline");
  }
  co_return replies;
}

asio::awaitable<void> AsyncClient::execute(const Pipeline& pipeline,
                                           std::function<void(std::size_t, Reply&)> on_reply) {
  if (pipeline.empty()) co_return;
  co_await connection_->round_trip(pipeline.bytes(), pipeline.size(), detail::ReplySink(on_reply),
                                   options_.command_timeout, "pipeline");
}

asio::awaitable<ScanPage> AsyncClient::scan_page(std::uint64_t cursor, std::string_view match,
                                                 std::size_t count) {
  std::string encoded = detail::encode_scan(cursor, match, count);
  return [](detail::Connection& c, std::string e,
            std::chrono::milliseconds t) -> asio::awaitable<ScanPage> {
    co_return detail::to_scan_page(co_await c.exec(e, t, "SCAN"));
  }(*connection_, std::move(encoded), options_.command_timeout);
}

asio::awaitable<void> AsyncClient::scan_each(std::string match, std::size_t count,
                                             std::function<void(std::string& key)> on_key) {
  std::uint64_t cursor = 0;
  do {
    const std::string encoded = detail::encode_scan(cursor, match, count);
    ScanPage page =
        detail::to_scan_page(co_await connection_->exec(encoded, options_.command_timeout, "SCAN"));
    for (auto& key : page.keys) on_key(key);
    cursor = page.cursor;
  } while (cursor != 0);
}

}  // namespace tessera::client
