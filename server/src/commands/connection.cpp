// The connection family: PING, ECHO, QUIT, SELECT, AUTH, HELLO and CLIENT's subcommands. They read
// and change the session's own state (authentication, name, id) and never touch a store.
#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/numbers.hpp>
#include <tessera/server/config/sha256.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

using protocol::iequals;

void cmd_ping(Session& s, Args a) {
  if (a.size() > 2) {
    s.reply().wrong_arity("ping");
  } else if (a.size() == 2) {
    s.reply().bulk(a[1]);
  } else {
    s.reply().simple("PONG");
  }
}

void cmd_echo(Session& s, Args a) { s.reply().bulk(a[1]); }

void cmd_quit(Session& s, Args) {
  s.reply().ok();
  s.close_after_reply();
}

void cmd_select(Session& s, Args a) {
  std::int64_t db = 0;
  if (!protocol::parse_int64(a[1], db) || db < INT32_MIN || db > INT32_MAX) {
    s.reply().not_integer();
  } else if (db != 0) {
    s.reply().out_of_range("DB index");
  } else {
    s.reply().ok();
  }
}

bool check_password(Session& s, std::string_view user, std::string_view pass) {
  const std::string& required = s.state().config.requirepass;
  if (user != "default") return false;
  return required.empty() || digests_equal(sha256(pass), s.state().requirepass_digest);
}

void cmd_auth(Session& s, Args a) {
  if (a.size() > 3) {
    s.reply().syntax_error();
    return;
  }
  if (a.size() == 2 && s.state().config.requirepass.empty()) {
    s.reply().error(errors::kAuthWithoutPassword);
    return;
  }
  const std::string_view user = a.size() == 3 ? a[1] : std::string_view("default");
  if (check_password(s, user, a.back())) {
    s.set_authenticated(true);
    s.reply().ok();
  } else {
    s.reply().error(errors::kWrongPass);
  }
}

bool valid_client_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return c >= '!' && c <= '~'; });
}

void cmd_hello(Session& s, Args a) {
  // networking.c helloCommand: HELLO 2 / HELLO 3 choose the protocol (after every option has been
  // checked and AUTH has passed); without a version the connection keeps the one it speaks. The
  // reply is written in the chosen protocol: a map under RESP3, a flat array under RESP2.
  auto version = s.reply().version();
  if (a.size() >= 2) {
    std::int64_t ver = 0;
    if (!protocol::parse_int64(a[1], ver)) {
      s.reply().error(errors::kProtocolVersionNotInteger);
      return;
    }
    if (ver < 2 || ver > 3) {
      s.reply().error(errors::kNoProto);
      return;
    }
    version = ver == 3 ? protocol::RespVersion::kResp3 : protocol::RespVersion::kResp2;
  }
  // Every option is checked before anything takes effect, so a HELLO that fails changes nothing
  // (Redis 7.2's order; 7.0.15 authenticated while it parsed, so "HELLO 2 AUTH default <pw>
  // SETNAME <bad name>" failed yet left the connection authenticated). The error texts are
  // 7.0.15's; with several faults the first in this order is reported: syntax, name, password.
  std::string_view user, pass, name;
  bool auth = false, setname = false;
  for (std::size_t i = 2; i < a.size(); ++i) {
    const std::size_t more = a.size() - i - 1;
    if (iequals(a[i], "auth") && more >= 2) {
      auth = true;
      user = a[i + 1];
      pass = a[i + 2];
      i += 2;
    } else if (iequals(a[i], "setname") && more >= 1) {
      setname = true;
      name = a[i + 1];
      i += 1;
    } else {
      s.reply().error(fmt::format("ERR Syntax error in HELLO option '{}'", a[i]));
      return;
    }
  }
  if (setname && !valid_client_name(name)) {
    s.reply().error(errors::kBadClientName);
    return;
  }
  if (auth && !check_password(s, user, pass)) {
    s.reply().error(errors::kWrongPass);
    return;
  }
  if (!auth && !s.authenticated()) {
    s.reply().error(errors::kHelloNoAuth);
    return;
  }
  if (auth) s.set_authenticated(true);
  if (setname) s.set_name(name);
  // HELLO's "server" field stays "redis": some clients compare it, and Tessera answers as a
  // Redis-compatible server (Dragonfly does the same).
  s.set_protocol(version);
  auto& w = s.reply();
  w.map(7);
  w.bulk("server");
  w.bulk("redis");
  w.bulk("version");
  w.bulk(kRedisVersion);
  w.bulk("proto");
  w.integer(static_cast<std::int64_t>(version));
  w.bulk("id");
  w.integer(static_cast<std::int64_t>(s.id()));
  w.bulk("mode");
  w.bulk("standalone");
  w.bulk("role");
  w.bulk("master");
  w.bulk("modules");
  w.array(0);
}

