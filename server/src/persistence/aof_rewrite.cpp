// The append-only file's rewrite: BGREWRITEAOF and the automatic one (design note in
// tessera/server/persistence/aof.hpp).
#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/aof_files.hpp>
#include <tessera/server/persistence/persistence.hpp>

namespace tessera::server {

namespace {

std::int64_t ms_since_epoch() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}
// After a failed rewrite, the automatic one waits this long before it tries again (Redis's
// AOF_REWRITE_... back-off is in minutes too).
constexpr std::int64_t kAutoRetryMs = 60'000;

}  // namespace

std::string AppendOnlyFile::write_manifest() {
  return aof_files::replace_file(dir_ + "/" + prefix_ + ".manifest",
                                 format_aof_manifest(manifest_));
}

std::string AppendOnlyFile::rewrite(unsigned home, bool* scheduled) {
  *scheduled = false;
  if (rewriting_.exchange(true)) {
    return "ERR Background append only file rewriting already in progress";
  }
  std::string path;
  {
    std::lock_guard lock(files_mutex_);
    std::uint64_t seq = 0;
    for (const auto& f : manifest_.files) seq = std::max(seq, f.seq);
    new_seq_ = seq + 1;
    new_base_ = fmt::format("{}.{}.base.rdb", prefix_, new_seq_);
    path = dir_ + "/" + new_base_;
    switch_failed_ = false;
  }
  rewrite_started_ms_ = ms_since_epoch();
  BaseRewrite run{path, [this] { switch_incr(); }, [this](bool ok) { rewrite_done(ok); }};
  if (!persistence_.rewrite_base(home, std::move(run))) {
    // aof.c bgrewriteaofCommand: a BGSAVE in progress: the rewrite starts after it.
    rewriting_ = false;
    rewrite_scheduled_ = true;
    *scheduled = true;
    return {};
  }
  rewrite_scheduled_ = false;
  ++rewrites_;
  spdlog::info("Background append only file rewriting started");
  return {};
}

void AppendOnlyFile::switch_incr() {
  std::lock_guard files(files_mutex_);
  const std::string name = fmt::format("{}.{}.incr.aof", prefix_, new_seq_);
  const std::string path = dir_ + "/" + name;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  std::string select;
  protocol::write_command(select, {"SELECT", "0"});
  if (fd < 0 || !aof_files::write_all(fd, select.data(), select.size())) {
    spdlog::warn("Can't open the AOF file {} for the rewrite: {}", path, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    switch_failed_ = true;
    return;
  }
  replaced_ = manifest_.files;
  manifest_.files.push_back({name, new_seq_, 'i'});
  if (std::string why = write_manifest(); !why.empty()) {
    spdlog::warn("Can't persist the AOF manifest for the rewrite: {}", why);
    manifest_.files.pop_back();
    ::close(fd);
    ::unlink(path.c_str());
    switch_failed_ = true;
    return;
  }
  {
    // Every store is held: nothing appends meanwhile, so what is pending now is exactly what
    // came before the snapshot's moment.
    std::lock_guard lock(mutex_);
    old_tail_ = std::move(pending_);
    pending_.clear();
    next_fd_ = fd;
  }
  wake_.notify_one();
}

void AppendOnlyFile::rewrite_done(bool ok) {
  std::string failure;
  {
    std::lock_guard files(files_mutex_);
    const std::string base_path = dir_ + "/" + new_base_;
    if (!ok || switch_failed_) {
      failure = "the snapshot could not be written";
    } else {
      AofManifest next;
      next.files.push_back({new_base_, new_seq_, 'b'});
      for (const auto& f : manifest_.files) {
        if (f.type == 'i' && f.seq >= new_seq_) next.files.push_back(f);
      }
      std::swap(next, manifest_);
      if (std::string why = write_manifest(); !why.empty()) {
        std::swap(next, manifest_);  // the old manifest (old files and the new incr) stays valid
        failure = "can't persist the AOF manifest: " + why;
      } else {
        for (const auto& f : replaced_) ::unlink((dir_ + "/" + f.name).c_str());
        base_size_ = file_size(base_path);
        current_size_ = base_size_.load() + file_size(dir_ + "/" + manifest_.files.back().name);
      }
    }
    if (!failure.empty()) ::unlink(base_path.c_str());
    replaced_.clear();
  }
  last_rewrite_seconds_ = (ms_since_epoch() - rewrite_started_ms_.load()) / 1000;
  if (failure.empty()) {
    rewrite_failures_ = 0;
    last_rewrite_ok_ = true;
    spdlog::info("Background AOF rewrite terminated with success");
    spdlog::info("Background AOF rewrite finished successfully");
  } else {
    ++rewrite_failures_;
    last_rewrite_ok_ = false;
    last_rewrite_failed_ms_ = ms_since_epoch();
    spdlog::warn("Background AOF rewrite terminated with error: {}", failure);
  }
  rewriting_ = false;
}

void AppendOnlyFile::maybe_start_rewrite() {
  if (rewriting_.load() || !shards_.running() || persistence_.save_in_progress()) return;
  bool scheduled = false;
  if (rewrite_scheduled_.load()) {
    rewrite(0, &scheduled);
    return;
  }
  const std::int64_t percentage = auto_percentage_.load();
  const std::uint64_t size = current_size_.load();
  if (percentage <= 0 || size < auto_min_size_.load()) return;
  if (!last_rewrite_ok_.load() &&
      ms_since_epoch() - last_rewrite_failed_ms_.load() < kAutoRetryMs) {
    return;
  }
  const std::uint64_t base = std::max<std::uint64_t>(base_size_.load(), 1);
  const std::int64_t growth = static_cast<std::int64_t>(size * 100 / base) - 100;
  if (growth >= percentage) {
    spdlog::info("Starting automatic rewriting of AOF on {}% growth", growth);
    rewrite(0, &scheduled);
  }
}

std::string AppendOnlyFile::info_status() const {
  std::string out;
  auto field = [&](std::string_view name, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", name, value);
  };
  const bool rewriting = rewriting_.load();
  field("aof_enabled", 1);
  field("aof_rewrite_in_progress", rewriting ? 1 : 0);
  field("aof_rewrite_scheduled", rewrite_scheduled_.load() ? 1 : 0);
  field("aof_last_rewrite_time_sec", last_rewrite_seconds_.load());
  field("aof_current_rewrite_time_sec",
        rewriting ? (ms_since_epoch() - rewrite_started_ms_.load()) / 1000 : std::int64_t{-1});
  field("aof_last_bgrewrite_status", last_rewrite_ok_.load() ? "ok" : "err");
  field("aof_rewrites", rewrites_.load());
  field("aof_rewrites_consecutive_failures", rewrite_failures_.load());
  field("aof_last_write_status", write_failed() ? "err" : "ok");
  field("aof_last_cow_size", 0);
  return out;
}

}  // namespace tessera::server
