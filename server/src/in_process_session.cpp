// InProcessSession: a Session driven from a test thread (see in_process_session.hpp).
#include <tessera/server/in_process_session.hpp>

#include <algorithm>
#include <exception>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <tessera/server/commands/dispatch.hpp>

namespace tessera::server {

namespace {
class StringSink final : public ReplySink {
 public:
  StringSink(std::string& out, std::size_t& writes, std::size_t& largest)
      : out_(out), writes_(writes), largest_(largest) {}
  asio::awaitable<bool> write(std::string_view bytes) override {
    out_.append(bytes);
    ++writes_;
    largest_ = std::max(largest_, bytes.size());
    co_return true;
  }

 private:
  std::string& out_;
  std::size_t& writes_;
  std::size_t& largest_;
};
}  // namespace

InProcessSession::InProcessSession(ShardSet& shards, ServerState& state, unsigned home)
    : shards_(shards),
      home_(home),
      parser_(std::make_unique<protocol::RequestParser>()),
      session_(std::make_unique<Session>(shards, state, home, &dispatch)) {}

InProcessSession::~InProcessSession() = default;

void InProcessSession::authenticate() { session_->set_authenticated(true); }

std::string InProcessSession::send(std::string_view bytes) {
  if (closed_) return {};
  std::string out;
  std::promise<void> done;
  asio::co_spawn(
      shards_.shard(home_).context(),
      [&]() -> asio::awaitable<void> {
        parser_->feed(bytes);
        StringSink sink(out, writes_, largest_write_);
        if (co_await session_->drain(*parser_, sink) == Session::Verdict::kClose) closed_ = true;
      },
      [&](std::exception_ptr e) {
        if (e) {
          done.set_exception(e);
        } else {
          done.set_value();
        }
      });
  done.get_future().get();
  return out;
}

std::string InProcessSession::call(std::initializer_list<std::string_view> argv) {
  std::string req;
  protocol::write_command(req, argv);
  return send(req);
}

std::string InProcessSession::call(const std::vector<std::string>& argv) {
  std::vector<std::string_view> views(argv.begin(), argv.end());
  std::string req;
  protocol::write_command(req, views);
  return send(req);
}

}  // namespace tessera::server
