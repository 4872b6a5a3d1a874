// The command table: the one place where commands are declared (name, arity, flags, key positions,
// documentation, handler). Each command family (server/src/commands/<family>.cpp) owns its
// handlers and its rows; command_table.cpp assembles them and checks the whole at start-up (unique
// names, sane arity, key positions that fit the arity, one handler each). Lookup is
// case-insensitive; arity follows Redis (-N: at least N arguments, the name included). The
// unknown-command, wrong-arity, NOAUTH and OOM replies are written once, in dispatch
// (commands/dispatch.hpp), from this table; container commands (CLIENT, CONFIG, COMMAND) use the
// same shape for their subcommands.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <tessera/server/session/session.hpp>

namespace tessera::server {

enum CommandFlag : std::uint32_t {
  kCmdWrite = 1u << 0,  // changes the keyspace
  kCmdReadonly = 1u << 1,
  kCmdDenyOom = 1u << 2,  // refused with -OOM above maxmemory (writes that may grow memory)
  kCmdFast = 1u << 3,
  kCmdNoAuth = 1u << 4,  // allowed before AUTH (AUTH, HELLO, QUIT)
  kCmdAdmin = 1u << 5,
  // Runs as a barrier (async handler), after every earlier operation of the batch: it reads or
  // changes every shard, or holds its keys' shards for an atomic step (MSET, RENAME...).
  kCmdAllShards = 1u << 6,
  // Runs at once even between MULTI and EXEC (MULTI, EXEC, DISCARD, WATCH, QUIT): never queued.
  kCmdNoQueue = 1u << 7,
  // Never in the slow log (EXEC: its commands are logged one by one).
  kCmdSkipSlowlog = 1u << 8,
  // Refused between MULTI and EXEC ("Command not allowed inside a transaction"): SAVE, SHUTDOWN.
  kCmdNoMulti = 1u << 9,
};

// One argument in COMMAND DOCS (the shape redis-cli's help parser asserts on).
struct ArgDoc {
  std::string_view name = {};
  std::string_view type = {};   // key, string, integer, pattern, pure-token, oneof, block
  std::string_view token = {};  // for pure-token and options with a keyword
  bool optional = false;
  bool multiple = false;
  std::span<const ArgDoc> children = {};
};

// Where a command's keys are, as Redis's COMMAND INFO reports them: argument positions (the name is
// 0) of the first and last key (-1: up to the last argument) and the step between keys.
struct KeyPositions {
  int first = 0;  // 0: the command has no keys
  int last = 0;
  int step = 0;
};
inline constexpr KeyPositions kNoKeys = {};
inline constexpr KeyPositions kOneKey = {.first = 1, .last = 1, .step = 1};          // GET k
inline constexpr KeyPositions kEveryArgKey = {.first = 1, .last = -1, .step = 1};    // DEL k...
inline constexpr KeyPositions kKeyValuePairs = {.first = 1, .last = -1, .step = 2};  // MSET k v...

using SyncHandler = void (*)(Session&, Args);
using AsyncHandler = Barrier;

// Written with designated initializers; a field left out keeps the default below.
struct CommandSpec {
  std::string_view name = {};  // lowercase
  int arity = 0;
  std::uint32_t flags = 0;
  KeyPositions keys = kNoKeys;
  std::string_view acl_categories = {};  // space-separated, e.g. "@read @string @fast"
  std::string_view group = {};
  std::string_view summary = {};
  std::string_view since = {};
  std::span<const ArgDoc> args = {};
  // A container (CLIENT, CONFIG, COMMAND): argv[1] picks one of these, whose own arity applies and
  // whose wrong-arity name is "container|sub".
  std::span<const CommandSpec> subcommands = {};
  SyncHandler sync = nullptr;    // exactly one of sync / async is set
  AsyncHandler async = nullptr;  // set iff kCmdAllShards (a container may have neither)
};

// nullptr if unknown; any name length is fine.
const CommandSpec* find_command(std::string_view name);
// Every command, sorted by name; checked when first used (std::logic_error names a bad row).
std::span<const CommandSpec> command_table();

}  // namespace tessera::server
