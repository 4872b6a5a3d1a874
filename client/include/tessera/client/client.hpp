// tessera::client::Client: a blocking RESP2/RESP3 client for Tessera and Redis.
//
// Design: a Client owns one TCP connection and a private single-threaded Asio io_context. Every
// call encodes its command with protocol::write_command, writes it, and reads its reply with
// protocol::ReplyReader, running the private io_context until the reply is complete or the command
// timeout closes the socket. The same connection core serves AsyncClient (async_client.hpp), so
// both behave identically on errors and timeouts. The typed calls (get, set with options, the
// counters, the expiry family, the keyspace calls) are written once in typed.hpp and shared with
// AsyncClient and Transaction (MULTI/EXEC, WATCH and optimistic retries: transaction.hpp).
//
// Errors are exceptions derived from tessera::client::Error (errors.hpp): ServerError for an error
// reply (the connection stays usable), TimeoutError, ConnectionError and ProtocolError (the
// connection is closed: reconnect() opens a new one with the same options, AUTH included).
//
// Thread-safety: a Client is not thread-safe; use one Client per thread (Clients share nothing, and
// there is no global state). A Client can be moved to another thread between calls.
#pragma once

#include <tessera/client/command.hpp>
#include <tessera/client/errors.hpp>
#include <tessera/client/options.hpp>
#include <tessera/client/transaction.hpp>
#include <tessera/client/typed.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace tessera::client {

class Client;

// A single-pass range over the keys of one server's SCAN, or of several servers' SCANs in turn,
// following the cursor to the end. Each call to begin() starts a new iteration (SCAN 0). Redis's
// SCAN guarantees hold per server: every key present for the whole iteration is returned, and a
// key may be returned more than once if the table shrank meanwhile. Errors are thrown from begin()
// and operator++.
class ScanRange {
 public:
  class iterator {
   public:
    using value_type = std::string;
    using difference_type = std::ptrdiff_t;
    using reference = std::string&;
    using iterator_concept = std::input_iterator_tag;

    iterator() = default;
    std::string& operator*() const { return range_->page_.keys[range_->index_]; }
    std::string* operator->() const { return &**this; }
    iterator& operator++() {
      range_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return range_ == nullptr || range_->done_; }
    // Which server of the list the current key came from (0 for a single-server scan).
    std::size_t server_index() const { return range_->server_; }

   private:
    friend class ScanRange;
    explicit iterator(ScanRange* range) : range_(range) {}
    ScanRange* range_ = nullptr;
  };

  ScanRange(ScanRange&&) noexcept;
  ScanRange& operator=(ScanRange&&) noexcept;
  ~ScanRange();

  iterator begin();
  std::default_sentinel_t end() const noexcept { return {}; }

  // Runs the whole iteration and returns every key (in SCAN order; duplicates are possible).
  std::vector<std::string> to_vector();

 private:
  friend class Client;
  friend ScanRange scan_servers(std::vector<ClientOptions>, std::string, std::size_t);
  friend ScanRange scan_servers(std::vector<Client*>, std::string, std::size_t);
  ScanRange(std::vector<Client*> clients, std::vector<ClientOptions> to_connect, std::string match,
            std::size_t count);
  Client& client(std::size_t i);
  void fetch_until_key_or_end();
  void advance();

  std::vector<Client*> clients_;           // borrowed (empty when connecting lazily)
  std::vector<ClientOptions> to_connect_;  // servers connected lazily, one at a time
  std::unique_ptr<Client> owned_;          // the current lazily connected server
  std::size_t owned_index_ = 0;            // which server owned_ is connected to
  std::string match_;
  std::size_t count_;
  std::size_t server_ = 0;
  ScanPage page_;
  std::size_t index_ = 0;
  bool done_ = true;
};

class Client : public Commands<Client, Now> {
 public:
  // Connects (and sends AUTH if a password is set). Throws ConnectionError (refused, resolve),
  // TimeoutError, or ServerError (AUTH rejected).
  explicit Client(ClientOptions options);
  Client(std::string host, std::uint16_t port);
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;
  ~Client();

