// Persistence: SAVE, BGSAVE without fork, the save rules, loading (design note in
// tessera/server/persistence/persistence.hpp).
#include <tessera/server/persistence/persistence.hpp>

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/aof_files.hpp>
#include <tessera/server/persistence/rdb.hpp>
#include <tessera/server/shard/shard_hold.hpp>
#include <utility>

namespace tessera::server {

namespace {

constexpr std::size_t kPartBufferBytes = 1 << 20;
// How long one slice of a background walk may run before the shard serves again. Short, as the
// expiry cycle's slices (ShardSet::kExpireSlice): a batch of commands that travels between shards
// waits for the slice on every shard it visits, so at 1 ms a pipelined writer whose keys alternate
// between two shards fell from 190,000 to under 1,000 SETs/s during a BGSAVE (bench/compare
// --workloads snapshot); at 50 µs it keeps most of its rate.
constexpr auto kSliceBudget = std::chrono::microseconds(50);
constexpr std::size_t kSliceBuckets = 16;             // buckets per snapshot_step within a slice
constexpr std::int64_t kBgsaveRetryDelaySeconds = 5;  // Redis's CONFIG_BGSAVE_RETRY_DELAY

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string cwd_or_unknown() {
  char buf[4096];
  if (::getcwd(buf, sizeof buf) == nullptr) return "unknown";
  return buf;
}

using aof_files::write_all;

}  // namespace

std::optional<std::vector<SaveRule>> parse_save_rules(std::string_view text) {
  std::vector<std::uint64_t> numbers;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ') ++j;
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + j, v);
    if (ec != std::errc() || end != text.data() + j) return std::nullopt;
    // config.c setConfigSaveOption: seconds at least 1, changes at least 0.
    if ((numbers.size() % 2 == 0 && v < 1) || (numbers.size() % 2 == 1 && v < 0)) {
      return std::nullopt;
    }
    numbers.push_back(static_cast<std::uint64_t>(v));
    i = j;
  }
  if (numbers.size() % 2 != 0) return std::nullopt;
  std::vector<SaveRule> rules;
  for (std::size_t k = 0; k < numbers.size(); k += 2) rules.push_back({numbers[k], numbers[k + 1]});
  return rules;
}

// One shard's part of a save: its keys as RDB records, in a file of their own.
class SnapshotPart final : public SnapshotSink {
 public:
  SnapshotPart(std::string path, bool compress) : path_(std::move(path)), compress_(compress) {}
  ~SnapshotPart() override {
    if (fd_ >= 0) ::close(fd_);
  }
  bool open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) error_ = errno;
    return fd_ >= 0;
  }
  void save(std::string_view key, std::string_view value,
            std::optional<std::int64_t> deadline_ms) override {
    ++keys_;
    if (deadline_ms) ++expires_;
    if (error_ != 0) return;  // the walk goes on (it restores the marks); the output is lost
    rdb::put_string_key(buf_, key, value, deadline_ms, compress_);
    if (buf_.size() >= kPartBufferBytes) flush();
  }
  // Writes what is buffered and closes the file; false after any write error.
  bool finish() {
    flush();
    if (fd_ >= 0 && ::close(fd_) != 0 && error_ == 0) error_ = errno;
    fd_ = -1;
    std::string().swap(buf_);
    return error_ == 0;
  }
  const std::string& path() const { return path_; }
  int error() const { return error_; }
  std::uint64_t keys() const { return keys_; }
  std::uint64_t expires() const { return expires_; }

 private:
  void flush() {
    if (error_ == 0 && !buf_.empty() && !write_all(fd_, buf_.data(), buf_.size())) error_ = errno;
    buf_.clear();
  }

  std::string path_;
  bool compress_;
  int fd_ = -1;
  int error_ = 0;
  std::string buf_;
  std::uint64_t keys_ = 0;
  std::uint64_t expires_ = 0;
};

