// Persistence: RDB snapshots (SAVE, BGSAVE, the save rules, loading at start-up, the save at exit).
//
// Design note.
//
// BGSAVE WITHOUT FORK. Redis forks and lets copy-on-write keep the child's view still; a
// multi-threaded process cannot fork safely, and the copy-on-write can reach twice the memory under
// writes. Tessera snapshots in place, as Dragonfly does (docs/rdbsave.md: a snapshot version per
// bucket, and a pre-write hook that serialises a bucket before a write changes it), at the grain of
// one entry: store/store.hpp's snapshot mark. A BGSAVE
//   1. opens one part file per shard (temp-<pid>-<n>.part<i> in dir);
//   2. HOLDS EVERY SHARD (shard/shard_hold.hpp, in ascending order, as an EXEC over all shards
//      would), calls Store::begin_snapshot on each, and releases them: from that one moment on,
//      each store hands to its part every key as it was then, exactly once: either when the walk
//      reaches it, or just before anything changes it (a write, a delete, an expiry, an eviction,
//      FLUSHALL), whichever comes first. Keys created afterwards are never saved;
//   3. walks each store on its own shard thread in slices of about kSliceBudget, each slice posted
//      to the shard's io_context behind whatever else is queued (and behind holds:
//      Shard::when_free), so the shard keeps serving between slices; a part is written to its file
//      in 1 MiB chunks;
//   4. when the last part is done, the saver thread writes temp-<pid>-<n>.rdb: the header and AUX
//      fields, SELECTDB 0, RESIZEDB, the parts in shard order, EOF and the CRC-64 (computed while
//      copying), fsyncs it, renames it over dbfilename, and fsyncs the directory.
// THE POINT IN TIME: the file holds the whole keyspace, across all shards, as it was at the moment
// step 2 held every shard, the same moment for all of them (no command runs on any shard while they
// are all held, so every command is entirely before or entirely after it). Values and deadlines are
// those of that moment; a key that had expired by then may be in the file with its past deadline
// (as Redis saves it) and the loader drops it.
// Why part files and not one stream: the shards walk in parallel and at their own pace; streaming
// them in turn would make the last shard wait for the others, holding its hook output in memory, or
// serialise the walks. The cost is that a save needs the file's size twice on disk while it is put
// together (the parts are removed right after).
// Memory: the extra memory of a BGSAVE is each part's 1 MiB buffer and the entries that writes
// save ahead of the walk (written out with the same buffer): it does not grow with the keyspace.
//
// SAVE and SHUTDOWN's save hold every shard for the whole save (nothing runs meanwhile, as Redis's
// SAVE blocks) and walk the stores inline on the caller's thread, with the same parts and the same
// assembly. The save at exit (SIGTERM/SIGINT with save rules) runs once the shard threads stopped.
//
// Changes since the last save (rdb_changes_since_last_save, the save rules): each store counts its
// changes; a save remembers the counts of the moment it began, and a successful one makes them the
// new base. A temporary file is written, fsynced and renamed, so a crash or a failed save leaves
// the previous dump.rdb as it was.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/shard/shard_set.hpp>

namespace tessera::server {

struct SaveRule {
  std::uint64_t seconds = 0;
  std::uint64_t changes = 0;
  bool operator==(const SaveRule&) const = default;
};
// Redis's `save` value: "" (no rules) or "<seconds> <changes>" pairs; nullopt when malformed.
std::optional<std::vector<SaveRule>> parse_save_rules(std::string_view text);

// The -MISCONF error (server.c shared.bgsaveerr), without the leading '-'.
inline constexpr std::string_view kMisconfError =
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "
    "disk. Commands that may modify the data set are disabled, because this instance is configured "
    "to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error "
    "option). Please check the Redis logs for details about the RDB error.";

class SnapshotPart;

// A rewrite of the append-only file's base (persistence/aof.hpp) on the BGSAVE machinery: the same
// forkless snapshot, written to `path` with the AUX field aof-base 1. `at_moment` runs on the
// coordinating thread while every shard is held (the snapshot's moment); `done` on the saver
// thread once the file is renamed into place (true) or the save failed.
struct BaseRewrite {
  std::string path;
  std::function<void()> at_moment;
  std::function<void(bool)> done;
};

class Persistence {
 public:
  Persistence(ShardSet& shards, ServerState& state);
  ~Persistence();
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  // Before the shard threads start: loads dir/dbfilename when it exists and logs what it loaded.
  // "" on success (or no file), else why not (the server must not start).
  std::string load();
  // Loads one RDB file into the stores (the same, for the AOF's base file); a missing file is no
  // error when `missing_ok`.
  std::string load_rdb(const std::string& path, bool missing_ok);
  // After the AOF was replayed: what was loaded is no change to save.
  void mark_clean() { changes_base_ = total_changes(); }
  // Starts the saver thread (the save rules, BGSAVE's assembly); stop() ends it.
  void start();
  void stop();

