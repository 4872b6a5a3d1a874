// The append-only file (AOF): every change logged as the command that redoes it, replayed at
// start-up, in Redis 7.0's multi-part layout.
//
// Design note.
//
// LAYOUT (Redis 7.0's, so that either server loads the other's directory): dir/appenddirname/ holds
// the manifest appendfilename.manifest, whose lines read `file <name> seq <n> type b|i|h`: one base
// file (appendfilename.<n>.base.rdb, an RDB snapshot with the AUX field aof-base, or .base.aof,
// commands) and incr files (appendfilename.<n>.incr.aof, commands, the last one being appended
// to). A fresh directory gets a base holding what the server started with (the dump.rdb it loaded,
// if any: Redis 7.0 would start empty there) and an empty incr file. A manifest is replaced by a
// temporary file, fsynced and renamed, then the directory fsynced.
//
// WHAT IS WRITTEN. The stores emit each change as a one-key command in Redis 7.0's propagated form
// (store/store.hpp: SET ... PXAT, SET ... KEEPTTL, PEXPIREAT, PERSIST, INCRBY, APPEND, SETRANGE,
// DEL for deletes, expiries and evictions, FLUSHALL), and only changes that happened (a SET NX that
// was blocked writes nothing). Each command depends only on the previous state of its own key.
//
// ORDER ACROSS SHARDS. Every shard appends its commands to this one log at the moment it makes the
// change, under a mutex (append() copies bytes into the pending buffer and nothing else). Within a
// shard that is the shard's own order, so every key's commands are in the file in the order they
// happened; across shards the file's order is the order of the appends, which respects causality
// (anything another client did because it saw a change happened after that change's append).
// Replaying one key's commands in order rebuilds that key, so the file rebuilds every key.
// ATOMIC OPERATIONS (MSET, RENAME/COPY across shards, MULTI/EXEC, FLUSHALL; shard/shard_hold.hpp):
// while a session holds shards, their stores keep the commands (Store::begin_capture), and the
// session appends them as ONE unit before it releases the shards (append_unit): wrapped in
// MULTI/EXEC when there are several, as Redis wraps a transaction. Nothing else touches those
// stores meanwhile, so no command of theirs can come between; commands of other shards appended
// meanwhile concern other keys. A unit cut short by a crash ends without EXEC and is dropped
// whole at load, as Redis drops it. A FLUSHALL in a unit comes first and the stores' commands
// before it are dropped (they were flushed away); FLUSHALL always holds every shard while the AOF
// is on, so it is always such a unit.
//
// WRITING AND FSYNC. One writer thread takes the whole pending buffer, write()s it, and fsyncs per
// appendfsync: `always` after every write, and a reply leaves only once everything appended before
// it was computed is fsynced (Session::write_out waits for durable(); many replies share one fsync:
// group commit, one fsync per writer round, not per command); `everysec` at most once a second;
// `no` never (the kernel decides). The writer wakes when the buffer turns non-empty, so a SIGKILL
// (the kernel keeps what was written) loses only what was appended but not yet written: for
// everysec and no, the writes of about one writer round.
//
// REWRITE (BGREWRITEAOF, and automatically past auto-aof-rewrite-percentage over the base size
// once the files are over auto-aof-rewrite-min-size): BGSAVE's forkless snapshot
// (persistence.hpp), written as the new base. At the snapshot's moment every shard is held, so no
// store appends: the commands pending until then are handed to the writer for the old incr file,
// a new incr file is opened for everything after, and the manifest is switched to list old base,
// old incr files and the new one (so a crash during the rewrite loses nothing). Once the new base
// is renamed into place the manifest becomes new base + new incr file, and the old files are
// deleted. Base and new incr file together hold every change exactly once: the base the state at
// the moment, the incr file every command after it.
//
// REPLAY. The base is loaded into the stores before the shard threads run (an RDB, as dump.rdb
// is); the incr files are run through the real command table (InProcessSession, authenticated,
// without maxmemory) with the shard threads running and nothing listening yet. A last command cut
// short (the file ends inside it, or inside a MULTI without EXEC) is dropped with Redis's warning
// and the file truncated to the last whole command when aof-load-truncated is yes; anything else
// that is not a command refuses the start, naming the file and the offset.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/shard/shard_set.hpp>
#include <tessera/server/store/store.hpp>

namespace tessera::server {

class Persistence;

// One line of the manifest.
struct AofFileInfo {
  std::string name;
  std::uint64_t seq = 0;
  char type = 'i';  // 'b' base, 'i' incr, 'h' history
};
struct AofManifest {
  std::vector<AofFileInfo> files;
  const AofFileInfo* base() const;
  std::vector<const AofFileInfo*> incrs() const;  // in seq order
};
// Parses a manifest's text; "" on success, else why not.
std::string parse_aof_manifest(std::string_view text, AofManifest& out);
std::string format_aof_manifest(const AofManifest& manifest);

// How a stream of commands ends (the AOF reader's verdict on a buffer).
struct AofScan {
  std::size_t whole = 0;         // bytes of whole commands from the start
  std::size_t before_multi = 0;  // the same, not counting an unfinished MULTI at the end
  bool in_multi = false;         // the whole commands end inside a MULTI (no EXEC yet)
  bool bad = false;              // not a command at offset `whole` (else: cut short or done)
  std::uint64_t commands = 0;
};
// Scans `data` for whole RESP multibulk commands (Redis's AOF grammar).
AofScan scan_aof_commands(std::string_view data);

class AppendOnlyFile final : public ChangeLog {
 public:
  AppendOnlyFile(ShardSet& shards, ServerState& state, Persistence& persistence);
  ~AppendOnlyFile() override;
  AppendOnlyFile(const AppendOnlyFile&) = delete;
  AppendOnlyFile& operator=(const AppendOnlyFile&) = delete;

