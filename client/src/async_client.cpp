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

asio::awaitable<Reply> AsyncClient::round_trip(std::string encoded, std::string name) {
  co_return co_await connection_->exec(encoded, options_.command_timeout, name);
}

asio::awaitable<bool> AsyncClient::exec(Transaction& transaction) {
  transaction.check_not_executed();
  const std::string bytes = transaction.bytes();
  std::vector<Reply> replies(transaction.size() + 2);
  auto keep = [&](std::size_t i, Reply& r) { replies[i] = std::move(r); };
  co_await connection_->round_trip(bytes, replies.size(), detail::ReplySink(keep),
                                   options_.command_timeout, "EXEC");
  co_return transaction.finish(replies);
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
