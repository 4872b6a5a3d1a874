// CLIENT LIST / INFO / KILL / NO-EVICT and SLOWLOG's client address (issue 20), against the real
// process over sockets with several shards: every connection is listed whichever shard hosts it,
// with Redis 7.0.15's fields in its order (checked against a redis-server's own CLIENT LIST), true
// addresses, names and last commands; KILL by ID, ADDR (and the old ip:port form), LADDR, USER,
// SKIPME closes exactly the connections it counts, and refuses bad filters with Redis's errors.
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <tessera/protocol/reply_reader.hpp>

#include "e2e_util.hpp"

using namespace tessera::test;
using namespace std::chrono_literals;

namespace {

// Sends one command and reads its one reply.
tessera::protocol::Reply call(RawConnection& c, std::initializer_list<std::string_view> args) {
  c.send(resp(args));
  tessera::protocol::ReplyReader reader;
  tessera::protocol::Reply r;
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    reader.feed(c.read_available(20ms, 1s));
    const auto st = reader.next(r);
    REQUIRE(st != tessera::protocol::ReplyReader::Status::kError);
    if (st == tessera::protocol::ReplyReader::Status::kReply) return r;
  }
  FAIL("no reply");
  return r;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// CLIENT LIST's lines: "k=v k=v ..." each, in order.
std::vector<Fields> client_lines(const std::string& text) {
  std::vector<Fields> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    Fields f;
    std::istringstream words(line);
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      REQUIRE(eq != std::string::npos);
      f.emplace_back(w.substr(0, eq), w.substr(eq + 1));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string field(const Fields& f, std::string_view name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  FAIL("no field " << name);
  return {};
}

std::vector<std::string> names_of(const Fields& f) {
  std::vector<std::string> out;
  for (const auto& kv : f) out.push_back(kv.first);
  return out;
}

}  // namespace

TEST_CASE("e2e clients: CLIENT LIST and INFO show every connection as Redis does") {
  auto redis = ServerProcess::redis();
  RawConnection r(redis.port());
  const auto redis_fields = names_of(client_lines(call(r, {"CLIENT", "LIST"}).str).at(0));

  auto server = start_tessera(2);
  const std::string laddr = "127.0.0.1:" + std::to_string(server.port());
  RawConnection a(server.port()), b(server.port()), c(server.port());
  CHECK(call(a, {"CLIENT", "SETNAME", "alpha"}).str == "OK");
  const auto a_id = call(a, {"CLIENT", "ID"}).integer;
  const auto b_id = call(b, {"CLIENT", "ID"}).integer;
  const auto c_id = call(c, {"CLIENT", "ID"}).integer;
  call(c, {"MULTI"});
  call(c, {"SET", "k", "v"});

  auto lines = client_lines(call(a, {"CLIENT", "LIST"}).str);
  REQUIRE(lines.size() == 3);
  std::map<std::string, Fields> by_id;
  for (const auto& l : lines) {
    CHECK(names_of(l) == redis_fields);  // Redis 7.0.15's fields, in its order
    CHECK(field(l, "addr").starts_with("127.0.0.1:"));
    CHECK(field(l, "laddr") == laddr);
    CHECK(std::stoi(field(l, "fd")) > 2);
    CHECK(field(l, "user") == "default");
    CHECK(field(l, "resp") == "2");
    by_id[field(l, "id")] = l;
  }
  // Sorted by id; the caller's line shows CLIENT LIST as its command.
  CHECK(std::stoll(field(lines[0], "id")) < std::stoll(field(lines[1], "id")));
  CHECK(std::stoll(field(lines[1], "id")) < std::stoll(field(lines[2], "id")));
  const Fields& mine = by_id.at(std::to_string(a_id));
  CHECK(field(mine, "name") == "alpha");
  CHECK(field(mine, "cmd") == "client|list");
  CHECK(field(mine, "flags") == "N");
  const Fields& bl = by_id.at(std::to_string(b_id));
  CHECK(field(bl, "cmd") == "client|id");
  CHECK(field(bl, "name") == "");
  const Fields& cl = by_id.at(std::to_string(c_id));
  CHECK(field(cl, "flags") == "x");
  CHECK(field(cl, "multi") == "1");
  CHECK(field(cl, "cmd") == "set");

  // CLIENT INFO: the caller's own line.
  auto info = client_lines(call(a, {"CLIENT", "INFO"}).str);
  REQUIRE(info.size() == 1);
  CHECK(field(info[0], "id") == field(mine, "id"));
  CHECK(field(info[0], "addr") == field(mine, "addr"));
  CHECK(field(info[0], "cmd") == "client|info");
  // LIST filters.
  CHECK(client_lines(call(a, {"CLIENT", "LIST", "ID", std::to_string(b_id)}).str).size() == 1);
  CHECK(call(a, {"CLIENT", "LIST", "ID", "x"}).str == "ERR Invalid client ID");
  CHECK(client_lines(call(a, {"CLIENT", "LIST", "TYPE", "normal"}).str).size() == 3);
  CHECK(call(a, {"CLIENT", "LIST", "TYPE", "pubsub"}).str.empty());
  CHECK(call(a, {"CLIENT", "LIST", "TYPE", "foo"}).str == "ERR Unknown client type 'foo'");
  // NO-EVICT: accepted, shown as flag e.
  CHECK(call(a, {"CLIENT", "NO-EVICT", "on"}).str == "OK");
  CHECK(call(a, {"CLIENT", "NO-EVICT", "maybe"}).str == "ERR syntax error");
  CHECK(field(client_lines(call(a, {"CLIENT", "INFO"}).str).at(0), "flags") == "e");

  // SLOWLOG records the client's address and name.
  CHECK(call(a, {"CONFIG", "SET", "slowlog-log-slower-than", "0"}).str == "OK");
  auto entries = call(a, {"SLOWLOG", "GET", "1"});
  REQUIRE(entries.elements.size() == 1);
  CHECK(entries.elements[0].elements.at(4).str == field(mine, "addr"));
  CHECK(entries.elements[0].elements.at(5).str == "alpha");
}

TEST_CASE("e2e clients: CLIENT KILL by ID, ADDR, LADDR, USER, SKIPME; Redis's errors") {
  auto server = start_tessera(2);
  const std::string laddr = "127.0.0.1:" + std::to_string(server.port());
  RawConnection a(server.port()), b(server.port()), c(server.port()), d(server.port());
  const auto b_id = call(b, {"CLIENT", "ID"}).integer;
  const std::string c_addr = field(client_lines(call(c, {"CLIENT", "INFO"}).str).at(0), "addr");

  CHECK(call(a, {"CLIENT", "KILL", "ID", "0"}).str == "ERR client-id should be greater than 0");
  CHECK(call(a, {"CLIENT", "KILL", "ID", "x"}).str == "ERR client-id should be greater than 0");
  CHECK(call(a, {"CLIENT", "KILL", "USER", "nobody"}).str == "ERR No such user 'nobody'");
  CHECK(call(a, {"CLIENT", "KILL", "SKIPME", "maybe"}).str == "ERR syntax error");
  CHECK(call(a, {"CLIENT", "KILL", "FOO", "bar"}).str == "ERR syntax error");
  CHECK(call(a, {"CLIENT", "KILL", "ADDR"}).str == "ERR No such client");  // the old form
  CHECK(call(a, {"CLIENT", "KILL", "1.2.3.4:5"}).str == "ERR No such client");
  CHECK(call(a, {"CLIENT", "KILL", "ID", "999999"}).integer == 0);

  CHECK(call(a, {"CLIENT", "KILL", "ID", std::to_string(b_id)}).integer == 1);
  CHECK(b.closed_by_peer());
  CHECK(call(a, {"CLIENT", "KILL", c_addr}).str == "OK");  // the old form
  CHECK(c.closed_by_peer());
  // USER default matches every client; SKIPME (yes by default) spares the caller.
  CHECK(call(a, {"CLIENT", "KILL", "USER", "default"}).integer == 1);
  CHECK(d.closed_by_peer());
  CHECK(client_lines(call(a, {"CLIENT", "LIST"}).str).size() == 1);
  // SKIPME no: the caller too, after its reply.
  CHECK(call(a, {"CLIENT", "KILL", "LADDR", laddr, "SKIPME", "no"}).integer == 1);
  CHECK(a.closed_by_peer());
  RawConnection e(server.port());
  CHECK(call(e, {"PING"}).str == "PONG");
}
