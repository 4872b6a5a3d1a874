// What every thread may read about the running server: the configuration and the global counters.
//
// `config` changes only through CONFIG SET, and only in the fields of parameters flagged
// kParamMutable (config/parameters.hpp). Those fields are written and read under config_mutex;
// code on a hot path reads the atomic mirror instead (maxmemory, timeout, ...), which the
// parameter's publish hook updates. Every other field is fixed once serving and read freely.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>

#include <tessera/server/config/config.hpp>
#include <tessera/server/config/sha256.hpp>
#include <tessera/server/store/settings.hpp>

namespace tessera::server {

class Persistence;
class AppendOnlyFile;

struct ServerState {
  explicit ServerState(Config c)
      : config(std::move(c)),
        timeout(config.timeout),
        requirepass_digest(sha256(config.requirepass)),
        started(std::chrono::steady_clock::now()) {
    store.maxmemory = config.maxmemory;
    store.policy = config.maxmemory_policy;
    store.samples = config.maxmemory_samples;
    store.hash_seed = config.hash_seed != 0 ? config.hash_seed : random_hash_seed();
  }

  // 64 bits from std::random_device (the OS's entropy), once per start.
  static std::uint64_t random_hash_seed() {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }

  Config config;
  mutable std::mutex config_mutex;  // CONFIG SET / GET / REWRITE of the mutable fields

  // What the stores read: clock, maxmemory, maxmemory-policy, maxmemory-samples (CONFIG SET).
  StoreSettings store;
  std::atomic<std::uint64_t> timeout;  // CONFIG SET timeout
  // CONFIG SET slowlog-log-slower-than / slowlog-max-len (commands/slowlog.cpp).
  std::atomic<std::int64_t> slowlog_slower_than{config.slowlog_log_slower_than};
  std::atomic<std::uint64_t> slowlog_max_len{config.slowlog_max_len};
  std::atomic<std::uint64_t> connected_clients{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::uint64_t> next_client_id{1};
  std::atomic<int> port{0};  // the port actually bound
  // SHA-256 of config.requirepass (which CONFIG SET cannot change): AUTH compares digests
  // (config/sha256.hpp).
  const Sha256Digest requirepass_digest;
  const std::chrono::steady_clock::time_point started;
  // Set while the server runs with persistence (persistence/persistence.hpp), and how SHUTDOWN
  // stops the server (set by network/server.cpp); empty in in-process tests.
  Persistence* persistence = nullptr;
  // Set while the append-only file is on (persistence/aof.hpp).
  AppendOnlyFile* aof = nullptr;
  std::function<void()> request_shutdown;
};

}  // namespace tessera::server