struct Persistence::Run {
  std::uint64_t id = 0;
  bool background = false;
  std::vector<std::unique_ptr<SnapshotPart>> parts;
  std::vector<std::uint64_t> cursors;  // per shard: where its walk goes on
  std::atomic<unsigned> pending{0};    // parts not finished
  std::atomic<bool> cancelled{false};  // SHUTDOWN took over: the result is discarded
  int open_error = 0;
  std::string open_error_path;
  std::uint64_t changes_at_start = 0;
  std::int64_t started_ms = 0;
  bool compress = true;
  bool checksum = true;
  std::string dbfilename;  // where the file goes (the AOF's new base for a rewrite)
  // A rewrite of the append-only file (aof.hpp) rather than a BGSAVE: `at_moment` runs while every
  // shard is held (the new incr file starts there), `done` when the base is written or failed;
  // the rdb_* state is not touched.
  std::function<void()> at_moment;
  std::function<void(bool)> done;
  bool aof_base() const { return static_cast<bool>(done); }
};

Persistence::Persistence(ShardSet& shards, ServerState& state)
    : shards_(shards), state_(state), last_save_unix_(unix_now()) {
  state_.persistence = this;
  refresh();
}

Persistence::~Persistence() {
  stop();
  if (state_.persistence == this) state_.persistence = nullptr;
}

void Persistence::refresh() {
  const auto rules = parse_save_rules(state_.config.save);
  rules_set_ = rules && !rules->empty();
  stop_writes_ = state_.config.stop_writes_on_bgsave_error;
}

bool Persistence::has_save_rules() const { return rules_set_.load(); }

bool Persistence::writes_refused() const {
  return !last_bgsave_ok_.load(std::memory_order_relaxed) &&
         stop_writes_.load(std::memory_order_relaxed) && rules_set_.load(std::memory_order_relaxed);
}

std::uint64_t Persistence::total_changes() const {
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < shards_.size(); ++i) sum += shards_.shard(i).store().changes();
  return sum;
}

std::string Persistence::load() { return load_rdb(state_.config.dbfilename, true); }

std::string Persistence::load_rdb(const std::string& path, bool missing_ok) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && missing_ok) return {};
    return fmt::format("Fatal error loading the DB {}/{}: {}. Exiting.", cwd_or_unknown(), path,
                       std::strerror(errno));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t now = shards_.settings().clock->now_ms();
  std::uint64_t loaded = 0, expired = 0;
  const rdb::ByteSource source = [fd](char* into, std::size_t n) -> std::size_t {
    for (;;) {
      const ssize_t k = ::read(fd, into, n);
      if (k >= 0) return static_cast<std::size_t>(k);
      if (errno != EINTR) return 0;
    }
  };
  rdb::ReadResult r;
  try {
    r = rdb::read_file(source, [&](const rdb::LoadedKey& k) {
      // rdb.c rdbLoad: a master drops the keys whose deadline has passed.
      if (k.deadline_ms && *k.deadline_ms < now) {
        ++expired;
        return;
      }
      shards_.shard(shards_.shard_of(k.key)).store().load(k.key, k.value, k.deadline_ms);
      ++loaded;
    });
  } catch (const std::exception& e) {  // bad_alloc, a key or value over the map's limits
    r.ok = false;
    r.error = e.what();
  }
  ::close(fd);
  if (!r.ok) {
    return fmt::format("Error loading {}/{}: {}. The server does not start with part of a file.",
                       cwd_or_unknown(), path, r.error);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  loaded_keys_ = loaded;
  loaded_expired_ = expired;
  spdlog::info("Loading RDB produced by version {}", r.redis_ver.value_or("unknown"));
  spdlog::info("Done loading RDB, keys loaded: {}, keys expired: {}.", loaded, expired);
  spdlog::info("DB loaded from disk: {:.3f} seconds ({} keys from {}, {} bytes, RDB version {})",
               seconds, loaded, path, r.bytes, r.version);
  changes_base_ = total_changes();  // loading is no change to save
  return {};
}