  // BGSAVE, from any thread: the hold and the walk start on shard `home`'s thread, later. False
  // (nothing started) when a background save is already in progress.
  bool bgsave(unsigned home);
  // BGSAVE from a coroutine on shard `home`'s thread holding no shard: returns once the snapshot's
  // moment is fixed (every shard begun), so whatever the caller does next is not in the file.
  asio::awaitable<bool> bgsave_begun(unsigned home);
  // BGREWRITEAOF's snapshot, from any thread (the hold and the walk start on `home`'s thread,
  // later). False (nothing started) when a background save or rewrite is in progress.
  bool rewrite_base(unsigned home, BaseRewrite rewrite);
  // BGSAVE SCHEDULE while one is in progress: another starts once it ends.
  void schedule() { scheduled_ = true; }
  // After CONFIG SET of save or stop-writes-on-bgsave-error: re-reads them. The caller holds
  // config_mutex (CONFIG SET's publish step), or nothing else runs yet (the constructor).
  void refresh();
  // SAVE: every store, which the caller holds (all shards held, or the shard threads stopped).
  // Drains a BGSAVE in progress first when `cancel_background` (SHUTDOWN), else refuses to run
  // alongside one (false, *busy set). Logs a failure as Redis does.
  bool save_stores(const std::vector<Store*>& stores, bool cancel_background, bool* busy = nullptr);
  // The save at exit, after the shard threads stopped: saves when save rules are set and no
  // SHUTDOWN decided otherwise. False when the save failed.
  bool save_at_exit();
  // SHUTDOWN decided (saved already, or NOSAVE): the exit path does not save again.
  void skip_exit_save() { skip_exit_save_ = true; }
  bool exit_save_skipped() const { return skip_exit_save_; }

  bool save_in_progress() const { return in_progress_.load(); }
  // stop-writes-on-bgsave-error: save rules are set and the last background save failed.
  bool writes_refused() const;
  std::int64_t last_save_unix() const { return last_save_unix_.load(); }
  bool has_save_rules() const;
  // INFO's # Persistence lines (after the section title).
  std::string info() const;

 private:
  struct Run;  // one save in progress
  std::shared_ptr<Run> prepare(bool background, BaseRewrite* rewrite = nullptr);
  // nullptr when a background save is in progress; else a run (failed already if it could not
  // open its files).
  std::shared_ptr<Run> start_background(BaseRewrite* rewrite = nullptr);
  // BGSAVE's and a base rewrite's start: the walk begins on shard `home` unless starting failed
  // (false) or the file could not be opened (the run is then already finished as failed).
  bool launch_background(unsigned home, std::shared_ptr<Run> run);
  asio::awaitable<void> begin_background(std::shared_ptr<Run> run, unsigned home,
                                         std::uint64_t owner);
  void slice(std::shared_ptr<Run> run, unsigned shard);
  bool assemble(Run& run);  // writes the file from the parts; logs a failure
  void finish_background(Run& run, bool ok);
  void saver_loop();
  void check_rules();
  std::uint64_t total_changes() const;

  ShardSet& shards_;
  ServerState& state_;
  std::atomic<bool> in_progress_{false};
  std::atomic<bool> rewriting_{false};  // the run in progress is a rewrite_base()
  std::atomic<bool> skip_exit_save_{false};
  std::atomic<std::int64_t> last_save_unix_;
  std::atomic<std::int64_t> last_bgsave_try_unix_{0};
  std::atomic<bool> last_bgsave_ok_{true};
  std::atomic<std::int64_t> last_bgsave_seconds_{-1};
  std::atomic<std::int64_t> current_started_ms_{0};
  std::atomic<std::uint64_t> saves_{0};
  std::atomic<std::uint64_t> changes_base_{0};
  std::atomic<std::uint64_t> loaded_keys_{0};
  std::atomic<std::uint64_t> loaded_expired_{0};
  std::atomic<std::uint64_t> next_save_id_{1};
  std::atomic<bool> scheduled_{false};
  std::atomic<bool> rules_set_{false};   // the save rules are not empty
  std::atomic<bool> stop_writes_{true};  // stop-writes-on-bgsave-error
  std::mutex rename_mutex_;              // a cancelled save never renames its file

  std::mutex mutex_;  // guards the fields below
  std::condition_variable wake_;
  std::shared_ptr<Run> ready_;       // parts done, to assemble
  std::shared_ptr<Run> background_;  // the BGSAVE in progress, if any
  bool stopping_ = false;
  std::thread saver_;
};

}  // namespace tessera::server
