// The RDB file format (Redis 7.0's version 10), as far as Tessera's data goes: string keys.
//
// Design note. This part is the codec alone and uses the standard library only: the snapshot
// machinery (persistence/snapshot.hpp) and the loader at start-up build on it. A file is
//
//   "REDIS0010"  AUX*  SELECTDB 0  RESIZEDB n e  ( [EXPIRETIME_MS t] 0 <key> <value> )*  EOF crc64
//
// with Redis's encodings (rdb.h / rdb.c): lengths in 1, 2, 5 or 9 bytes by their top two bits;
// a string is a length and its bytes, or an integer (8, 16, 32 bits little-endian) when its text is
// the canonical form of one (Redis's rdbTryIntegerEncoding: the text a number prints as), or LZF
// (compressed length, original length, data) when over 20 bytes and it compresses by more than 4
// bytes, as Redis writes with rdbcompression yes. The checksum is CRC-64/Jones (reflected, init 0,
// no final xor: Redis's crc64.c) over every byte before it; a zero checksum means "not computed"
// and is accepted, as by Redis. The reader takes everything Redis 7.0.15 writes for string keys
// (versions 1 to 10, the old seconds deadline, IDLE/FREQ, AUX fields it ignores, functions are
// refused) and refuses any other value type naming the key and its type: a server must never start
// with part of a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::server::rdb {

inline constexpr int kVersion = 10;  // what Redis 7.0 writes; it loads 1..10

// Opcodes and value types (rdb.h).
inline constexpr unsigned char kOpFunction2 = 0xF5;
inline constexpr unsigned char kOpFunction = 0xF6;
inline constexpr unsigned char kOpModuleAux = 0xF7;
inline constexpr unsigned char kOpIdle = 0xF8;
inline constexpr unsigned char kOpFreq = 0xF9;
inline constexpr unsigned char kOpAux = 0xFA;
inline constexpr unsigned char kOpResizeDb = 0xFB;
inline constexpr unsigned char kOpExpireTimeMs = 0xFC;
inline constexpr unsigned char kOpExpireTime = 0xFD;
inline constexpr unsigned char kOpSelectDb = 0xFE;
inline constexpr unsigned char kOpEof = 0xFF;
inline constexpr unsigned char kTypeString = 0;

// CRC-64/Jones as Redis computes it: crc64(crc64(0, a), b) == crc64(0, a + b).
std::uint64_t crc64(std::uint64_t crc, const void* data, std::size_t size);

// LZF (liblzf's format, which Redis's lzf_d.c reads). compress: the compressed size, or 0 when the
// output would not fit in `out_size` bytes. decompress: the decompressed size, or 0 when the input
// is malformed or would not fit in `out_size` bytes.
std::size_t lzf_compress(const void* in, std::size_t in_size, void* out, std::size_t out_size);
std::size_t lzf_decompress(const void* in, std::size_t in_size, void* out, std::size_t out_size);

// ---- writing: each appends to `out` ----
void put_length(std::string& out, std::uint64_t length);
// Integer, LZF (with `compress`, when it pays) or plain, as Redis chooses.
void put_string(std::string& out, std::string_view s, bool compress = true);
// "REDIS0010".
void put_header(std::string& out);
void put_aux(std::string& out, std::string_view name, std::string_view value);
void put_select_db(std::string& out, std::uint64_t db);
void put_resize_db(std::string& out, std::uint64_t keys, std::uint64_t expires);
// One string key, with its deadline (ms since the epoch) when it has one.
void put_string_key(std::string& out, std::string_view key, std::string_view value,
                    std::optional<std::int64_t> deadline_ms, bool compress = true);
// EOF and the checksum: `crc` must be the CRC-64 of every byte of the file before this call's.
void put_eof(std::string& out, std::uint64_t crc);

// ---- reading ----
// Where the reader gets bytes: fills up to `size` bytes of `into`, returns how many (0: the end).
using ByteSource = std::function<std::size_t(char* into, std::size_t size)>;

struct LoadedKey {
  std::string_view key;
  std::string_view value;
  std::optional<std::int64_t> deadline_ms;
};

struct ReadResult {
  bool ok = false;
  std::string error;  // when !ok: what is wrong and where ("... at offset N")
  int version = 0;
  std::uint64_t keys = 0;                // keys passed to on_key
  std::uint64_t aux_fields = 0;          // AUX fields read (and ignored)
  std::uint64_t bytes = 0;               // bytes read
  bool checksum_verified = false;        // false when the file's checksum is 0 (not computed)
  std::optional<std::string> redis_ver;  // the AUX field, when present
};

// Reads a whole RDB file, calling on_key for every key in file order (the views are valid during
// the call only). Stops at the first problem: bad magic or version ("Can't handle RDB format
// version 11"), a value type other than string ("key 'k' holds a hash (RDB type 4); Tessera stores
// strings only"), a database other than 0, functions or module data, a truncated file, bad LZF
// data, a checksum mismatch, or bytes after EOF.
ReadResult read_file(const ByteSource& source, const std::function<void(const LoadedKey&)>& on_key);

// The name Redis's TYPE gives a value of RDB type `type` ("hash", "zset", ...; "unknown").
std::string_view type_name(unsigned type);

}  // namespace tessera::server::rdb