void Persistence::start() {
  std::lock_guard lock(mutex_);
  if (saver_.joinable()) return;
  stopping_ = false;
  saver_ = std::thread([this] { saver_loop(); });
}

void Persistence::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (saver_.joinable()) saver_.join();
  // A background save the exit cut short (its walks no longer run): its part files go.
  std::shared_ptr<Run> left;
  {
    std::lock_guard lock(mutex_);
    left = std::exchange(background_, nullptr);
    ready_.reset();
  }
  if (left && !shards_.running()) {
    for (auto& p : left->parts) {
      p->finish();
      ::unlink(p->path().c_str());
    }
  }
}

std::shared_ptr<Persistence::Run> Persistence::prepare(bool background, BaseRewrite* rewrite) {
  auto run = std::make_shared<Run>();
  if (rewrite != nullptr) {
    run->at_moment = std::move(rewrite->at_moment);
    run->done = std::move(rewrite->done);
  }
  run->id = next_save_id_++;
  run->background = background;
  run->started_ms = ms_now();
  {
    std::lock_guard lock(state_.config_mutex);
    run->compress = state_.config.rdbcompression;
    run->checksum = state_.config.rdbchecksum;
    run->dbfilename = rewrite != nullptr ? rewrite->path : state_.config.dbfilename;
  }
  if (!run->aof_base()) saves_.fetch_add(1);  // Redis counts a save when it starts (rdb_saves)
  const unsigned n = shards_.size();
  run->cursors.assign(n, 0);
  for (unsigned i = 0; i < n; ++i) {
    auto part = std::make_unique<SnapshotPart>(
        fmt::format("temp-{}-{}.part{}", ::getpid(), run->id, i), run->compress);
    if (!part->open()) {
      run->open_error = part->error();
      run->open_error_path = part->path();
      for (auto& p : run->parts) {
        p->finish();
        ::unlink(p->path().c_str());
      }
      run->parts.clear();
      return run;
    }
    run->parts.push_back(std::move(part));
  }
  return run;
}

std::shared_ptr<Persistence::Run> Persistence::start_background(BaseRewrite* rewrite) {
  if (in_progress_.exchange(true)) return nullptr;
  rewriting_ = rewrite != nullptr;
  if (rewrite == nullptr) last_bgsave_try_unix_ = unix_now();
  auto run = prepare(true, rewrite);
  current_started_ms_ = run->started_ms;
  if (run->open_error != 0) {
    spdlog::warn("Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
                 run->open_error_path, cwd_or_unknown(), std::strerror(run->open_error));
    finish_background(*run, false);  // as Redis: started, then failed
    return run;
  }
  {
    std::lock_guard lock(mutex_);
    background_ = run;
  }
  if (rewrite == nullptr) spdlog::info("Background saving started");
  return run;
}

bool Persistence::launch_background(unsigned home, std::shared_ptr<Run> run) {
  if (!run) return false;
  if (run->open_error == 0) {
    const std::uint64_t owner = state_.next_client_id.fetch_add(1);
    asio::co_spawn(shards_.shard(home).context(), begin_background(run, home, owner),
                   asio::detached);
  }
  return true;
}

bool Persistence::rewrite_base(unsigned home, BaseRewrite rewrite) {
  return launch_background(home, start_background(&rewrite));
}

bool Persistence::bgsave(unsigned home) { return launch_background(home, start_background()); }

asio::awaitable<bool> Persistence::bgsave_begun(unsigned home) {
  auto run = start_background();
  if (!run) co_return false;
  if (run->open_error == 0) {
    co_await begin_background(run, home, state_.next_client_id.fetch_add(1));
  }
  co_return true;
}

