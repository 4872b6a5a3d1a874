// MONITOR: the command, the hub its streams register with, and the line format (design note in
// tessera/server/commands/monitor.hpp).
#include <tessera/server/commands/monitor.hpp>

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "families.hpp"

namespace tessera::server {

MonitorStream::MonitorStream(asio::any_io_executor executor, std::size_t limit,
                             std::function<void()> on_overflow)
    : timer_(std::move(executor), asio::steady_timer::time_point::max()),
      limit_(limit),
      on_overflow_(std::move(on_overflow)) {}

void MonitorStream::wake_locked() {
  if (woken_) return;
  woken_ = true;
  // The timer is the writer's (home thread): cancel it there; the post keeps the stream alive.
  // Past the limit the writer may be stuck in a write to a peer that does not read: the
  // connection is told directly. It is alive while the stream is not closed (it closes the stream
  // on this same thread before it ends).
  asio::post(timer_.get_executor(), [self = shared_from_this()] {
    self->timer_.cancel();
    bool overflowed = false;
    {
      std::lock_guard lock(self->mutex_);
      overflowed = self->over_limit_ && !self->closed_;
    }
    if (overflowed && self->on_overflow_) self->on_overflow_();
  });
}

void MonitorStream::append(std::string_view bytes) {
  std::lock_guard lock(mutex_);
  if (over_limit_ || closed_) return;
  if (in_flight_ + pending_.size() + bytes.size() > limit_) {
    over_limit_ = true;
    std::string().swap(pending_);
    woken_ = false;  // a post for the overflow even if the writer was woken before
  } else {
    pending_.append(bytes);
  }
  wake_locked();
}

MonitorStream::Taken MonitorStream::take(std::string& into) {
  into.clear();
  std::lock_guard lock(mutex_);
  // The writer takes again only once it wrote what it took before.
  in_flight_ = pending_.size();
  into.swap(pending_);
  woken_ = false;
  return {over_limit_, closed_};
}

asio::awaitable<void> MonitorStream::wait() {
  {
    std::lock_guard lock(mutex_);
    if (woken_ || !pending_.empty() || over_limit_ || closed_) co_return;
  }
  // A wake-up posted after the check runs on this thread, so after this wait has begun.
  timer_.expires_at(asio::steady_timer::time_point::max());
  co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
}

void MonitorStream::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  wake_locked();
}

void MonitorHub::add(std::shared_ptr<MonitorStream> stream) {
  std::lock_guard lock(mutex_);
  streams_.push_back(std::move(stream));
  count_.store(static_cast<unsigned>(streams_.size()), std::memory_order_relaxed);
}

void MonitorHub::remove(const MonitorStream* stream) {
  std::lock_guard lock(mutex_);
  std::erase_if(streams_, [&](const auto& s) { return s.get() == stream; });
  count_.store(static_cast<unsigned>(streams_.size()), std::memory_order_relaxed);
}

void MonitorHub::feed(std::string_view line) {
  std::lock_guard lock(mutex_);
  for (const auto& s : streams_) s->append(line);
}

MonitorHub& monitor_hub() {
  static MonitorHub* hub = new MonitorHub;  // never destroyed: threads may feed during exit
  return *hub;
}

namespace {

// sds.c sdscatrepr: quoted, with \\ \" \n \r \t \a \b escaped and other bytes outside isprint()
// (the C locale's 0x20..0x7e) as \xHH.
void append_repr(std::string& out, std::string_view arg) {
  out += '"';
  for (const char c : arg) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (c >= 0x20 && c <= 0x7e) {
          out += c;
        } else {
          fmt::format_to(std::back_inserter(out), "\\x{:02x}", static_cast<unsigned char>(c));
        }
    }
  }
  out += '"';
}

}  // namespace

std::string monitor_line(std::int64_t unix_us, std::string_view addr, Args argv) {
  std::string line;
  std::size_t size = 32 + addr.size();
  for (std::string_view a : argv) size += a.size() + 3;
  line.reserve(size);
  fmt::format_to(std::back_inserter(line), "+{}.{:06} [0 {}]", unix_us / 1'000'000,
                 unix_us % 1'000'000, addr);
  for (std::size_t i = 0; i < argv.size(); ++i) {
    line += ' ';
    if (argument_redacted(argv, i)) {
      line += "\"(redacted)\"";
    } else {
      append_repr(line, argv[i]);
    }
  }
  line += "\r\n";
  return line;
}

void feed_monitors(const Session& s, Args argv) {
  const std::int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  monitor_hub().feed(monitor_line(now_us, s.peer(), argv));
}

namespace {

void cmd_monitor(Session& s, Args) {
  // networking.c monitorCommand: refused where a reply per command is expected (inside EXEC);
  // ignored, with no reply at all, by a client that already monitors.
  if (s.multi().in_exec) {
    s.reply().error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    return;
  }
  if (s.monitor()) return;
  s.set_monitor();
  s.reply().ok();
}

const CommandSpec kCommands[] = {
    {.name = "monitor",
     .arity = 1,
     .flags = kCmdAdmin,
     .acl_categories = "@admin @slow @dangerous",
     .group = "server",
     .summary = "Listens for all requests received by the server in real-time.",
     .since = "1.0.0",
     .sync = cmd_monitor},
};

}  // namespace

std::span<const CommandSpec> monitor_commands() { return kCommands; }

}  // namespace tessera::server
