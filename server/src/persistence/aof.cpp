// The append-only file: the log, its writer thread and its files (design note in
// tessera/server/persistence/aof.hpp; loading is in aof_load.cpp).
#include <tessera/server/persistence/aof.hpp>

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/persistence/aof_files.hpp>
#include <utility>

namespace tessera::server {

namespace {
// How long the writer sleeps when nothing wakes it (everysec's fsync and a failed write's retry
// are checked at least this often).
constexpr auto kWriterTick = std::chrono::milliseconds(100);
}  // namespace

AppendOnlyFile::AppendOnlyFile(ShardSet& shards, ServerState& state, Persistence& persistence)
    : shards_(shards), state_(state), persistence_(persistence) {
  refresh();
}

AppendOnlyFile::~AppendOnlyFile() {
  stop();
  if (fd_ >= 0) ::close(fd_);
  if (state_.aof == this) state_.aof = nullptr;
}

void AppendOnlyFile::refresh() {
  const std::string& p = state_.config.appendfsync;
  policy_ = p == "always" ? kAlways : p == "no" ? kNo : kEverysec;
  auto_percentage_ = state_.config.auto_aof_rewrite_percentage;
  auto_min_size_ = state_.config.auto_aof_rewrite_min_size;
  wake_.notify_one();
}

void AppendOnlyFile::append(std::string_view commands) {
  bool was_empty;
  {
    std::lock_guard lock(mutex_);
    was_empty = pending_.empty();
    pending_.append(commands);
    appended_ += commands.size();
  }
  if (was_empty) wake_.notify_one();
}

void AppendOnlyFile::append_unit(std::vector<CapturedChanges>& parts) {
  std::size_t count = 0;
  bool flushed = false;
  const CapturedChanges* only = nullptr;
  for (const auto& p : parts) {
    count += p.count;
    flushed = flushed || p.flushed;
    if (p.count != 0) only = &p;
  }
  if (flushed) ++count;
  if (count == 0) return;
  if (count == 1 && !flushed) {
    append(only->commands);
    return;
  }
  // multi.c: a transaction is propagated between MULTI and EXEC; a crash inside leaves no EXEC and
  // the loader drops the whole unit.
  std::string unit;
  protocol::write_command(unit, {"MULTI"});
  if (flushed) protocol::write_command(unit, {"FLUSHALL"});
  for (const auto& p : parts) unit.append(p.commands);
  protocol::write_command(unit, {"EXEC"});
  append(unit);
}

asio::awaitable<void> AppendOnlyFile::durable() {
  std::uint64_t target;
  {
    std::lock_guard lock(mutex_);
    target = appended_;
  }
  if (synced_.load(std::memory_order_acquire) >= target) co_return;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, target](auto handler) {
        auto executor = asio::get_associated_executor(handler);
        DeferredWork resume(
            [h = std::move(handler), executor]() mutable { asio::post(executor, std::move(h)); });
        {
          std::lock_guard lock(mutex_);
          if (synced_.load(std::memory_order_acquire) < target && !stopping_) {
            waiters_.push_back({target, std::move(resume)});
            wake_.notify_one();
            return;
          }
        }
        resume();
      },
      asio::use_awaitable);
}

void AppendOnlyFile::complete_waiters(std::uint64_t synced) {
  std::vector<Waiter> done;
  {
    std::lock_guard lock(mutex_);
    auto keep = waiters_.begin();
    for (auto& w : waiters_) {
      if (w.offset <= synced || stopping_) {
        done.push_back(std::move(w));
      } else {
        *keep++ = std::move(w);
      }
    }
    waiters_.erase(keep, waiters_.end());
  }
  for (auto& w : done) w.resume();
}

bool AppendOnlyFile::write_out(const std::string& bytes) {
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  if (aof_files::write_all(fd_, bytes.data(), bytes.size())) {
    current_size_ += bytes.size();
    if (!last_write_ok_.load()) {
      spdlog::warn("AOF write error looks solved, Redis can write again.");
      last_write_ok_ = true;
    }
    return true;
  }
  const int err = errno;
  // aof.c flushAppendOnlyFile: a partial write is cut back, so that the file stays whole commands
  // and the retry writes the same bytes again.
  if (before >= 0 && ::ftruncate(fd_, before) != 0) {
    spdlog::warn(
        "Could not remove short write from the append-only file. Redis may refuse to "
        "load the AOF the next time it starts. ftruncate: {}",
        std::strerror(errno));
  }
  if (last_write_ok_.load()) {
    spdlog::warn("Error writing to the AOF file: {}", std::strerror(err));
  }
  last_write_errno_ = err;
  last_write_ok_ = false;
  return false;
}

