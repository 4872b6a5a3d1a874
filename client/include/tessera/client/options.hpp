// Where and how a client connects.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tessera::client {

struct ClientOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  // Name resolution, TCP connect and AUTH together. Zero: no limit.
  std::chrono::milliseconds connect_timeout{5000};
  // One command, or one whole pipeline, from the first byte written to the last reply read.
  // Zero: no limit (saves arming a timer per command; the benchmark runs that way).
  std::chrono::milliseconds command_timeout{5000};
  // Sent as AUTH [username] password right after every connect and reconnect.
  std::optional<std::string> password{};
  std::optional<std::string> username{};
  // 2: RESP2, nothing sent on connect but AUTH. 3: every connect and reconnect opens with
  // HELLO 3 [AUTH username-or-default password], and replies come in RESP3's types (maps, sets,
  // doubles, booleans, verbatim strings, nulls as `_`); the typed calls return the same either
  // way. A server that refuses HELLO 3 (Redis 5, "NOPROTO ...") fails the connect with ServerError.
  int protocol = 2;
};

}  // namespace tessera::client