  // At start-up, instead of Persistence::load(): loads the AOF directory (or dump.rdb and makes a
  // fresh directory from it), replays it (starting the shard threads), opens the last incr file,
  // and attaches the stores. "" on success, else why the server must not start.
  std::string load_and_open();
  // Ends the writer: writes and fsyncs what is pending (the shard threads have stopped).
  void stop();
  // After CONFIG SET appendfsync (under config_mutex, or before anything runs).
  void refresh();

  void append(std::string_view commands) override;
  void append_unit(std::vector<CapturedChanges>& parts) override;

  // appendfsync always: replies must wait for durable().
  bool fsync_always() const { return policy_.load(std::memory_order_relaxed) == kAlways; }
  // Returns once everything appended so far is fsynced (at once when it is).
  asio::awaitable<void> durable();
  // server.c writeCommandsDeniedByDiskError's AOF half: the last write or fsync failed; the
  // -MISCONF text (without '-') when so.
  bool write_failed() const { return !last_write_ok_.load(std::memory_order_relaxed); }
  std::string misconf_text() const;
  // BGREWRITEAOF from shard `home`'s thread: "" when started, else the error reply (without
  // '-'); *scheduled when it will start once a BGSAVE in progress ends.
  std::string rewrite(unsigned home, bool* scheduled);
  // INFO # Persistence's aof_* lines: the status ones (aof_enabled...aof_last_cow_size), and the
  // sizes (after module_fork_*, as Redis orders them).
  std::string info_status() const;
  std::string info() const;

 private:
  enum Policy { kAlways, kEverysec, kNo };
  struct Waiter {
    std::uint64_t offset;
    DeferredWork resume;
  };
  std::string create_fresh();  // a new directory from what the stores hold
  std::string replay_file(const std::string& path, bool last, std::uint64_t* commands);
  std::string open_incr(const std::string& name);
  void attach(ChangeLog* log);
  void writer_loop();
  bool write_out(const std::string& bytes);  // to the incr file; on error, logs and keeps state
  void complete_waiters(std::uint64_t synced);
  void switch_incr();            // at the rewrite's moment (every shard held)
  void rewrite_done(bool ok);    // on the saver thread
  std::string write_manifest();  // manifest_ to disk; "" or why not
  void maybe_start_rewrite();    // writer thread: scheduled or automatic rewrites

  ShardSet& shards_;
  ServerState& state_;
  Persistence& persistence_;
  std::string dir_;  // appenddirname
  AofManifest manifest_;
  int fd_ = -1;  // the incr file being appended to
  std::atomic<int> policy_{kEverysec};
  std::atomic<bool> last_write_ok_{true};
  std::atomic<int> last_write_errno_{0};
  std::atomic<std::uint64_t> base_size_{0};
  std::atomic<std::uint64_t> current_size_{0};  // base + incr files, as written
  std::atomic<std::uint64_t> synced_{0};        // appended bytes known to be on disk
  std::atomic<std::uint64_t> pending_fsync_{0};
  std::atomic<std::uint64_t> delayed_fsync_{0};
  std::string prefix_;  // appendfilename
  // Rewrites.
  std::atomic<bool> rewriting_{false};
  std::atomic<bool> rewrite_scheduled_{false};
  std::atomic<bool> last_rewrite_ok_{true};
  std::atomic<std::uint64_t> rewrites_{0};
  std::atomic<std::uint64_t> rewrite_failures_{0};  // consecutive
  std::atomic<std::int64_t> rewrite_started_ms_{0};
  std::atomic<std::int64_t> last_rewrite_seconds_{-1};
  std::mutex files_mutex_;             // manifest_ and the new files of a rewrite
  std::vector<AofFileInfo> replaced_;  // what the rewrite in progress will delete
  std::string new_base_;
  std::uint64_t new_seq_ = 0;
  bool switch_failed_ = false;
  std::atomic<std::int64_t> last_rewrite_failed_ms_{0};
  std::atomic<std::int64_t> auto_percentage_{100};
  std::atomic<std::uint64_t> auto_min_size_{64ull << 20};

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable wake_;
  std::string pending_;         // appended, not written yet
  int next_fd_ = -1;            // a rewrite's new incr file: written to after `old_tail_`
  std::string old_tail_;        // the last bytes for the old incr file
  std::uint64_t appended_ = 0;  // bytes ever appended (the offsets waiters wait for)
  std::vector<Waiter> waiters_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace tessera::server