void AppendOnlyFile::writer_loop() {
  using Clock = std::chrono::steady_clock;
  auto last_fsync = Clock::now();
  std::string batch;
  for (;;) {
    std::uint64_t end = 0;
    bool stopping = false;
    int next_fd = -1;
    std::string old_tail;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, kWriterTick,
                     [&] { return stopping_ || !pending_.empty() || next_fd_ >= 0; });
      batch.swap(pending_);
      end = appended_;
      stopping = stopping_;
      next_fd = std::exchange(next_fd_, -1);
      old_tail.swap(old_tail_);
    }
    const Policy policy = static_cast<Policy>(policy_.load());
    if (next_fd >= 0) {
      // A rewrite's moment: the old incr file gets what came before it, whole and fsynced, and is
      // closed; the new one everything after. Bytes the old file refuses go first into the new.
      if (!old_tail.empty() && write_out(old_tail)) old_tail.clear();
      ::fdatasync(fd_);
      ::close(fd_);
      fd_ = next_fd;
      if (!old_tail.empty()) batch.insert(0, old_tail);
    }
    bool written = true;
    if (!batch.empty()) {
      written = write_out(batch);
      if (!written) {
        if (policy == kAlways) {
          spdlog::critical(
              "Can't recover from AOF write error when the AOF fsync policy is "
              "'always'. Exiting...");
          spdlog::shutdown();
          std::_Exit(1);
        }
        // Kept for the retry, ahead of what was appended meanwhile; retried once a second.
        std::unique_lock lock(mutex_);
        batch.append(pending_);
        pending_.swap(batch);
        if (!stopping) wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
      }
      batch.clear();
      if (batch.capacity() > (8u << 20)) std::string().swap(batch);
    }
    const bool behind = written && synced_.load() < end;
    const bool due = policy == kAlways ||
                     (policy == kEverysec && Clock::now() - last_fsync >= std::chrono::seconds(1));
    if (behind && (due || stopping)) {
      pending_fsync_ = 1;
      if (::fdatasync(fd_) != 0) {
        const int err = errno;
        if (policy == kAlways) {
          spdlog::critical(
              "Can't persist AOF for fsync error when the AOF fsync policy is "
              "'always': {}. Exiting...",
              std::strerror(err));
          spdlog::shutdown();
          std::_Exit(1);
        }
        spdlog::warn("Error fsyncing the AOF file: {}", std::strerror(err));
        last_write_errno_ = err;
        last_write_ok_ = false;
      } else {
        synced_.store(end, std::memory_order_release);
      }
      pending_fsync_ = 0;
      last_fsync = Clock::now();
    } else if (written && policy == kNo) {
      // Never fsynced by us: as far as waiting goes, written is all there is.
      synced_.store(end, std::memory_order_release);
    }
    complete_waiters(synced_.load());
    maybe_start_rewrite();
    if (stopping) {
      std::lock_guard lock(mutex_);
      if (pending_.empty() || !last_write_ok_.load()) break;
    }
  }
  complete_waiters(~std::uint64_t{0});
}

void AppendOnlyFile::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::string AppendOnlyFile::misconf_text() const {
  return fmt::format("MISCONF Errors writing to the AOF file: {}",
                     std::strerror(last_write_errno_.load()));
}

std::string AppendOnlyFile::info() const {
  std::string out;
  auto field = [&](std::string_view name, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", name, value);
  };
  std::size_t buffered;
  {
    std::lock_guard lock(mutex_);
    buffered = pending_.size();
  }
  field("aof_current_size", current_size_.load());
  field("aof_base_size", base_size_.load());
  field("aof_pending_rewrite", 0);
  field("aof_buffer_length", buffered);
  field("aof_pending_bio_fsync", pending_fsync_.load());
  field("aof_delayed_fsync", delayed_fsync_.load());
  return out;
}

}  // namespace tessera::server