asio::awaitable<void> Persistence::begin_background(std::shared_ptr<Run> run, unsigned home,
                                                    std::uint64_t owner) {
  std::vector<unsigned> all(shards_.size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  // Every shard held: one moment for the whole keyspace (the design note).
  co_await hold_shards(shards_, home, owner, all);
  std::uint64_t changes = 0;
  for (unsigned i = 0; i < all.size(); ++i) {
    Store& store = shards_.shard(i).store();
    changes += store.changes();
    if (run->cancelled) continue;
    store.begin_snapshot(run->parts[i].get());
  }
  if (run->at_moment && !run->cancelled) run->at_moment();
  run->changes_at_start = changes;
  run->pending = static_cast<unsigned>(all.size());
  release_shards(shards_, home, all);
  for (unsigned i = 0; i < all.size(); ++i) {
    shards_.post(i, [this, run, i] { slice(run, i); });
  }
}

void Persistence::slice(std::shared_ptr<Run> run, unsigned i) {
  Shard& shard = shards_.shard(i);
  shard.when_free([this, run, i, &shard] {
    Store& store = shard.store();
    const auto t0 = std::chrono::steady_clock::now();
    bool done = !store.snapshotting();
    while (!done) {
      run->cursors[i] = store.snapshot_step(run->cursors[i], kSliceBuckets);
      if (run->cursors[i] == 0 || !store.snapshotting()) {
        done = true;
      } else if (std::chrono::steady_clock::now() - t0 >= kSliceBudget) {
        break;
      }
    }
    if (!done) {
      shards_.post(i, [this, run, i] { slice(run, i); });
      return;
    }
    run->parts[i]->finish();
    if (run->pending.fetch_sub(1) == 1) {
      std::lock_guard lock(mutex_);
      ready_ = run;
      wake_.notify_all();
    }
  });
}

bool Persistence::assemble(Run& run) {
  auto remove_parts = [&] {
    for (auto& p : run.parts) ::unlink(p->path().c_str());
  };
  if (run.cancelled) {
    remove_parts();
    return false;
  }
  for (auto& p : run.parts) {
    if (p->error() != 0) {
      spdlog::warn("Write error saving DB on disk: {}", std::strerror(p->error()));
      remove_parts();
      return false;
    }
  }
  const std::string tmp = fmt::format("temp-{}-{}.rdb", ::getpid(), run.id);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    spdlog::warn("Failed opening the temp RDB file {} (in server root dir {}) for saving: {}", tmp,
                 cwd_or_unknown(), std::strerror(errno));
    remove_parts();
    return false;
  }
  std::uint64_t keys = 0, expires = 0;
  for (auto& p : run.parts) {
    keys += p->keys();
    expires += p->expires();
  }
  std::string head;
  rdb::put_header(head);
  rdb::put_aux(head, "redis-ver", "7.0.15");
  rdb::put_aux(head, "redis-bits", "64");
  rdb::put_aux(head, "ctime", std::to_string(unix_now()));
  rdb::put_aux(head, "used-mem", std::to_string(shards_.used_memory()));
  rdb::put_aux(head, "aof-base", run.aof_base() ? "1" : "0");
  rdb::put_select_db(head, 0);
  rdb::put_resize_db(head, keys, expires);
  std::uint64_t crc = rdb::crc64(0, head.data(), head.size());
  bool ok = write_all(fd, head.data(), head.size());
  std::vector<char> buf(kPartBufferBytes);
  for (auto& p : run.parts) {
    if (!ok) break;
    const int in = ::open(p->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      ok = false;
      break;
    }
    for (;;) {
      const ssize_t k = ::read(in, buf.data(), buf.size());
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) ok = false;
      if (k <= 0) break;
      crc = rdb::crc64(crc, buf.data(), static_cast<std::size_t>(k));
      if (!write_all(fd, buf.data(), static_cast<std::size_t>(k))) {
        ok = false;
        break;
      }
    }
    ::close(in);
  }
  std::string tail;
  rdb::put_eof(tail, crc);
  if (!run.checksum) std::memset(tail.data() + 1, 0, 8);  // rdbchecksum no: a zero checksum
  ok = ok && write_all(fd, tail.data(), tail.size());
  ok = ok && ::fsync(fd) == 0;
  const int saved_errno = errno;
  ok = (::close(fd) == 0) && ok;
  remove_parts();
  if (!ok) {
    spdlog::warn("Write error saving DB on disk: {}", std::strerror(saved_errno));
    ::unlink(tmp.c_str());
    return false;
  }
  {
    std::lock_guard lock(rename_mutex_);
    if (run.cancelled) {
      ::unlink(tmp.c_str());
      return false;
    }
    if (::rename(tmp.c_str(), run.dbfilename.c_str()) != 0) {
      spdlog::warn(
          "Error moving temp DB file {} on the final destination {} (in server root dir "
          "{}): {}",
          tmp, run.dbfilename, cwd_or_unknown(), std::strerror(errno));
      ::unlink(tmp.c_str());
      return false;
    }
  }
  // The rename is durable once the directory is.
  if (const int dir = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  spdlog::info("DB saved on disk ({} keys, {} with a deadline)", keys, expires);
  return true;
}

