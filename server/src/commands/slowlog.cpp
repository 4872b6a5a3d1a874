// The slow log: SLOWLOG GET / LEN / RESET / HELP (Redis 7.0.15's slowlog.c), fed by dispatch.cpp.
//
// Every command that ran (not one refused by dispatch's checks, not EXEC, whose commands are
// logged one by one) for at least slowlog-log-slower-than microseconds (0: every command; -1:
// none) is kept with an id, the unix time, its duration, its arguments (at most 32: the 32nd
// says how many more; each cut to 128 bytes plus how many more), the client's address and name.
// Passwords are shown as "(redacted)" (AUTH, HELLO's AUTH, CONFIG SET requirepass), as in Redis.
// The newest slowlog-max-len entries are kept, newest first.
//
// The log is one list for the whole server under a mutex: only a command that was slow (or every
// command, when the threshold is 0, as the operator asked) takes it; the check on the hot path is
// one relaxed load of the threshold. The duration is the one INFO commandstats counts (see
// command_stats.hpp for what it covers).
#include <spdlog/fmt/fmt.h>

#include <chrono>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

constexpr std::size_t kMaxArgs = 32;       // SLOWLOG_ENTRY_MAX_ARGC
constexpr std::size_t kMaxArgBytes = 128;  // SLOWLOG_ENTRY_MAX_STRING

struct Entry {
  std::uint64_t id = 0;
  std::int64_t unix_time = 0;
  std::uint64_t duration_us = 0;
  std::vector<std::string> argv;
  std::string addr;
  std::string name;
};

struct Log {
  std::mutex mutex;
  std::deque<Entry> entries;  // newest first
  std::uint64_t next_id = 0;
};

Log& the_log() {
  static Log log;
  return log;
}

}  // namespace

bool argument_redacted(Args argv, std::size_t i) {
  if (i == 0 || argv.empty()) return false;
  using protocol::iequals;
  if (iequals(argv[0], "auth")) return true;
  if (iequals(argv[0], "hello")) {
    // HELLO [protover [AUTH username password] [SETNAME name]]: the two words after AUTH.
    for (std::size_t k = 2; k < i; ++k) {
      if (iequals(argv[k], "auth") && i <= k + 2) return true;
    }
    return false;
  }
  if (iequals(argv[0], "config") && argv.size() > 1 && iequals(argv[1], "set")) {
    // CONFIG SET name value [name value ...]: the value of a password parameter.
    return i >= 3 && i % 2 == 1 &&
           (iequals(argv[i - 1], "requirepass") || iequals(argv[i - 1], "masterauth"));
  }
  return false;
}

void slowlog_record(Session& s, Args argv, std::uint64_t ns) {
  const std::int64_t threshold = s.state().slowlog_slower_than.load(std::memory_order_relaxed);
  const std::uint64_t us = ns / 1000;
  if (threshold < 0 || us < static_cast<std::uint64_t>(threshold)) return;
  const std::uint64_t max_len = s.state().slowlog_max_len.load(std::memory_order_relaxed);
  Entry e;
  e.unix_time = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  e.duration_us = us;
  const std::size_t shown = argv.size() > kMaxArgs ? kMaxArgs - 1 : argv.size();
  e.argv.reserve(argv.size() > kMaxArgs ? kMaxArgs : argv.size());
  for (std::size_t i = 0; i < shown; ++i) {
    if (argument_redacted(argv, i)) {
      e.argv.emplace_back("(redacted)");
    } else if (argv[i].size() > kMaxArgBytes) {
      e.argv.push_back(fmt::format("{}... ({} more bytes)", argv[i].substr(0, kMaxArgBytes),
                                   argv[i].size() - kMaxArgBytes));
    } else {
      e.argv.emplace_back(argv[i]);
    }
  }
  if (argv.size() > kMaxArgs) {
    e.argv.push_back(fmt::format("... ({} more arguments)", argv.size() - shown));
  }
  e.addr = s.peer();
  e.name = s.name();
  Log& log = the_log();
  std::lock_guard lock(log.mutex);
  e.id = log.next_id++;
  log.entries.push_front(std::move(e));
  while (log.entries.size() > max_len) log.entries.pop_back();
}

