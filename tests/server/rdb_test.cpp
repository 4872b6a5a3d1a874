// The RDB codec (server/include/tessera/server/persistence/rdb.hpp): checksum, LZF, encodings,
// round trips, refusals, and files written by Redis 7.0.15 itself (made at test time: redis-server
// is started in a temporary directory, given keys in every string encoding, and SAVEd), and files
// written here loaded by Redis and checked by redis-check-rdb.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tessera/server/persistence/rdb.hpp>
#include <thread>
#include <vector>

#include "server_process.hpp"

namespace rdb = tessera::server::rdb;
namespace fs = std::filesystem;
using tessera::test::RawConnection;
using tessera::test::ServerProcess;

namespace {

struct Value {
  std::string value;
  std::optional<std::int64_t> deadline;
  bool operator==(const Value&) const = default;
};
using Keys = std::map<std::string, Value>;

rdb::ByteSource from_string(const std::string& bytes) {
  auto pos = std::make_shared<std::size_t>(0);
  return [&bytes, pos](char* into, std::size_t n) {
    const std::size_t k = std::min(n, bytes.size() - *pos);
    std::memcpy(into, bytes.data() + *pos, k);
    *pos += k;
    return k;
  };
}

rdb::ReadResult read_all(const std::string& bytes, Keys& keys) {
  return rdb::read_file(from_string(bytes), [&](const rdb::LoadedKey& k) {
    keys[std::string(k.key)] = Value{std::string(k.value), k.deadline_ms};
  });
}

std::string write_file(const Keys& keys, bool compress = true) {
  std::string out;
  rdb::put_header(out);
  rdb::put_aux(out, "redis-ver", "7.0.15");
  rdb::put_aux(out, "redis-bits", "64");
  std::size_t expires = 0;
  for (const auto& [k, v] : keys) expires += v.deadline ? 1 : 0;
  rdb::put_select_db(out, 0);
  rdb::put_resize_db(out, keys.size(), expires);
  for (const auto& [k, v] : keys) rdb::put_string_key(out, k, v.value, v.deadline, compress);
  rdb::put_eof(out, rdb::crc64(0, out.data(), out.size()));
  return out;
}

std::string encoded(std::string_view s) {
  std::string out;
  rdb::put_string(out, s);
  return out;
}

std::string resp(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/tessera-rdb-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Values in each of Redis's string encodings, and deadlines.
Keys sample_keys() {
  Keys k;
  k["int8"] = {"-128", std::nullopt};
  k["int8b"] = {"127", std::nullopt};
  k["int16"] = {"-32768", std::nullopt};
  k["int32"] = {"2147483647", std::nullopt};
  k["int32min"] = {"-2147483648", std::nullopt};
  k["notint-leading-zero"] = {"007", std::nullopt};
  k["notint-plus"] = {"+5", std::nullopt};
  k["notint-minus-zero"] = {"-0", std::nullopt};
  k["big-int"] = {"12345678901", std::nullopt};
  k["empty"] = {"", std::nullopt};
  k["short"] = {"hello", std::nullopt};
  k["compressible"] = {std::string(1000, 'a') + "tail" + std::string(500, 'b'), std::nullopt};
  k["repeats"] = {"abcabcabcabcabcabcabcabcabcabcabcabc", std::nullopt};
  std::mt19937_64 rng(7);
  std::string noise(300, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  k["incompressible"] = {noise, std::nullopt};
  k["binary\r\n\0key"] = {std::string("\0\1\2\xff", 4), std::nullopt};
  k["long-key-" + std::string(20000, 'k')] = {std::string(70000, 'v'), std::nullopt};
  k["12345"] = {"integer key", std::nullopt};
  k["ttl"] = {"soon", 4'102'444'800'000};  // 2100-01-01
  k["ttl-int"] = {"42", 4'102'444'800'123};
  return k;
}

}  // namespace

TEST_CASE("rdb: CRC-64/Jones as Redis's crc64.c") {
  CHECK(rdb::crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
  // Redis's own test vector (crc64.c crc64Test).
  const char* li = "This is a test of the emergency broadcast system.";
  const std::uint64_t whole = rdb::crc64(0, li, std::strlen(li));
  CHECK(rdb::crc64(rdb::crc64(0, li, 10), li + 10, std::strlen(li) - 10) == whole);
  CHECK(rdb::crc64(0, "", 0) == 0);
}

TEST_CASE("rdb: LZF round trips, bounds and malformed input") {
  std::mt19937_64 rng(1);
  for (int round = 0; round < 300; ++round) {
    const std::size_t n = 1 + rng() % 20000;
    std::string in(n, '\0');
    const unsigned alphabet = 1 + rng() % 8;
    for (char& c : in) c = static_cast<char>('a' + rng() % alphabet);
    std::string packed(n + n / 16 + 64, '\0');
    const std::size_t m = rdb::lzf_compress(in.data(), n, packed.data(), packed.size());
    REQUIRE(m > 0);
    std::string back(n, '\0');
    REQUIRE(rdb::lzf_decompress(packed.data(), m, back.data(), n) == n);
    CHECK(back == in);
    // Too small an output buffer: 0, never an overrun.
    std::string small(n, '\0');
    CHECK(rdb::lzf_decompress(packed.data(), m, small.data(), n - 1) == 0);
  }
  const std::string text = "no room";
  std::string tiny(3, '\0');
  CHECK(rdb::lzf_compress(text.data(), text.size(), tiny.data(), tiny.size()) == 0);
  // A back reference before the start of the output.
  const unsigned char bad[] = {0x20, 0x05};
  char out[16];
  CHECK(rdb::lzf_decompress(bad, sizeof bad, out, sizeof out) == 0);
  // A literal run longer than the input.
  const unsigned char cut[] = {0x05, 'a', 'b'};
  CHECK(rdb::lzf_decompress(cut, sizeof cut, out, sizeof out) == 0);
}

TEST_CASE("rdb: string encodings as Redis writes them") {
  CHECK(encoded("0") == std::string("\xC0\x00", 2));
  CHECK(encoded("-1") == "\xC0\xFF");
  CHECK(encoded("300") == "\xC1\x2C\x01");
  CHECK(encoded("-32768") == std::string("\xC1\x00\x80", 3));
  CHECK(encoded("70000") == std::string("\xC2\x70\x11\x01\x00", 5));
  CHECK(encoded("007") ==
        "\x03"
        "007");
  CHECK(encoded("-0") == "\x02-0");
  CHECK(encoded("+1") == "\x02+1");
  CHECK(encoded("12345678901") ==
        "\x0B"
        "12345678901");  // beyond 32 bits: plain
  CHECK(encoded("abc") ==
        "\x03"
        "abc");
  // Lengths: 6, 14 and 32 bits.
  std::string l;
  rdb::put_length(l, 63);
  CHECK(l == "\x3F");
  l.clear();
  rdb::put_length(l, 64);
  CHECK(l == "\x40\x40");
  l.clear();
  rdb::put_length(l, 16384);
  CHECK(l == std::string("\x80\x00\x00\x40\x00", 5));
  l.clear();
  rdb::put_length(l, 1ull << 32);
  CHECK(l == std::string("\x81\x00\x00\x00\x01\x00\x00\x00\x00", 9));
  // Over 20 bytes and compressible: LZF; 20 bytes: never.
  CHECK(static_cast<unsigned char>(encoded(std::string(21, 'z'))[0]) == 0xC3);
  CHECK(encoded(std::string(20, 'z'))[0] == 20);
}

TEST_CASE("rdb: round trip of every encoding, with and without compression") {
  const Keys keys = sample_keys();
  for (bool compress : {true, false}) {
    const std::string file = write_file(keys, compress);
    Keys back;
    const auto r = read_all(file, back);
    REQUIRE_MESSAGE(r.ok, r.error);
    CHECK(r.version == 10);
    CHECK(r.checksum_verified);
    CHECK(r.keys == keys.size());
    CHECK(r.redis_ver == "7.0.15");
    CHECK(back == keys);
    CHECK(r.bytes == file.size());
  }
}

TEST_CASE("rdb: refusals name what is wrong") {
  const Keys keys = sample_keys();
  const std::string good = write_file(keys);
  Keys ignored;
  SUBCASE("checksum") {
    std::string bad = good;
    bad[bad.find("7.0.15")] ^= 1;  // inside an AUX value: only the checksum can tell
    const auto r = read_all(bad, ignored);
    CHECK_FALSE(r.ok);
    CHECK(r.error.find("Wrong RDB checksum") != std::string::npos);
  }
  SUBCASE("a zero checksum is not checked") {
    std::string unsummed = good;
    std::memset(unsummed.data() + unsummed.size() - 8, 0, 8);
    const auto r = read_all(unsummed, ignored);
    CHECK(r.ok);
    CHECK_FALSE(r.checksum_verified);
  }
  SUBCASE("truncated at every length") {
    for (std::size_t n = 0; n < good.size(); n += 1 + n / 64) {
      const auto r = read_all(good.substr(0, n), ignored);
      CHECK_FALSE(r.ok);
    }
  }
  SUBCASE("version and signature") {
    std::string v11 = good;
    v11.replace(5, 4, "0011");
    auto r = read_all(v11, ignored);
    CHECK(r.error.starts_with("Can't handle RDB format version 11"));
    r = read_all("RUBIS0010", ignored);
    CHECK(r.error.starts_with("Wrong signature trying to load DB from file"));
  }
  SUBCASE("another type names the key and the type") {
    std::string f;
    rdb::put_header(f);
    rdb::put_select_db(f, 0);
    rdb::put_string_key(f, "fine", "1", std::nullopt);
    f.push_back(4);  // a hash
    rdb::put_string(f, "user:1");
    rdb::put_length(f, 0);
    rdb::put_eof(f, rdb::crc64(0, f.data(), f.size()));
    Keys seen;
    const auto r = read_all(f, seen);
    CHECK_FALSE(r.ok);
    CHECK(
        r.error.starts_with("Key 'user:1' holds a hash (RDB type 4); Tessera stores strings only"));
  }
  SUBCASE("another database") {
    std::string f;
    rdb::put_header(f);
    rdb::put_select_db(f, 3);
    rdb::put_string_key(f, "k", "v", std::nullopt);
    rdb::put_eof(f, rdb::crc64(0, f.data(), f.size()));
    const auto r = read_all(f, ignored);
    CHECK(r.error.starts_with("Key 'k' is in database 3"));
  }
}

TEST_CASE("rdb: files Redis 7.0.15 writes load, every key compared") {
  TempDir dir;
  Keys keys = sample_keys();
  // Deadlines Redis writes are the ones it was given (PEXPIREAT, absolute ms).
  {
    ServerProcess redis = ServerProcess::redis({"--dir", dir.path.string()});
    RawConnection c(redis.port());
    std::string batch;
    std::size_t replies = 0;
    for (const auto& [k, v] : keys) {
      batch += resp({"SET", k, v.value});
      ++replies;
      if (v.deadline) {
        batch += resp({"PEXPIREAT", k, std::to_string(*v.deadline)});
        ++replies;
      }
    }
    batch += resp({"SAVE"});
    c.send(batch);
    const std::string got = c.read_available(std::chrono::milliseconds(500));
    CHECK(got.ends_with("+OK\r\n"));
  }
  const std::string file = slurp(dir.path / "dump.rdb");
  REQUIRE(file.size() > 9);
  Keys back;
  const auto r = read_all(file, back);
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.version == 10);
  CHECK(r.checksum_verified);
  CHECK(r.redis_ver == "7.0.15");
  CHECK(back == keys);
  // Redis compressed the long values: the file is smaller than they are.
  CHECK(file.size() < 20000 + 70000);
}

TEST_CASE("rdb: Redis 7.0.15 loads what this writes, and redis-check-rdb passes it") {
  TempDir dir;
  const Keys keys = sample_keys();
  {
    std::ofstream out(dir.path / "dump.rdb", std::ios::binary);
    const std::string file = write_file(keys);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
  }
  const auto check =
      tessera::test::run_command({"redis-check-rdb", (dir.path / "dump.rdb").string()});
  CHECK_MESSAGE(check.exit_code == 0, (check.out + check.err));
  CHECK(check.out.find("RDB looks OK") != std::string::npos);
  ServerProcess redis = ServerProcess::redis({"--dir", dir.path.string()});
  RawConnection c(redis.port());
  for (const auto& [k, v] : keys) {
    c.send(resp({"GET", k}));
    const std::string want = "$" + std::to_string(v.value.size()) + "\r\n" + v.value + "\r\n";
    CHECK(c.read_exactly(want.size()) == want);
    c.send(resp({"PEXPIRETIME", k}));
    const std::string ttl = ":" + std::to_string(v.deadline.value_or(-1)) + "\r\n";
    CHECK(c.read_exactly(ttl.size()) == ttl);
  }
  c.send(resp({"DBSIZE"}));
  const std::string size = ":" + std::to_string(keys.size()) + "\r\n";
  CHECK(c.read_exactly(size.size()) == size);
}
