#include <tessera/client/transaction.hpp>

#include <stdexcept>

namespace tessera::client {

ExecAbortError::ExecAbortError(std::string message,
                               std::vector<std::pair<std::size_t, std::string>> rejected)
    : ServerError(rejected.empty() ? std::string_view("EXEC")
                                   : std::string_view("EXEC (queued command " +
                                                      std::to_string(rejected.front().first) +
                                                      ": " + rejected.front().second + ")"),
                  std::move(message)),
      rejected_(std::move(rejected)) {}

WatchConflictError::WatchConflictError(std::size_t attempts)
    : Error(Kind::kWatchConflict,
            "tessera::client: transaction: a watched key changed during each of " +
                std::to_string(attempts) + " attempts; gave up"),
      attempts_(attempts) {}

namespace detail {

const Reply& TransactionResults::reply(std::size_t index) const {
  switch (outcome) {
    case Outcome::kNotExecuted:
      throw std::logic_error("tessera::client: Queued::get(): the transaction was not executed");
    case Outcome::kAborted:
      throw std::logic_error(
          "tessera::client: Queued::get(): the transaction did not commit (a watched key "
          "changed)");
    case Outcome::kCommitted:
      break;
  }
  return replies.at(index);
}

void check_attempts(std::size_t max_attempts) {
  if (max_attempts == 0) {
    throw std::invalid_argument("tessera::client: transaction: max_attempts must be at least 1");
  }
}

}  // namespace detail

Transaction::Transaction() : results_(std::make_shared<detail::TransactionResults>()) {}

void Transaction::clear() {
  queue_.clear();
  names_.clear();
  results_ = std::make_shared<detail::TransactionResults>();
}

std::string Transaction::bytes() const {
  std::string out;
  protocol::write_command(out, {"MULTI"});
  out += queue_;
  protocol::write_command(out, {"EXEC"});
  return out;
}

void Transaction::check_not_executed() const {
  if (executed()) {
    throw std::logic_error(
        "tessera::client: exec: this transaction was executed already (clear() it for a new one)");
  }
}

bool Transaction::finish(std::vector<Reply>& replies) {
  const std::size_t n = names_.size();
  if (replies.size() != n + 2) throw std::logic_error("tessera::client: exec: reply count");
  if (replies[0].type == Reply::Type::kError) throw ServerError("MULTI", std::move(replies[0].str));
  // A command the server refused while queueing: EXEC will answer EXECABORT.
  std::vector<std::pair<std::size_t, std::string>> rejected;
  for (std::size_t i = 0; i < n; ++i) {
    if (replies[i + 1].type == Reply::Type::kError) {
      rejected.emplace_back(i, std::move(replies[i + 1].str));
    }
  }
  Reply& exec = replies[n + 1];
  switch (exec.type) {
    case Reply::Type::kArray:
      if (exec.elements.size() != n) {
        throw ProtocolError("tessera::client: EXEC: " + std::to_string(exec.elements.size()) +
                            " replies for " + std::to_string(n) + " queued commands");
      }
      results_->replies = std::move(exec.elements);
      results_->outcome = detail::TransactionResults::Outcome::kCommitted;
      return true;
    case Reply::Type::kNull:
    case Reply::Type::kNullArray:  // RESP2's *-1; RESP3 sends _
      results_->outcome = detail::TransactionResults::Outcome::kAborted;
      return false;
    case Reply::Type::kError:
      results_->outcome = detail::TransactionResults::Outcome::kAborted;
      if (exec.str.starts_with("EXECABORT")) {
        throw ExecAbortError(std::move(exec.str), std::move(rejected));
      }
      throw ServerError("EXEC", std::move(exec.str));
    default:
      throw ProtocolError("tessera::client: EXEC: expected an array or null, got another reply");
  }
}

}  // namespace tessera::client
