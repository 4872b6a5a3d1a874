// Helpers for the reliability suites (reliability_test.cpp, soak_test.cpp): a blocking loopback
// connection that parses replies with the real ReplyReader and can vanish with an RST, a pinger
// that measures another client's round trips while a test abuses the server, and small /proc
// samplers. Everything here talks to 127.0.0.1 only.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tessera/protocol/reply_reader.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <thread>
#include <vector>

#include "e2e_util.hpp"

namespace tessera::test {

using protocol::Reply;
using Ms = std::chrono::milliseconds;

// Under ASan or TSan the server's RSS says little (shadow memory, quarantined frees): the RSS
// bounds are asserted in the plain build only; the figures are printed in every build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#else
inline constexpr bool kSanitized = false;
#endif

// Raises this process's soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
inline std::uint64_t raise_nofile_limit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

inline std::string encode(std::initializer_list<std::string_view> args) {
  std::string out;
  protocol::write_command(out, std::span<const std::string_view>(args.begin(), args.size()));
  return out;
}

// A blocking client connection. Unlike RawConnection it reports failures instead of throwing on
// them (a test that drops connections on purpose expects some), and it parses replies as it reads.
class Conn {
 public:
  explicit Conn(int port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      throw std::runtime_error("connect failed");
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() { close(); }

  // False when the peer is gone. Never raises SIGPIPE.
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Sends without blocking; returns how many bytes the kernel took (0 when its buffer is full).
  std::size_t send_some(std::string_view bytes) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }

  // Reads until `n` more replies were parsed into `out`. False on timeout, EOF or a malformed
  // stream (error() says which); the replies parsed before that are in `out`.
  bool read_replies(std::size_t n, std::vector<Reply>& out, Ms timeout = Ms(10000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t got = 0;
    Reply r;
    while (got < n) {
      const auto st = reader_.next(r);
      if (st == protocol::ReplyReader::Status::kError) {
        error_ = "malformed reply stream: " + std::string(reader_.error());
        return false;
      }
      if (st == protocol::ReplyReader::Status::kReply) {
        out.push_back(std::move(r));
        r = Reply{};
        ++got;
        continue;
      }
      if (!fill(deadline)) return false;
    }
    return true;
  }
  // Reads `n` bytes or fewer at most (whatever arrives within `timeout`), discarding them.
  std::size_t drain_bytes(std::size_t n, Ms timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t total = 0;
    char buf[16384];
    while (total < n) {
      if (!wait_readable(deadline)) break;
      const ssize_t r = ::recv(fd_, buf, std::min(sizeof buf, n - total), 0);
      if (r <= 0) break;
      total += static_cast<std::size_t>(r);
    }
    return total;
  }
  // Reads and parses everything until the peer closes (or `timeout`). Returns whether EOF came;
  // `out` gets every complete reply and `leftover` the bytes of an incomplete one.
  bool read_to_eof(std::vector<Reply>& out, std::size_t& leftover, Ms timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Reply r;
    for (;;) {
      auto st = reader_.next(r);
      while (st == protocol::ReplyReader::Status::kReply) {
        out.push_back(std::move(r));
        r = Reply{};
        st = reader_.next(r);
      }
      leftover = reader_.buffered();
      if (st == protocol::ReplyReader::Status::kError) {
        error_ = "malformed reply stream: " + std::string(reader_.error());
        return false;
      }
      if (!fill(deadline)) return error_ == "closed by peer";
    }
  }
  // Closes so that the peer sees an RST (SO_LINGER 0): the abrupt end of a killed process.
  void abort() {
    if (fd_ < 0) return;
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  const std::string& error() const { return error_; }

 private:
  bool wait_readable(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<Ms>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  }
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (!wait_readable(deadline)) {
      error_ = "timed out";
      return false;
    }
    auto space = reader_.prepare();
    const ssize_t r = ::recv(fd_, space.data(), space.size(), 0);
    if (r <= 0) {
      error_ = r == 0 ? "closed by peer" : "recv failed";
      reader_.commit(0);
      return false;
    }
    reader_.commit(static_cast<std::size_t>(r));
    return true;
  }

  int fd_ = -1;
  protocol::ReplyReader reader_;
  std::string error_;
};

struct LatencyStats {
  std::size_t count = 0;
  std::size_t failures = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

// Another client's view while a test abuses the server: PING round trips every few milliseconds
// on its own connection, from its own thread.
class Pinger {
 public:
  explicit Pinger(int port) : conn_(port), thread_([this] { loop(); }) {}
  ~Pinger() { stop(); }
  LatencyStats stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
    LatencyStats s;
    s.count = samples_.size();
    s.failures = failures_;
    if (samples_.empty()) return s;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](std::size_t rank) { return samples_[std::min(rank, samples_.size() - 1)]; };
    s.p50_ms = at(samples_.size() / 2);
    s.p99_ms = at(samples_.size() * 99 / 100);
    s.max_ms = samples_.back();
    return s;
  }

 private:
  void loop() {
    std::vector<Reply> replies;
    while (!stop_) {
      replies.clear();
      const auto t0 = std::chrono::steady_clock::now();
      if (!conn_.send_all("PING\r\n") || !conn_.read_replies(1, replies, Ms(5000)) ||
          replies[0].str != "PONG") {
        ++failures_;
        return;
      }
      samples_.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      std::this_thread::sleep_for(Ms(2));
    }
  }
  Conn conn_;
  std::atomic<bool> stop_{false};
  std::vector<double> samples_;
  std::size_t failures_ = 0;
  std::thread thread_;
};

inline void print_latency(const char* what, const LatencyStats& s) {
  std::printf("%s: PING round trips n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms failures=%zu\n", what,
              s.count, s.p50_ms, s.p99_ms, s.max_ms, s.failures);
  std::fflush(stdout);
}

// Samples a process's RSS in the background and keeps the peak.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) : pid_(pid), thread_([this] { loop(); }) {}
  ~RssSampler() { stop(); }
  std::int64_t stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
    return peak_;
  }

 private:
  void loop() {
    while (!stop_) {
      peak_ = std::max(peak_, rss_kb(pid_));
      std::this_thread::sleep_for(Ms(20));
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::int64_t peak_ = 0;
  std::thread thread_;
};

// One INFO field as an integer (-1 if absent).
inline std::int64_t info_field(int port, std::string_view field) {
  Conn c(port);
  std::vector<Reply> r;
  if (!c.send_all(encode({"INFO"})) || !c.read_replies(1, r)) return -1;
  const std::string key = std::string(field) + ":";
  const auto at = r[0].str.find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(r[0].str.c_str() + at + key.size(), nullptr, 10);
}

}  // namespace tessera::test
