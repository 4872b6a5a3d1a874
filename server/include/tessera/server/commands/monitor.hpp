// MONITOR: every command any client runs, streamed to the clients that asked, in Redis 7.0.15's
// line format (`+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`).
//
// Who feeds: dispatch (commands/dispatch.cpp), on the commanding connection's home thread, once
// the command has run (as Redis's call() feeds after the command's procedure: EXEC's commands come
// before the EXEC line), and only commands that ran: a command refused by dispatch's checks, one
// queued by MULTI, and admin commands (CONFIG, CLIENT LIST, SLOWLOG...) are not shown; passwords
// read "(redacted)". A connection feeds in its own order; lines of different connections interleave
// in the order their threads reached the hub.
//
// Cost when nobody monitors: the Connection reads MonitorHub::active() (one relaxed load) once per
// batch and tells its session; dispatch tests that session flag. Nothing else.
//
// Where the lines go: each monitor has a MonitorStream, a buffer under a mutex that feeders on any
// thread append to; its connection's writer (network/connection.cpp), on the monitor's home thread,
// swaps the buffer out and writes it. A feeder wakes the writer with one post to the monitor's
// executor when the buffer turns non-empty (not once per line). The monitor's own replies go
// through the same buffer, so they never interleave with a line mid-way.
//
// Bound: a monitor whose unsent bytes (buffered, or in the writer's hands) pass kMonitorOutputLimit
// is disconnected (its buffer freed at once, one log line), as Redis disconnects a client over its
// output buffer's hard limit; so a monitor that does not read costs at most that much memory, plus
// the kernel's socket buffers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <tessera/server/session/session.hpp>

namespace tessera::server {

// Unsent bytes a monitor may hold before it is disconnected (Redis's pubsub class hard limit, the
// class of clients Redis streams to).
inline constexpr std::size_t kMonitorOutputLimit = 32u << 20;

class MonitorStream : public std::enable_shared_from_this<MonitorStream> {
 public:
  // `executor`: the monitor's home shard (where its writer runs and its timer lives).
  // `on_overflow` runs there once the stream passed its limit, unless it was closed first.
  MonitorStream(asio::any_io_executor executor, std::size_t limit,
                std::function<void()> on_overflow);

  // Any thread: appends `bytes`, waking the writer if it may be asleep. Past the limit the stream
  // is marked over and its buffer freed; later bytes are dropped.
  void append(std::string_view bytes);

  // ---- the writer (home thread only) ----
  struct Taken {
    bool over_limit = false;
    bool closed = false;
  };
  // Swaps the pending bytes into `into` (cleared first).
  Taken take(std::string& into);
  // Sleeps until append() or close() wakes it (at once if either did since the last take()).
  asio::awaitable<void> wait();
  // No more writing: wakes the writer, which stops.
  void close();

 private:
  void wake_locked();
  asio::steady_timer timer_;
  const std::size_t limit_;
  const std::function<void()> on_overflow_;
  std::mutex mutex_;
  std::string pending_;
  std::size_t in_flight_ = 0;  // taken by the writer, not yet written: counts against the limit
  bool over_limit_ = false;
  bool closed_ = false;
  bool woken_ = false;  // a wake-up is posted or pending since the last take()
};

class MonitorHub {
 public:
  // One relaxed load: whether any monitor is registered.
  bool active() const { return count_.load(std::memory_order_relaxed) != 0; }
  void add(std::shared_ptr<MonitorStream> stream);
  void remove(const MonitorStream* stream);
  // Any thread: appends one line to every registered stream.
  void feed(std::string_view line);

 private:
  std::atomic<unsigned> count_{0};
  std::mutex mutex_;
  std::vector<std::shared_ptr<MonitorStream>> streams_;
};

// The process's hub (one server per process, as the command statistics).
MonitorHub& monitor_hub();

// The line MONITOR shows for `argv` run by a client at `addr` ("ip:port"), at `unix_us`
// microseconds since the epoch: `+<s>.<us> [0 <addr>] "arg" ...\r\n`, each argument quoted and
// escaped as Redis's sdscatrepr does, secrets "(redacted)".
std::string monitor_line(std::int64_t unix_us, std::string_view addr, Args argv);

// Dispatch: the command `argv` just ran on `s` (which may show it).
void feed_monitors(const Session& s, Args argv);

}  // namespace tessera::server