void cmd_client_setname(Session& s, Args a) {
  if (!valid_client_name(a[2])) {
    s.reply().error(errors::kBadClientName);
    return;
  }
  s.set_name(a[2]);
  s.reply().ok();
}
void cmd_client_getname(Session& s, Args) {
  if (s.name().empty()) {
    s.reply().null_bulk();
  } else {
    s.reply().bulk(s.name());
  }
}
void cmd_client_id(Session& s, Args) { s.reply().integer(static_cast<std::int64_t>(s.id())); }
void cmd_client_help(Session& s, Args) {
  write_help(s, "CLIENT",
             {"GETNAME",
              "    Return the name of the current connection.",
              "ID",
              "    Return the ID of the current connection.",
              "INFO",
              "    Return information about the current client connection.",
              "KILL <ip:port>",
              "    Kill connection made from <ip:port>.",
              "KILL <option> <value> [<option> <value> [...]]",
              "    Kill connections. Options are:",
              "    * ADDR (<ip:port>|<unixsocket>:0)",
              "      Kill connections made from the specified address",
              "    * LADDR (<ip:port>|<unixsocket>:0)",
              "      Kill connections made to specified local address",
              "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
              "      Kill connections by type.",
              "    * USER <username>",
              "      Kill connections authenticated by <username>.",
              "    * SKIPME (YES|NO)",
              "      Skip killing current connection (default: yes).",
              "LIST [options ...]",
              "    Return information about client connections. Options:",
              "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
              "      Return clients of specified type.",
              "SETNAME <name>",
              "    Assign the name <name> to the current connection.",
              "NO-EVICT (ON|OFF)",
              "    Protect current client connection from eviction."});
}

constexpr ArgDoc kMessageOpt[] = {{.name = "message", .type = "string", .optional = true}};
constexpr ArgDoc kMessage[] = {{.name = "message", .type = "string"}};
constexpr ArgDoc kIndex[] = {{.name = "index", .type = "integer"}};
constexpr ArgDoc kAuthArgs[] = {{.name = "username", .type = "string", .optional = true},
                                {.name = "password", .type = "string"}};
constexpr ArgDoc kHelloAuth[] = {{.name = "username", .type = "string"},
                                 {.name = "password", .type = "string"}};
constexpr ArgDoc kHelloArgs[] = {
    {.name = "protover", .type = "integer", .optional = true},
    {.name = "username-password",
     .type = "block",
     .token = "AUTH",
     .optional = true,
     .children = kHelloAuth},
    {.name = "clientname", .type = "string", .token = "SETNAME", .optional = true}};

constexpr std::string_view kClientAcl = "@slow @connection";
constexpr std::string_view kClientAdminAcl = "@admin @slow @dangerous @connection";
constexpr ArgDoc kClientListType[] = {{.name = "normal", .type = "pure-token", .token = "normal"},
                                      {.name = "master", .type = "pure-token", .token = "master"},
                                      {.name = "replica", .type = "pure-token", .token = "replica"},
                                      {.name = "pubsub", .type = "pure-token", .token = "pubsub"}};
constexpr ArgDoc kClientListOpts[] = {
    {.name = "client-type",
     .type = "oneof",
     .token = "TYPE",
     .optional = true,
     .children = kClientListType},
    {.name = "client-id", .type = "integer", .token = "ID", .optional = true, .multiple = true}};
constexpr ArgDoc kClientSkipme[] = {{.name = "yes", .type = "pure-token", .token = "YES"},
                                    {.name = "no", .type = "pure-token", .token = "NO"}};
constexpr ArgDoc kClientKillFilters[] = {
    {.name = "client-id", .type = "integer", .token = "ID", .optional = true},
    {.name = "client-type",
     .type = "oneof",
     .token = "TYPE",
     .optional = true,
     .children = kClientListType},
    {.name = "username", .type = "string", .token = "USER", .optional = true},
    {.name = "ip:port", .type = "string", .token = "ADDR", .optional = true},
    {.name = "ip:port", .type = "string", .token = "LADDR", .optional = true},
    {.name = "skipme",
     .type = "oneof",
     .token = "SKIPME",
     .optional = true,
     .children = kClientSkipme}};