  // Closes the connection if any and connects again with the same options.
  void reconnect();
  void close();
  bool connected() const;
  const ClientOptions& options() const;
  void set_command_timeout(std::chrono::milliseconds timeout);

  // The typed calls (get, set with options, the counters, the expiry family, the keyspace
  // calls, command(...)) come from Commands (typed.hpp) and return their results directly.

  // WATCH keys... for the next exec() on this connection; UNWATCH forgets them.
  template <CommandArg... Keys>
  requires(sizeof...(Keys) >= 1) void watch(const Keys&... keys) {
    run(detail::make_call(&detail::expect_ok, "WATCH", keys...));
  }
  void unwatch();
  // MULTI, the transaction's queue and EXEC in one write. True: committed (the Queued handles hold
  // the results); false: a watched key changed, nothing ran. Throws ExecAbortError when the server
  // refused a queued command (nothing ran), ServerError for any other error reply of MULTI or EXEC.
  bool exec(Transaction& transaction);
  // An optimistic transaction: WATCH watch_keys, body(*this, tx), exec(tx); again while a watched
  // key changed meanwhile, at most options.max_attempts times (then WatchConflictError). Returns
  // what the body returned in the attempt that committed. Reads in the body go through the client
  // (they see the watched keys as they are); writes go on tx. If the body throws, the keys are
  // unwatched (when the connection is still up) and the exception propagates.
  template <class Body>
  std::invoke_result_t<Body&, Client&, Transaction&> transaction(
      std::vector<std::string> watch_keys, Body&& body, TransactionOptions options = {}) {
    using R = std::invoke_result_t<Body&, Client&, Transaction&>;
    detail::check_attempts(options.max_attempts);
    for (std::size_t attempt = 1;; ++attempt) {
      if (!watch_keys.empty()) watch(watch_keys);
      Transaction tx;
      if constexpr (std::is_void_v<R>) {
        guarded([&] { body(*this, tx); });
        if (exec(tx)) return;
      } else {
        std::optional<R> result;
        guarded([&] { result.emplace(body(*this, tx)); });
        if (exec(tx)) return std::move(*result);
      }
      if (attempt >= options.max_attempts) throw WatchConflictError(attempt);
    }
  }

  // Sends every command of the pipeline in one write and returns all replies in order. Error
  // replies are returned as values (Reply::Type::kError), never thrown; transport failures throw.
  std::vector<Reply> execute(const Pipeline& pipeline);
  // The same, handing each reply to on_reply(index, reply) as it arrives (no vector is built).
  void execute(const Pipeline& pipeline, const std::function<void(std::size_t, Reply&)>& on_reply);

  // One SCAN call: SCAN cursor [MATCH match] [COUNT count]; empty match / zero count: not sent.
  ScanPage scan_page(std::uint64_t cursor, std::string_view match = {}, std::size_t count = 0);
  // The keys of the whole keyspace (or those matching `match`), following the cursor to the end:
  //   for (auto& key : client.scan("user:*")) ...
  ScanRange scan(std::string match = {}, std::size_t count = 100);

 private:
  friend class Commands<Client, Now>;
  template <class T>
  T run(Call<T> call) {
    return call.convert(round_trip(std::move(call.encoded), call.name), call.name);
  }
  Reply round_trip(std::string encoded, std::string_view name);
  // Runs f; if it throws, UNWATCHes (when the connection is up) and rethrows.
  template <class F>
  void guarded(F&& f) {
    try {
      f();
    } catch (...) {
      unwatch_after_failure();
      throw;
    }
  }
  void unwatch_after_failure() noexcept;

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Iterates several servers' keyspaces, each server's SCAN in turn: for a fleet behind twemproxy,
// which cannot forward SCAN, pass the backends themselves. Connects to one server at a time, when
// its turn comes; iterator::server_index() tells which server a key came from.
ScanRange scan_servers(std::vector<ClientOptions> servers, std::string match = {},
                       std::size_t count = 100);
// The same over clients the caller already holds (they must outlive the range).
ScanRange scan_servers(std::vector<Client*> clients, std::string match = {},
                       std::size_t count = 100);

}  // namespace tessera::client
