// The command table: the one place where commands are declared (name, arity, flags, key positions,
// documentation, handler). Lookup is case-insensitive; arity follows Redis (-N: at least N
// arguments, the name included). The unknown-command, wrong-arity, NOAUTH and OOM replies are
// written once, in Session::execute, from this table; container commands (CLIENT, CONFIG, COMMAND)
// use the same shape for their subcommands.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <tessera/server/session.hpp>

namespace tessera::server {

enum CommandFlag : std::uint32_t {
  kCmdWrite = 1u << 0,  // changes the keyspace
  kCmdReadonly = 1u << 1,
  kCmdDenyOom = 1u << 2,  // refused with -OOM above maxmemory (writes that may grow memory)
  kCmdFast = 1u << 3,
  kCmdNoAuth = 1u << 4,  // allowed before AUTH (AUTH, HELLO, QUIT)
  kCmdAdmin = 1u << 5,
  kCmdAllShards = 1u << 6,  // reads or changes every shard: runs as a barrier (async handler)
};

// One argument in COMMAND DOCS (the shape redis-cli's help parser asserts on).
struct ArgDoc {
  std::string_view name;
  std::string_view type;   // key, string, integer, pattern, pure-token, oneof, block
  std::string_view token;  // for pure-token and options with a keyword
  bool optional = false;
  bool multiple = false;
  std::span<const ArgDoc> children = {};
};

using SyncHandler = void (*)(Session&, Args);
using AsyncHandler = asio::awaitable<void> (*)(Session&, Args);

struct CommandSpec {
  std::string_view name;  // lowercase
  int arity;
  std::uint32_t flags;
  int first_key, last_key, key_step;
  std::string_view acl_categories;  // space-separated, e.g. "@read @string @fast"
  std::string_view group, summary, since;
  std::span<const ArgDoc> args;
  // A container (CLIENT, CONFIG, COMMAND): argv[1] picks one of these, whose own arity applies and
  // whose wrong-arity name is "container|sub".
  std::span<const CommandSpec> subcommands = {};
  SyncHandler sync = nullptr;    // exactly one of sync / async is set
  AsyncHandler async = nullptr;  // set iff kCmdAllShards (a container has neither)
};

// nullptr if unknown.
const CommandSpec* find_command(std::string_view name);
std::span<const CommandSpec> command_table();

}  // namespace tessera::server
