// Test support: start real servers (tessera-server, redis-server) on free loopback ports, talk to
// them with raw bytes, and run stock tools (redis-cli, redis-benchmark) against them.
//
// Every process started here is owned by the object that started it: the destructor stops it by its
// PID (SIGTERM, then SIGKILL after a grace period), so a failing test never leaves a server behind.
// Servers listen on 127.0.0.1 only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_port();

// Path of the tessera-server binary of this build (compiled in by CMake).
std::string tessera_server_path();

class ServerProcess {
 public:
  // Starts argv (argv[0] is the binary, looked up in PATH if it has no '/') and waits until
  // 127.0.0.1:port accepts connections. Throws std::runtime_error (with the process's output) if
  // it exits first or is not ready within ready_timeout.
  ServerProcess(std::vector<std::string> argv, int port,
                std::chrono::milliseconds ready_timeout = std::chrono::seconds(15));
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&&) = delete;
  ServerProcess(const ServerProcess&) = delete;
  ~ServerProcess();

  // tessera-server --bind 127.0.0.1 --port <free port> --save "" plus `extra` flags.
  static ServerProcess tessera(std::vector<std::string> extra = {});
  // redis-server on a free port, no persistence, loopback only.
  static ServerProcess redis(std::vector<std::string> extra = {});

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  bool running();
  // Sends `signal`, waits up to `grace` for the exit, then SIGKILL. Returns the wait status
  // (use WIFEXITED/WEXITSTATUS), or nullopt if it had already been reaped.
  std::optional<int> stop(int signal = 15,
                          std::chrono::milliseconds grace = std::chrono::seconds(5));
  // Everything the process wrote to stdout and stderr so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  // The server's own working directory (fresh, removed with it): a dump.rdb one server writes
  // (Redis's or Tessera's default save rules, SHUTDOWN, SIGTERM) is never loaded by another.
  std::string work_dir_;
};

// A blocking loopback TCP connection for raw-protocol tests.
class RawConnection {
 public:
  explicit RawConnection(int port);
  RawConnection(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  ~RawConnection();

  void send(std::string_view bytes);
  // Reads until `n` bytes arrived, the peer closed, or the timeout; returns what arrived.
  std::string read_exactly(std::size_t n,
                           std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads until the peer closes the connection or the timeout; returns what arrived.
  std::string read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads whatever arrives until `quiet` passes with no new bytes (or `timeout` in total).
  std::string read_available(std::chrono::milliseconds quiet = std::chrono::milliseconds(200),
                             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // send(request) then read_exactly(expected.size()): the usual one-line assertion helper.
  std::string roundtrip(std::string_view request, std::size_t expected_size);
  // True if the peer has closed the connection (a read returns EOF within `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(2));
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

struct CommandResult {
  int exit_code = -1;  // -1: killed by the timeout
  std::string out;     // stdout
  std::string err;     // stderr
};
// Runs argv with `input` on stdin; kills it after `timeout`.
CommandResult run_command(const std::vector<std::string>& argv, std::string_view input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// RSS (kB) and open file descriptors of a process, from /proc.
std::int64_t rss_kb(pid_t pid);
int open_fds(pid_t pid);

}  // namespace tessera::test
