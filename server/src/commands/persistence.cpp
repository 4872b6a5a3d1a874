// The persistence family: SAVE, BGSAVE, LASTSAVE, SHUTDOWN (Redis 7.0.15's replies and errors).
// The snapshot machinery is persistence/persistence.hpp's; here only what each command means.
#include <spdlog/spdlog.h>

#include <tessera/protocol/ascii.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/persistence.hpp>
#include <tessera/server/shard/shard_hold.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

std::vector<unsigned> every_shard(Session& s) {
  std::vector<unsigned> all(s.shards().size());
  for (unsigned i = 0; i < all.size(); ++i) all[i] = i;
  return all;
}

// SAVE: every shard held for the whole save, as Redis's SAVE blocks the server.
asio::awaitable<void> cmd_save(Session& s, Args) {
  Persistence* p = s.state().persistence;
  if (p == nullptr) {
    s.reply().error("ERR");
    co_return;
  }
  if (p->save_in_progress()) {
    s.reply().error("ERR Background save already in progress");
    co_return;
  }
  const std::vector<unsigned> all = every_shard(s);
  auto hold = co_await s.hold(all);
  std::vector<Store*> stores;
  for (unsigned i : all) stores.push_back(&s.store_of(i));
  bool busy = false;
  if (p->save_stores(stores, false, &busy)) {
    spdlog::info("DB saved on disk");
    s.reply().ok();
  } else if (busy) {
    s.reply().error("ERR Background save already in progress");
  } else {
    s.reply().error("ERR");  // rdb.c saveCommand: shared.err
  }
}

// BGSAVE [SCHEDULE]. The reply comes once the snapshot's moment is fixed, so that a command sent
// after it is never in the file; inside EXEC (shards held) the start is queued behind the hold.
asio::awaitable<void> cmd_bgsave(Session& s, Args a) {
  bool schedule = false;
  if (a.size() > 1) {
    if (a.size() == 2 && protocol::iequals(a[1], "schedule")) {
      schedule = true;
    } else {
      s.reply().syntax_error();
      co_return;
    }
  }
  Persistence* p = s.state().persistence;
  if (p == nullptr) {
    s.reply().error("ERR Background saving is not available in this server");
    co_return;
  }
  const bool started = s.holding() ? p->bgsave(s.home()) : co_await p->bgsave_begun(s.home());
  if (started) {
    s.reply().simple("Background saving started");
  } else if (schedule) {
    p->schedule();
    s.reply().simple("Background saving scheduled");
  } else {
    s.reply().error("ERR Background save already in progress");
  }
}

void cmd_bgrewriteaof(Session& s, Args) {
  AppendOnlyFile* aof = s.state().aof;
  if (aof == nullptr) {
    // Redis 7.0 writes a directory even with appendonly no; Tessera keeps one only while it logs.
    s.reply().error(
        "ERR The append-only file is off: CONFIG SET is not there yet, start with "
        "appendonly yes");
    return;
  }
  bool scheduled = false;
  if (const std::string err = aof->rewrite(s.home(), &scheduled); !err.empty()) {
    s.reply().error(err);
  } else if (scheduled) {
    s.reply().simple("Background append only file rewriting scheduled");
  } else {
    s.reply().simple("Background append only file rewriting started");
  }
}

void cmd_lastsave(Session& s, Args) {
  Persistence* p = s.state().persistence;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  s.reply().integer(p != nullptr ? p->last_save_unix() : now);
}

// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (server.c shutdownCommand, 7.0.15). There are no
// replicas to wait for, so a shutdown never stays "in progress": ABORT always finds none, and NOW
// changes nothing. The save (with save rules, or SAVE) runs with every shard held, and the shards
// stay held until the process exits, so no write lands after the file was written; a failed save
// without FORCE answers the error and the server goes on serving.
asio::awaitable<void> cmd_shutdown(Session& s, Args a) {
  bool nosave = false, save = false, force = false, abort = false, now = false;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (protocol::iequals(a[i], "nosave")) {
      nosave = true;
    } else if (protocol::iequals(a[i], "save")) {
      save = true;
    } else if (protocol::iequals(a[i], "now")) {
      now = true;
    } else if (protocol::iequals(a[i], "force")) {
      force = true;
    } else if (protocol::iequals(a[i], "abort")) {
      abort = true;
    } else {
      s.reply().syntax_error();
      co_return;
    }
  }
  if ((abort && (nosave || save || now || force)) || (nosave && save)) {
    s.reply().syntax_error();
    co_return;
  }
  if (abort) {
    s.reply().error("ERR No shutdown in progress.");
    co_return;
  }
  Persistence* p = s.state().persistence;
  const bool do_save = save || (!nosave && p != nullptr && p->has_save_rules());
  const std::vector<unsigned> all = every_shard(s);
  const std::uint64_t owner = s.state().next_client_id.fetch_add(1);
  co_await hold_shards(s.shards(), s.home(), owner, all);
  spdlog::warn("User requested shutdown...");
  if (do_save) {
    spdlog::info("Saving the final RDB snapshot before exiting.");
    bool ok = false;
    if (p != nullptr) {
      std::vector<Store*> stores;
      for (unsigned i : all) stores.push_back(&s.shards().shard(i).store());
      ok = p->save_stores(stores, true);
    }
    if (!ok) {
      if (force) {
        spdlog::warn("Error trying to save the DB. Exit anyway.");
      } else {
        spdlog::warn("Error trying to save the DB, can't exit.");
        spdlog::warn("Errors trying to shut down the server. Check the logs for more information.");
        release_shards(s.shards(), s.home(), all);
        s.reply().error("ERR Errors trying to SHUTDOWN. Check logs.");
        co_return;
      }
    }
  }
  if (p != nullptr) p->skip_exit_save();
  if (!s.state().request_shutdown) {  // in-process: nothing to stop
    release_shards(s.shards(), s.home(), all);
    s.reply().ok();
    co_return;
  }
  // No reply: the connection closes with the server, as Redis's does.
  s.close_after_reply();
  s.state().request_shutdown();
}

constexpr std::string_view kAdminAcl = "@admin @slow @dangerous";

constexpr ArgDoc kBgsaveArgs[] = {
    {.name = "schedule", .type = "pure-token", .token = "SCHEDULE", .optional = true}};
constexpr ArgDoc kShutdownSaveChoices[] = {
    {.name = "nosave", .type = "pure-token", .token = "NOSAVE"},
    {.name = "save", .type = "pure-token", .token = "SAVE"}};
constexpr ArgDoc kShutdownArgs[] = {
    {.name = "nosave_save", .type = "oneof", .optional = true, .children = kShutdownSaveChoices},
    {.name = "now", .type = "pure-token", .token = "NOW", .optional = true},
    {.name = "force", .type = "pure-token", .token = "FORCE", .optional = true},
    {.name = "abort", .type = "pure-token", .token = "ABORT", .optional = true}};

const CommandSpec kCommands[] = {
    {.name = "bgsave",
     .arity = -1,
     .flags = kCmdAdmin | kCmdAllShards,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Asynchronously saves the database(s) to disk.",
     .since = "1.0.0",
     .args = kBgsaveArgs,
     .async = cmd_bgsave},
    {.name = "bgrewriteaof",
     .arity = 1,
     .flags = kCmdAdmin,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Asynchronously rewrites the append-only file to disk.",
     .since = "1.0.0",
     .sync = cmd_bgrewriteaof},
    {.name = "lastsave",
     .arity = 1,
     .flags = kCmdFast,
     .acl_categories = "@admin @fast @dangerous",
     .group = "server",
     .summary = "Returns the Unix timestamp of the last successful save to disk.",
     .since = "1.0.0",
     .sync = cmd_lastsave},
    {.name = "save",
     .arity = 1,
     .flags = kCmdAdmin | kCmdAllShards | kCmdNoMulti,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Synchronously saves the database(s) to disk.",
     .since = "1.0.0",
     .async = cmd_save},
    {.name = "shutdown",
     .arity = -1,
     .flags = kCmdAdmin | kCmdAllShards | kCmdNoMulti,
     .acl_categories = kAdminAcl,
     .group = "server",
     .summary = "Synchronously saves the database(s) to disk and shuts down the Redis server.",
     .since = "1.0.0",
     .args = kShutdownArgs,
     .async = cmd_shutdown},
};

}  // namespace

std::span<const CommandSpec> persistence_commands() { return kCommands; }

}  // namespace tessera::server
