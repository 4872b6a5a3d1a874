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
};

}  // namespace tessera::client