void Persistence::finish_background(Run& run, bool ok) {
  if (run.aof_base()) {
    run.done(ok && !run.cancelled);
  } else if (!run.cancelled) {
    if (ok) {
      last_save_unix_ = unix_now();
      changes_base_ = run.changes_at_start;
      spdlog::info("Background saving terminated with success");
    } else {
      spdlog::warn("Background saving error");
    }
    last_bgsave_ok_ = ok;
    last_bgsave_seconds_ = (ms_now() - run.started_ms) / 1000;
  } else {
    spdlog::info("Background saving terminated (a foreground save took over)");
  }
  {
    std::lock_guard lock(mutex_);
    if (background_.get() == &run) background_.reset();
  }
  in_progress_ = false;
}

bool Persistence::save_stores(const std::vector<Store*>& stores, bool cancel_background,
                              bool* busy) {
  if (in_progress_.load()) {
    if (!cancel_background) {
      if (busy != nullptr) *busy = true;
      return false;
    }
    std::shared_ptr<Run> bg;
    {
      std::lock_guard lock(mutex_);
      bg = background_;
    }
    if (bg) {
      spdlog::warn("There is a background save in progress. Dropping it.");
      {
        std::lock_guard lock(rename_mutex_);
        bg->cancelled = true;
      }
    }
    // End the background walks here (their output is discarded) so the stores are free.
    for (Store* s : stores) {
      std::uint64_t cursor = 0;
      while (s->snapshotting()) cursor = s->snapshot_step(cursor, 4096);
    }
  }
  auto run = prepare(false);
  if (run->open_error != 0) {
    spdlog::warn("Failed opening the temp RDB file {} (in server root dir {}) for saving: {}",
                 run->open_error_path, cwd_or_unknown(), std::strerror(run->open_error));
    return false;
  }
  std::uint64_t changes = 0;
  for (std::size_t i = 0; i < stores.size(); ++i) {
    Store* s = stores[i];
    changes += s->changes();
    s->begin_snapshot(run->parts[i].get());
    std::uint64_t cursor = 0;
    do {
      cursor = s->snapshot_step(cursor, 4096);
    } while (cursor != 0 && s->snapshotting());
    run->parts[i]->finish();
  }
  run->changes_at_start = changes;
  if (!assemble(*run)) return false;
  // rdb.c rdbSave: a successful save resets the counters and the background status too.
  last_save_unix_ = unix_now();
  changes_base_ = changes;
  last_bgsave_ok_ = true;
  return true;
}

