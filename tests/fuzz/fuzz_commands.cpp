// libFuzzer target for the command layer: arbitrary command arrays through the real command table,
// the real Session (batching, cross-shard hops, chunked flushes) and a real, running ShardSet, in
// process (InProcessSession, no sockets).
//
// Input format (every byte string decodes to something):
//   byte 0: bit 0 picks the server (A: 2 shards, no limits; B: 3 shards, requirepass "pw",
//           maxmemory 1 so every growing write is refused), bits 1-2 the home shard.
//   then commands: one byte for the argument count (1 + b % 8) and whether the pipeline is sent
//   now (bit 7); then per argument one byte t:
//     first argument, t < 0xc0: a command name from the dictionary (case from t's bit 5);
//     other arguments, t < 0x60: a token from the option/value list;
//     otherwise: t % 64 raw bytes from the input (a key, a value, a number, junk).
// Properties checked (a violation traps, on top of ASan/UBSan): every reply byte string parses as
// RESP2 with ReplyReader, completely, with exactly one reply per command sent unless the session
// closed (QUIT, protocol error), and then no more than one per command. On server A, after each
// input, DBSIZE equals the number of distinct keys a full SCAN returns. Memory stays bounded:
// arguments are at most 63 bytes (repeat counts come from COUNT/MSET shapes, not sizes), and each
// input ends with FLUSHALL and a reset of what CONFIG SET may have changed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/reply_reader.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/in_process_session.hpp>
#include <vector>