constexpr ArgDoc kClientKillForms[] = {
    {.name = "ip:port", .type = "string"},
    {.name = "new-format", .type = "block", .multiple = true, .children = kClientKillFilters}};
constexpr ArgDoc kClientKillArgs[] = {
    {.name = "filter", .type = "oneof", .children = kClientKillForms}};
constexpr ArgDoc kOnOff[] = {{.name = "on", .type = "pure-token", .token = "ON"},
                             {.name = "off", .type = "pure-token", .token = "OFF"}};
constexpr ArgDoc kNoEvictArgs[] = {{.name = "enabled", .type = "oneof", .children = kOnOff}};

const CommandSpec kClientSubs[] = {
    {.name = "getname",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = kClientAcl,
     .group = "connection",
     .summary = "Returns the name of the connection.",
     .since = "2.6.9",
     .sync = cmd_client_getname},
    {.name = "help",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = kClientAcl,
     .group = "connection",
     .summary = "Shows helpful text.",
     .since = "5.0.0",
     .sync = cmd_client_help},
    {.name = "id",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = kClientAcl,
     .group = "connection",
     .summary = "Returns the unique client ID of the connection.",
     .since = "5.0.0",
     .sync = cmd_client_id},
    {.name = "info",
     .arity = 2,
     .acl_categories = kClientAcl,
     .group = "connection",
     .summary = "Returns information about the current client connection.",
     .since = "6.2.0",
     .sync = cmd_client_info},
    {.name = "kill",
     .arity = -3,
     .flags = kCmdAdmin | kCmdAllShards,
     .acl_categories = kClientAdminAcl,
     .group = "connection",
     .summary = "Kill the connection of a client",
     .since = "2.4.0",
     .args = kClientKillArgs,
     .async = cmd_client_kill},
    {.name = "list",
     .arity = -2,
     .flags = kCmdAdmin | kCmdAllShards,
     .acl_categories = kClientAdminAcl,
     .group = "connection",
     .summary = "Get the list of client connections",
     .since = "2.4.0",
     .args = kClientListOpts,
     .async = cmd_client_list},
    {.name = "no-evict",
     .arity = 3,
     .flags = kCmdAdmin,
     .acl_categories = kClientAdminAcl,
     .group = "connection",
     .summary = "Set client eviction mode for the current connection",
     .since = "7.0.0",
     .args = kNoEvictArgs,
     .sync = cmd_client_no_evict},
    {.name = "setname",
     .arity = 3,
     .flags = kCmdFast,
     .acl_categories = kClientAcl,
     .group = "connection",
     .summary = "Sets the connection name.",
     .since = "2.6.9",
     .sync = cmd_client_setname},
};

const CommandSpec kCommands[] = {
    {.name = "auth",
     .arity = -2,
     .flags = kCmdNoAuth | kCmdFast,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Authenticates the connection.",
     .since = "1.0.0",
     .args = kAuthArgs,
     .sync = cmd_auth},
    {.name = "client",
     .arity = -2,
     .acl_categories = "@slow",
     .group = "connection",
     .summary = "A container for client connection commands.",
     .since = "2.4.0",
     .args = kSubcommandArg,
     .subcommands = kClientSubs},
    {.name = "echo",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Returns the given string.",
     .since = "1.0.0",
     .args = kMessage,
     .sync = cmd_echo},
    {.name = "hello",
     .arity = -1,
     .flags = kCmdNoAuth | kCmdFast,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Handshakes with the server.",
     .since = "6.0.0",
     .args = kHelloArgs,
     .sync = cmd_hello},
    {.name = "ping",
     .arity = -1,
     .flags = kCmdFast,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Returns the server's liveliness response.",
     .since = "1.0.0",
     .args = kMessageOpt,
     .sync = cmd_ping},
    {.name = "quit",
     .arity = -1,
     .flags = kCmdNoAuth | kCmdFast | kCmdNoQueue,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Closes the connection.",
     .since = "1.0.0",
     .sync = cmd_quit},
    {.name = "select",
     .arity = 2,
     .flags = kCmdFast,
     .acl_categories = "@fast @connection",
     .group = "connection",
     .summary = "Changes the selected database (only database 0 exists).",
     .since = "1.0.0",
     .args = kIndex,
     .sync = cmd_select},
};

}  // namespace

std::span<const CommandSpec> connection_commands() { return kCommands; }

}  // namespace tessera::server