bool Persistence::save_at_exit() {
  if (skip_exit_save_ || !has_save_rules()) return true;
  spdlog::info("Saving the final RDB snapshot before exiting.");
  std::vector<Store*> stores;
  for (unsigned i = 0; i < shards_.size(); ++i) stores.push_back(&shards_.shard(i).store());
  if (!save_stores(stores, true)) {
    spdlog::warn("Error trying to save the DB, can't exit cleanly: the previous {} is unchanged",
                 state_.config.dbfilename);
    return false;
  }
  return true;
}

void Persistence::saver_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_ || ready_; });
    if (stopping_) break;
    if (ready_) {
      std::shared_ptr<Run> run = std::move(ready_);
      lock.unlock();
      const bool ok = assemble(*run);
      finish_background(*run, ok);
      lock.lock();
      continue;
    }
    lock.unlock();
    check_rules();
    lock.lock();
  }
}

void Persistence::check_rules() {
  if (in_progress_.load() || !shards_.running()) return;
  std::optional<std::vector<SaveRule>> rules;
  {
    std::lock_guard lock(state_.config_mutex);
    rules = parse_save_rules(state_.config.save);
  }
  if (!rules) return;
  const std::int64_t now = unix_now();
  const std::uint64_t dirty = total_changes() - changes_base_.load();
  if (scheduled_.exchange(false)) {
    bgsave(0);
    return;
  }
  for (const SaveRule& r : *rules) {
    // server.c serverCron: enough changes, enough time since the last save, and not right after a
    // failed attempt.
    if (dirty >= r.changes && now - last_save_unix_.load() > static_cast<std::int64_t>(r.seconds) &&
        (now - last_bgsave_try_unix_.load() > kBgsaveRetryDelaySeconds || last_bgsave_ok_.load())) {
      spdlog::info("{} changes in {} seconds. Saving...", r.changes, r.seconds);
      bgsave(0);
      break;
    }
  }
}

std::string Persistence::info() const {
  std::string out;
  auto field = [&](std::string_view name, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}:{}\r\n", name, value);
  };
  const bool running = in_progress_.load() && !rewriting_.load();
  field("loading", 0);
  field("async_loading", 0);
  field("current_cow_peak", 0);
  field("current_cow_size", 0);
  field("current_cow_size_age", 0);
  field("current_fork_perc", "0.00");
  field("current_save_keys_processed", 0);
  field("current_save_keys_total", 0);
  field("rdb_changes_since_last_save", total_changes() - changes_base_.load());
  field("rdb_bgsave_in_progress", running ? 1 : 0);
  field("rdb_last_save_time", last_save_unix_.load());
  field("rdb_last_bgsave_status", last_bgsave_ok_.load() ? "ok" : "err");
  field("rdb_last_bgsave_time_sec", last_bgsave_seconds_.load());
  field("rdb_current_bgsave_time_sec",
        running ? (ms_now() - current_started_ms_.load()) / 1000 : std::int64_t{-1});
  field("rdb_saves", saves_.load());
  field("rdb_last_cow_size", 0);
  field("rdb_last_load_keys_expired", loaded_expired_.load());
  field("rdb_last_load_keys_loaded", loaded_keys_.load());
  const AppendOnlyFile* aof = state_.aof;
  if (aof != nullptr) {
    out += aof->info_status();
  } else {
    field("aof_enabled", 0);
    field("aof_rewrite_in_progress", 0);
    field("aof_rewrite_scheduled", 0);
    field("aof_last_rewrite_time_sec", -1);
    field("aof_current_rewrite_time_sec", -1);
    field("aof_last_bgrewrite_status", "ok");
    field("aof_rewrites", 0);
    field("aof_rewrites_consecutive_failures", 0);
    field("aof_last_write_status", "ok");
    field("aof_last_cow_size", 0);
  }
  field("module_fork_in_progress", 0);
  field("module_fork_last_cow_size", 0);
  if (aof != nullptr) out += aof->info();
  return out;
}

}  // namespace tessera::server