namespace {

using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;
using namespace tessera::server;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kCommands[] = {
    "GET",      "SET",    "PUT",        "DEL",         "SCAN",    "MGET",        "MSET",
    "EXISTS",   "KEYS",   "DBSIZE",     "TYPE",        "STRLEN",  "FLUSHALL",    "FLUSHDB",
    "PING",     "ECHO",   "SELECT",     "HELLO",       "CONFIG",  "INFO",        "CLIENT",
    "COMMAND",  "AUTH",   "QUIT",       "EXPIRE",      "PEXPIRE", "EXPIREAT",    "PEXPIREAT",
    "TTL",      "PTTL",   "EXPIRETIME", "PEXPIRETIME", "PERSIST", "SETEX",       "PSETEX",
    "GETEX",    "INCR",   "DECR",       "INCRBY",      "DECRBY",  "INCRBYFLOAT", "APPEND",
    "GETRANGE", "SUBSTR", "SETRANGE",   "GETDEL",      "GETSET",  "SETNX",       "MSETNX",
    "TOUCH",    "UNLINK", "OBJECT",     "RANDOMKEY",   "COPY",    "RENAME",      "RENAMENX",
    "MULTI",    "EXEC",   "DISCARD",    "WATCH",       "UNWATCH",
};
constexpr std::string_view kTokens[] = {
    "NX",
    "XX",
    "GET",
    "MATCH",
    "COUNT",
    "TYPE",
    "string",
    "none",
    "0",
    "1",
    "-1",
    "10",
    "1000",
    "99999999999999999999",
    "*",
    "k*",
    "k1",
    "k2",
    "k3",
    "v",
    "",
    "GETNAME",
    "SETNAME",
    "ID",
    "HELP",
    "DOCS",
    "LIST",
    "INFO",
    "SET",
    "GET",
    "maxmemory",
    "timeout",
    "pw",
    "default",
    "2",
    "3",
    "ASYNC",
    "SYNC",
    "[a-",
    "\\",
    "EX",
    "PX",
    "KEEPTTL",
    "clients",
    "memory",
    "everything",
    "SETINFO",
    "lib-name",
    "EXAT",
    "PXAT",
    "PERSIST",
    "GT",
    "LT",
    "9223372036854775807",
    "-9223372036854775808",
    "maxmemory-policy",
    "allkeys-lru",
    "allkeys-lfu",
    "volatile-ttl",
    "maxmemory-samples",
    "ENCODING",
    "REPLACE",
    "DB",
    "1.5",
    "-5",
    "536870911",
    "inf",
};

struct Server {
  Server(unsigned shards, std::string password, std::uint64_t maxmemory)
      : state(make(shards, std::move(password), maxmemory)), set(shards, &state.store) {
    set.start();
  }
  static Config make(unsigned shards, std::string password, std::uint64_t maxmemory) {
    Config c;
    c.shards = shards;
    c.requirepass = std::move(password);
    c.maxmemory = maxmemory;
    c.reply_chunk_bytes = 4096;  // small, so inputs reach the chunked and partial flush paths
    return c;
  }
  ServerState state;
  ShardSet set;
};

Server& server(bool b) {
  // Started once and kept for the whole run (the shard threads are not stopped at exit).
  static Server* a = new Server(2, "", 0);
  static Server* with_limits = new Server(3, "pw", 1);
  return b ? *with_limits : *a;
}

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t byte() { return p_ == end_ ? 0 : *p_++; }
  std::string_view bytes(std::size_t n) {
    n = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Parses every reply in `bytes`; returns how many, trapping on a malformed or incomplete stream.
std::size_t count_replies(std::string_view bytes, std::vector<Reply>* keep = nullptr) {
  ReplyReader reader;
  reader.feed(bytes);
  std::size_t n = 0;
  Reply r;
  for (;;) {
    const auto st = reader.next(r);
    require(st != ReplyReader::Status::kError);
    if (st == ReplyReader::Status::kNeedMore) break;
    ++n;
    if (keep) keep->push_back(std::move(r));
    r = Reply{};
  }
  require(reader.buffered() == 0);
  return n;
}

Reply one(InProcessSession& c, std::initializer_list<std::string_view> argv) {
  std::vector<Reply> r;
  require(count_replies(c.call(argv), &r) == 1);
  return r[0];
}

// DBSIZE must equal the number of distinct keys of a full SCAN (nothing else runs meanwhile).
void check_keyspace(Server& s) {
  InProcessSession admin(s.set, s.state, 0);
  const Reply size = one(admin, {"DBSIZE"});
  require(size.type == Reply::Type::kInteger);
  std::set<std::string> keys;
  std::string cursor = "0";
  int pages = 0;
  do {
    const Reply page = one(admin, {"SCAN", cursor, "COUNT", "100"});
    require(page.type == Reply::Type::kArray && page.elements.size() == 2);
    cursor = page.elements[0].str;
    for (const Reply& k : page.elements[1].elements) keys.insert(k.str);
    require(++pages < 100000);
  } while (cursor != "0");
  require(static_cast<std::int64_t>(keys.size()) == size.integer);
}

void reset(Server& s, bool with_limits) {
  InProcessSession admin(s.set, s.state, 0);
  if (with_limits) one(admin, {"AUTH", "pw"});
  require(one(admin, {"FLUSHALL"}).str == "OK");
  one(admin, {"CONFIG", "SET", "maxmemory", with_limits ? "1" : "0"});
  one(admin, {"CONFIG", "SET", "timeout", "0"});
  one(admin, {"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  one(admin, {"CONFIG", "SET", "maxmemory-samples", "5"});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const std::uint8_t config = in.byte();
  const bool with_limits = (config & 1) != 0;
  Server& s = server(with_limits);
  InProcessSession client(s.set, s.state, (config >> 1) % s.set.size());

  std::string pipeline;
  std::size_t pending = 0;  // commands in `pipeline`
  std::size_t sent = 0, replies = 0;
  std::vector<std::string_view> argv;
  auto send = [&] {
    if (pending == 0) return;
    const std::string out = client.send(pipeline);
    const std::size_t n = count_replies(out);
    sent += pending;
    replies += n;
    // One reply per command, unless the session closed (then at most one per command).
    require(client.closed() ? replies <= sent : replies == sent);
    pipeline.clear();
    pending = 0;
  };
  while (!in.empty() && !client.closed()) {
    const std::uint8_t head = in.byte();
    const std::size_t argc = 1 + head % 8;
    argv.clear();
    for (std::size_t i = 0; i < argc; ++i) {
      const std::uint8_t t = in.byte();
      if (i == 0 && t < 0xc0) {
        argv.push_back(kCommands[t % std::size(kCommands)]);
        if (t & 0x20) {
          // Lowercase variant: names are matched case-insensitively.
          static thread_local std::string lower[std::size(kCommands)];
          std::string& l = lower[t % std::size(kCommands)];
          l.assign(argv.back());
          for (char& c : l) c = tessera::protocol::ascii_lower(c);
          argv.back() = l;
        }
      } else if (i > 0 && t < 0x60) {
        argv.push_back(kTokens[t % std::size(kTokens)]);
      } else {
        argv.push_back(in.bytes(t % 64));
      }
    }
    tessera::protocol::write_command(pipeline, argv);
    ++pending;
    if ((head & 0x80) != 0 || pending >= 64) send();
  }
  send();
  reset(s, with_limits);
  if (!with_limits) check_keyspace(s);
  return 0;
}