namespace {

void cmd_slowlog_get(Session& s, Args a) {
  std::int64_t count = 10;
  if (a.size() == 3) {
    std::int64_t n = 0;
    if (!protocol::parse_int64(a[2], n) || n < -1) {
      s.reply().error("ERR count should be greater than or equal to -1");
      return;
    }
    count = n == -1 ? std::numeric_limits<std::int64_t>::max() : n;
  }
  // Copied out under the lock, written after it.
  std::vector<Entry> shown;
  {
    Log& log = the_log();
    std::lock_guard lock(log.mutex);
    const std::size_t n =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(count), log.entries.size());
    shown.assign(log.entries.begin(), log.entries.begin() + static_cast<std::ptrdiff_t>(n));
  }
  auto& w = s.reply();
  w.array(shown.size());
  for (const Entry& e : shown) {
    w.array(6);
    w.integer(static_cast<std::int64_t>(e.id));
    w.integer(e.unix_time);
    w.integer(static_cast<std::int64_t>(e.duration_us));
    w.array(e.argv.size());
    for (const auto& arg : e.argv) w.bulk(arg);
    w.bulk(e.addr);
    w.bulk(e.name);
  }
}

void cmd_slowlog_len(Session& s, Args) {
  Log& log = the_log();
  std::lock_guard lock(log.mutex);
  s.reply().integer(static_cast<std::int64_t>(log.entries.size()));
}

void cmd_slowlog_reset(Session& s, Args) {
  {
    Log& log = the_log();
    std::lock_guard lock(log.mutex);
    log.entries.clear();
  }
  s.reply().ok();
}

void cmd_slowlog_help(Session& s, Args) {
  write_help(s, "SLOWLOG",
             {"GET [<count>]",
              "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
              "    Entries are made of:",
              "    id, timestamp, time in microseconds, arguments array, client IP and port,",
              "    client name", "LEN", "    Return the length of the slowlog.", "RESET",
              "    Reset the slowlog."});
}

constexpr ArgDoc kCountArg[] = {{.name = "count", .type = "integer", .optional = true}};
constexpr std::string_view kSlowlogAcl = "@admin @slow @dangerous";

const CommandSpec kSlowlogSubs[] = {
    {.name = "get",
     .arity = -2,
     .flags = kCmdAdmin,
     .acl_categories = kSlowlogAcl,
     .group = "server",
     .summary = "Get the slow log's entries",
     .since = "2.2.12",
     .args = kCountArg,
     .sync = cmd_slowlog_get},
    {.name = "help",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = "@slow",
     .group = "server",
     .summary = "Show helpful text about the different subcommands",
     .since = "6.2.0",
     .sync = cmd_slowlog_help},
    {.name = "len",
     .arity = 2,
     .flags = kCmdAdmin,
     .acl_categories = kSlowlogAcl,
     .group = "server",
     .summary = "Get the slow log's length",
     .since = "2.2.12",
     .sync = cmd_slowlog_len},
    {.name = "reset",
     .arity = 2,
     .flags = kCmdAdmin,
     .acl_categories = kSlowlogAcl,
     .group = "server",
     .summary = "Clear all entries from the slow log",
     .since = "2.2.12",
     .sync = cmd_slowlog_reset},
};

const CommandSpec kCommands[] = {
    {.name = "slowlog",
     .arity = -2,
     .acl_categories = "@slow",
     .group = "server",
     .summary = "A container for slow log commands",
     .since = "2.2.12",
     .args = kSubcommandArg,
     .subcommands = kSlowlogSubs},
};

}  // namespace

std::span<const CommandSpec> slowlog_commands() { return kCommands; }

}  // namespace tessera::server
