// MULTI/EXEC transactions: typed queued calls, WATCH, and optimistic retries.
//
//   Transaction tx;                            // builds the queue; needs no connection
//   Queued<std::int64_t> n = tx.incr("hits");  // every typed call of Client, queued
//   tx.set("seen", "1");
//   if (client.exec(tx)) std::int64_t hits = n.get();   // MULTI, the queue, EXEC in one write
//
// Design: a Transaction is to MULTI/EXEC what a Pipeline is to plain commands: the calls are
// encoded when queued, and Client::exec / AsyncClient::exec send MULTI, the queue and EXEC in one
// write and read every reply. Each queued call returns a Queued<T> handle that shares the
// transaction's result slots, so its typed value can be read after EXEC (an error reply of that
// command inside EXEC is thrown by get() as ServerError, as the call itself would have thrown).
//
// The three outcomes of EXEC are kept apart:
//   committed              exec() returns true; every handle holds its command's reply
//   aborted by WATCH       exec() returns false (EXEC's nil): a watched key changed; nothing ran
//   discarded (EXECABORT)  exec() throws ExecAbortError: the server refused a queued command
//                          (unknown command, wrong arity...); nothing ran. rejected() says which.
//
// Optimistic transactions: Client::transaction(watch_keys, body, options) WATCHes the keys, runs
// body(client, tx) (reads through the client see the watched keys; writes are queued on tx), and
// EXECs; when a watched key changed meanwhile it starts again, up to options.max_attempts times,
// then throws WatchConflictError. Like redis-py's transaction(func, *watches), with a bound.
#pragma once

#include <tessera/client/errors.hpp>
#include <tessera/client/typed.hpp>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tessera::client {

// EXEC answered EXECABORT: the server refused at least one queued command, so it ran none.
// message() is EXECABORT's text; rejected() the refused commands (index in the queue, error text).
class ExecAbortError : public ServerError {
 public:
  ExecAbortError(std::string message, std::vector<std::pair<std::size_t, std::string>> rejected);
  const std::vector<std::pair<std::size_t, std::string>>& rejected() const noexcept {
    return rejected_;
  }

 private:
  std::vector<std::pair<std::size_t, std::string>> rejected_;
};

// Client::transaction / AsyncClient::transaction gave up: a watched key changed during each of
// `attempts()` attempts. Nothing of the last attempt ran; the connection is usable.
class WatchConflictError : public Error {
 public:
  explicit WatchConflictError(std::size_t attempts);
  std::size_t attempts() const noexcept { return attempts_; }

 private:
  std::size_t attempts_;
};

struct TransactionOptions {
  // How many times the body may run (>= 1); after that many aborted EXECs, WatchConflictError.
  std::size_t max_attempts = 10;
};

namespace detail {
// The replies of one EXEC, shared by a Transaction and its Queued handles.
struct TransactionResults {
  enum class Outcome { kNotExecuted, kCommitted, kAborted };
  Outcome outcome = Outcome::kNotExecuted;
  std::vector<Reply> replies;  // one per queued command, when committed
  const Reply& reply(std::size_t index) const;
};
// std::invalid_argument unless max_attempts >= 1.
void check_attempts(std::size_t max_attempts);
}  // namespace detail

// The typed result of one queued call, readable once the transaction committed.
template <class T>
class Queued {
 public:
  // The command's result inside EXEC. Throws ServerError when the command failed there (e.g.
  // INCR on a value that is not an integer), std::logic_error when the transaction has not been
  // executed or did not commit.
  T get() const {
    Reply copy = results_->reply(index_);
    return convert_(std::move(copy), name_);
  }
  std::size_t index() const noexcept { return index_; }

 private:
  friend class Transaction;
  Queued(std::shared_ptr<const detail::TransactionResults> results, std::size_t index,
         T (*convert)(Reply&&, std::string_view), std::string name)
      : results_(std::move(results)), index_(index), convert_(convert), name_(std::move(name)) {}
  std::shared_ptr<const detail::TransactionResults> results_;
  std::size_t index_;
  T (*convert_)(Reply&&, std::string_view);
  std::string name_;
};

class Transaction : public Commands<Transaction, Queued> {
 public:
  Transaction();

  std::size_t size() const noexcept { return names_.size(); }
  bool empty() const noexcept { return names_.empty(); }
  // A transaction runs once: clear() empties it for a new one (handles of the earlier calls keep
  // the earlier results).
  void clear();
  bool executed() const noexcept {
    return results_->outcome != detail::TransactionResults::Outcome::kNotExecuted;
  }
  // True when the last exec() committed.
  bool committed() const noexcept {
    return results_->outcome == detail::TransactionResults::Outcome::kCommitted;
  }
  // MULTI, the queued commands and EXEC, exactly as they go on the wire.
  std::string bytes() const;

  // Client::exec / AsyncClient::exec: records EXEC's outcome from the replies of MULTI, the queued
  // commands and EXEC (size() + 2 of them). Returns true when committed, false when WATCH aborted
  // it; throws ExecAbortError / ServerError otherwise. std::logic_error if executed() already.
  bool finish(std::vector<Reply>& replies);
  void check_not_executed() const;

 private:
  friend class Commands<Transaction, Queued>;
  template <class T>
  Queued<T> run(Call<T> call) {
    queue_ += call.encoded;
    names_.push_back(call.name);
    return Queued<T>(results_, names_.size() - 1, call.convert, std::move(call.name));
  }

  std::string queue_;
  std::vector<std::string> names_;
  std::shared_ptr<detail::TransactionResults> results_;
};

}  // namespace tessera::client
