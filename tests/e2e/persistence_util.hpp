// Helpers of the persistence end-to-end tests (RDB and AOF): temporary directories, raw calls,
// INFO fields, and a sample of keys written, read back from a file or a server and compared.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tessera/server/persistence/rdb.hpp>
#include <vector>

#include "e2e_util.hpp"

namespace tessera::test::persist {

namespace fs = std::filesystem;
namespace rdb = tessera::server::rdb;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/tessera-persist-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline std::string resp_v(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Sends one command and reads one reply line (or a bulk reply with its payload).
inline std::string call(RawConnection& c, const std::vector<std::string>& args) {
  c.send(resp_v(args));
  std::string got;
  for (int i = 0; i < 400; ++i) {
    got += c.read_available(std::chrono::milliseconds(5), std::chrono::milliseconds(50));
    const auto eol = got.find("\r\n");
    if (eol == std::string::npos) continue;
    if (got[0] != '$') return got;
    const long n = std::stol(got.substr(1, eol - 1));
    if (n < 0 || got.size() >= eol + 2 + static_cast<std::size_t>(n) + 2) return got;
  }
  return got;
}

inline std::string info_field(RawConnection& c, std::string_view name) {
  const std::string info = call(c, {"INFO", "persistence"});
  const auto at = info.find(std::string(name) + ":");
  if (at == std::string::npos) return {};
  const auto end = info.find("\r\n", at);
  return info.substr(at + name.size() + 1, end - at - name.size() - 1);
}

inline void wait_bgsave_done(RawConnection& c) {
  REQUIRE(eventually([&] { return info_field(c, "rdb_bgsave_in_progress") == "0"; },
                     std::chrono::seconds(60)));
}

struct Value {
  std::string value;
  std::optional<std::int64_t> deadline;
  bool operator==(const Value&) const = default;
};
using Keys = std::map<std::string, Value>;

inline Keys read_rdb(const fs::path& p, rdb::ReadResult* result = nullptr) {
  std::ifstream in(p, std::ios::binary);
  Keys keys;
  const rdb::ByteSource source = [&](char* into, std::size_t n) -> std::size_t {
    in.read(into, static_cast<std::streamsize>(n));
    return static_cast<std::size_t>(in.gcount());
  };
  const auto r = rdb::read_file(source, [&](const rdb::LoadedKey& k) {
    keys[std::string(k.key)] = Value{std::string(k.value), k.deadline_ms};
  });
  if (result != nullptr) *result = r;
  REQUIRE_MESSAGE(r.ok, r.error);
  return keys;
}

inline Keys sample_keys() {
  Keys k;
  const std::int64_t far = 4'102'444'800'000;  // 2100-01-01
  k["small-int"] = {"12", std::nullopt};
  k["neg-int"] = {"-30000", std::nullopt};
  k["int32"] = {"2000000000", far};
  k["not-canonical"] = {"0012", std::nullopt};
  k["empty"] = {"", std::nullopt};
  k["text"] = {"hello world", far + 1};
  k["compressible"] = {std::string(5000, 'x') + "y" + std::string(300, 'z'), std::nullopt};
  std::mt19937_64 rng(3);
  std::string noise(2000, '\0');
  for (char& ch : noise) ch = static_cast<char>(rng());
  k["noise"] = {noise, far + 2};
  k[std::string("bin\0key\r\n", 9)] = {std::string("\0\xff\x01", 3), std::nullopt};
  for (int i = 0; i < 500; ++i)
    k["many:" + std::to_string(i)] = {"value-" + std::to_string(i), std::nullopt};
  return k;
}

inline void write_keys(RawConnection& c, const Keys& keys) {
  std::string batch;
  std::size_t n = 0;
  for (const auto& [k, v] : keys) {
    batch += resp_v({"SET", k, v.value});
    ++n;
    if (v.deadline) {
      batch += resp_v({"PEXPIREAT", k, std::to_string(*v.deadline)});
      ++n;
    }
  }
  c.send(batch);
  std::string got;
  REQUIRE(eventually([&] {
    got += c.read_available(std::chrono::milliseconds(5), std::chrono::milliseconds(50));
    std::size_t lines = 0;
    for (std::size_t p = 0; (p = got.find("\r\n", p)) != std::string::npos; p += 2) ++lines;
    return lines >= n;
  }));
}

// Every key's value and deadline as the server at `port` answers them.
inline void check_keys(int port, const Keys& keys) {
  RawConnection c(port);
  for (const auto& [k, v] : keys) {
    const std::string want = "$" + std::to_string(v.value.size()) + "\r\n" + v.value + "\r\n";
    CHECK_MESSAGE(call(c, {"GET", k}) == want, k);
    CHECK_MESSAGE(
        call(c, {"PEXPIRETIME", k}) == ":" + std::to_string(v.deadline.value_or(-1)) + "\r\n", k);
  }
  CHECK(call(c, {"DBSIZE"}) == ":" + std::to_string(keys.size()) + "\r\n");
}

inline std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<std::string> tessera_args(const TempDir& dir, unsigned shards,
                                             std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"--shards", std::to_string(shards), "--dir", dir.path.string()};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// The same with the append-only file on and no save rules.
inline std::vector<std::string> aof_test_args(const TempDir& dir, unsigned shards,
                                              std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"--appendonly", "yes", "--save", ""};
  a.insert(a.end(), extra.begin(), extra.end());
  return tessera_args(dir, shards, a);
}

}  // namespace tessera::test::persist
