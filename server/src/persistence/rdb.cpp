// The RDB codec (design note in tessera/server/persistence/rdb.hpp).
#include <tessera/server/persistence/rdb.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

namespace tessera::server::rdb {

namespace {

// ---- CRC-64/Jones, slice-by-8 (the same sums as Redis's crcspeed tables) ----
constexpr std::uint64_t kCrcPolyReflected = 0x95ac9329ac4bc9b5ULL;  // 0xad93d23594c935a9 reflected

struct CrcTables {
  std::array<std::array<std::uint64_t, 256>, 8> t{};
  CrcTables() {
    for (unsigned i = 0; i < 256; ++i) {
      std::uint64_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrcPolyReflected : c >> 1;
      t[0][i] = c;
    }
    for (unsigned i = 0; i < 256; ++i) {
      for (unsigned k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    }
  }
};
const CrcTables& crc_tables() {
  static const CrcTables tables;
  return tables;
}

std::uint64_t load_le64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Redis's rdbTryIntegerEncoding: the text is the canonical decimal of an int64 (no sign on zero,
// no '+', no leading zeros, no spaces) that fits in 32 bits.
std::optional<std::int32_t> as_encodable_integer(std::string_view s) {
  if (s.empty() || s.size() > 11) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  if (std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)) != s) return std::nullopt;
  if (v < INT32_MIN || v > INT32_MAX) return std::nullopt;
  return static_cast<std::int32_t>(v);
}

// ---- the buffered input of the reader, with the running checksum of the bytes consumed ----
class Input {
 public:
  explicit Input(const ByteSource& source) : source_(source), buf_(kBufferBytes) {}

  // Copies exactly `n` bytes; false at a premature end.
  bool read(void* into, std::size_t n) {
    auto* dst = static_cast<char*>(into);
    while (n > 0) {
      if (pos_ == end_ && !refill()) return false;
      const std::size_t k = std::min(n, end_ - pos_);
      std::memcpy(dst, buf_.data() + pos_, k);
      pos_ += k;
      dst += k;
      n -= k;
    }
    return true;
  }
  // Appends exactly `n` bytes to `s`, growing it as the bytes arrive (a corrupt length in a short
  // file fails at the end of the file, not at an allocation of the length it claims).
  bool append(std::string& s, std::uint64_t n) {
    while (n > 0) {
      if (pos_ == end_ && !refill()) return false;
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - pos_));
      s.append(buf_.data() + pos_, k);
      pos_ += k;
      n -= k;
    }
    return true;
  }
  bool byte(unsigned char& b) { return read(&b, 1); }
  // The checksum of every byte consumed so far.
  std::uint64_t crc() {
    sum_consumed();
    return crc_;
  }
  std::uint64_t offset() const { return consumed_before_ + pos_; }

 private:
  static constexpr std::size_t kBufferBytes = 1 << 20;

  void sum_consumed() {
    crc_ = crc64(crc_, buf_.data() + summed_, pos_ - summed_);
    summed_ = pos_;
  }
  bool refill() {
    sum_consumed();
    consumed_before_ += end_;
    pos_ = end_ = summed_ = 0;
    end_ = source_(buf_.data(), buf_.size());
    return end_ > 0;
  }

  const ByteSource& source_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, end_ = 0, summed_ = 0;
  std::uint64_t consumed_before_ = 0;
  std::uint64_t crc_ = 0;
};

// Thrown inside the reader only; read_file turns it into ReadResult::error.
struct Corrupt {
  std::string what;
};

class Reader {
 public:
  explicit Reader(const ByteSource& source) : in_(source) {}

  [[noreturn]] void fail(std::string what) {
    throw Corrupt{what + " at offset " + std::to_string(in_.offset())};
  }
  unsigned char byte() {
    unsigned char b = 0;
    if (!in_.byte(b)) fail("Unexpected end of file");
    return b;
  }
  void read(void* into, std::size_t n) {
    if (!in_.read(into, n)) fail("Unexpected end of file");
  }
  std::uint64_t le(int bytes) {
    unsigned char b[8] = {};
    read(b, static_cast<std::size_t>(bytes));
    std::uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::uint64_t be(int bytes) {
    unsigned char b[8] = {};
    read(b, static_cast<std::size_t>(bytes));
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | b[i];
    return v;
  }
  // A length, or (encoded == true) the special encoding number of a string.
  std::uint64_t length(bool* encoded = nullptr) {
    const unsigned char b = byte();
    if (encoded != nullptr) *encoded = false;
    switch (b >> 6) {
      case 0:
        return b & 0x3F;
      case 1:
        return (static_cast<std::uint64_t>(b & 0x3F) << 8) | byte();
      case 2:
        if (b == 0x80) return be(4);
        if (b == 0x81) return be(8);
        fail("Unknown length encoding " + std::to_string(b));
      default:
        if (encoded == nullptr) fail("Unexpected encoded length");
        *encoded = true;
        return b & 0x3F;
    }
  }
  // A string in any of Redis's encodings, into `s` (replaced).
  void string(std::string& s) {
    s.clear();
    bool encoded = false;
    const std::uint64_t n = length(&encoded);
    if (!encoded) {
      if (!in_.append(s, n)) fail("Unexpected end of file");
      return;
    }
    switch (n) {
      case 0:
        s = std::to_string(static_cast<std::int8_t>(le(1)));
        return;
      case 1:
        s = std::to_string(static_cast<std::int16_t>(le(2)));
        return;
      case 2:
        s = std::to_string(static_cast<std::int32_t>(le(4)));
        return;
      case 3: {
        const std::uint64_t compressed = length();
        const std::uint64_t original = length();
        if (original > std::numeric_limits<std::uint32_t>::max()) fail("LZF string too long");
        lzf_in_.clear();
        if (!in_.append(lzf_in_, compressed)) fail("Unexpected end of file");
        s.resize(static_cast<std::size_t>(original));
        if (original != 0 &&
            lzf_decompress(lzf_in_.data(), lzf_in_.size(), s.data(), s.size()) != original) {
          fail("Invalid LZF compressed string");
        }
        return;
      }
      default:
        fail("Unknown RDB string encoding type " + std::to_string(n));
    }
  }

  ReadResult run(const std::function<void(const LoadedKey&)>& on_key) {
    ReadResult r;
    char magic[9];
    read(magic, sizeof magic);
    if (std::memcmp(magic, "REDIS", 5) != 0) fail("Wrong signature trying to load DB from file");
    int version = 0;
    for (int i = 5; i < 9; ++i) {
      if (magic[i] < '0' || magic[i] > '9') fail("Wrong signature trying to load DB from file");
      version = version * 10 + (magic[i] - '0');
    }
    if (version < 1 || version > kVersion) {
      fail("Can't handle RDB format version " + std::to_string(version));
    }
    r.version = version;
    std::optional<std::int64_t> deadline;
    std::uint64_t db = 0;
    std::string key, value, aux_name;
    for (;;) {
      const unsigned char type = byte();
      switch (type) {
        case kOpExpireTimeMs:
          deadline = static_cast<std::int64_t>(le(8));
          continue;
        case kOpExpireTime:
          deadline = static_cast<std::int64_t>(static_cast<std::int32_t>(le(4))) * 1000;
          continue;
        case kOpFreq:
          byte();
          continue;
        case kOpIdle:
          length();
          continue;
        case kOpSelectDb:
          db = length();
          continue;
        case kOpResizeDb:
          length();
          length();
          continue;
        case kOpAux:
          string(aux_name);
          string(value);
          if (aux_name == "redis-ver") r.redis_ver = value;
          ++r.aux_fields;
          continue;
        case kOpModuleAux:
          fail("The file holds module data, which Tessera cannot load");
        case kOpFunction:
        case kOpFunction2:
          fail("The file holds functions (FUNCTION LOAD), which Tessera cannot load");
        case kOpEof:
          break;
        default: {
          string(key);
          if (type != kTypeString) {
            fail("Key '" + key + "' holds a " + std::string(type_name(type)) + " (RDB type " +
                 std::to_string(type) + "); Tessera stores strings only");
          }
          if (db != 0) {
            fail("Key '" + key + "' is in database " + std::to_string(db) +
                 "; Tessera has database 0 only");
          }
          string(value);
          on_key(LoadedKey{key, value, deadline});
          ++r.keys;
          deadline.reset();
          continue;
        }
      }
      break;  // EOF
    }
    if (version >= 5) {
      const std::uint64_t expected = in_.crc();
      const std::uint64_t got = le(8);
      if (got != 0 && got != expected) {
        char text[128];
        std::snprintf(text, sizeof text, "Wrong RDB checksum expected: (%llx) got: (%llx)",
                      static_cast<unsigned long long>(got),
                      static_cast<unsigned long long>(expected));
        fail(text);
      }
      r.checksum_verified = got != 0;
    }
    r.bytes = in_.offset();
    r.ok = true;
    return r;
  }

 private:
  Input in_;
  std::string lzf_in_;
};

}  // namespace

std::uint64_t crc64(std::uint64_t crc, const void* data, std::size_t size) {
  const auto& t = crc_tables().t;
  const auto* p = static_cast<const unsigned char*>(data);
  while (size >= 8) {
    crc ^= load_le64(p);
    crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^
          t[4][(crc >> 24) & 0xff] ^ t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^
          t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

// A greedy LZF encoder: a hash of the next three bytes finds the last position they occurred at
// (within LZF's 8 KiB window); a match of 3..264 bytes becomes a back reference, anything else a
// literal run of up to 32 bytes. The table is tagged with a per-call epoch, so no call clears it.
std::size_t lzf_compress(const void* in, std::size_t in_size, void* out, std::size_t out_size) {
  constexpr unsigned kHashBits = 12;
  constexpr std::size_t kMaxOffset = 1 << 13;
  constexpr std::size_t kMaxMatch = (1 << 8) + (1 << 3);
  constexpr std::size_t kMaxLiteral = 1 << 5;
  thread_local std::vector<std::uint64_t> table(std::size_t{1} << kHashBits);
  thread_local std::uint64_t epoch = 0;
  if (in_size == 0 || in_size > std::numeric_limits<std::uint32_t>::max()) return 0;
  ++epoch;
  const auto* ip = static_cast<const unsigned char*>(in);
  auto* op = static_cast<unsigned char*>(out);
  unsigned char* const op_end = op + out_size;
  std::size_t lit_start = 0;
  const auto flush_literals = [&](std::size_t upto) {
    while (lit_start < upto) {
      const std::size_t k = std::min(kMaxLiteral, upto - lit_start);
      if (static_cast<std::size_t>(op_end - op) < k + 1) return false;
      *op++ = static_cast<unsigned char>(k - 1);
      std::memcpy(op, ip + lit_start, k);
      op += k;
      lit_start += k;
    }
    return true;
  };
  std::size_t i = 0;
  while (i + 2 < in_size) {
    const std::uint32_t three =
        (std::uint32_t{ip[i]} << 16) | (std::uint32_t{ip[i + 1]} << 8) | ip[i + 2];
    const std::size_t h = (three * 2654435761u) >> (32 - kHashBits);
    const std::uint64_t slot = table[h];
    table[h] = (epoch << 32) | i;
    const std::size_t cand = static_cast<std::uint32_t>(slot);
    if ((slot >> 32) == (epoch & 0xffffffffu) && cand < i && i - cand <= kMaxOffset &&
        std::memcmp(ip + cand, ip + i, 3) == 0) {
      const std::size_t limit = std::min(kMaxMatch, in_size - i);
      std::size_t len = 3;
      while (len < limit && ip[cand + len] == ip[i + len]) ++len;
      if (!flush_literals(i)) return 0;
      const std::size_t off = i - cand - 1;
      const std::size_t l = len - 2;
      if (static_cast<std::size_t>(op_end - op) < (l < 7 ? 2u : 3u)) return 0;
      if (l < 7) {
        *op++ = static_cast<unsigned char>((l << 5) | (off >> 8));
      } else {
        *op++ = static_cast<unsigned char>((7 << 5) | (off >> 8));
        *op++ = static_cast<unsigned char>(l - 7);
      }
      *op++ = static_cast<unsigned char>(off & 0xff);
      i += len;
      lit_start = i;
    } else {
      ++i;
    }
  }
  if (!flush_literals(in_size)) return 0;
  return static_cast<std::size_t>(op - static_cast<unsigned char*>(out));
}

// Redis's lzf_d.c, with its bounds checks.
std::size_t lzf_decompress(const void* in, std::size_t in_size, void* out, std::size_t out_size) {
  const auto* ip = static_cast<const unsigned char*>(in);
  const unsigned char* const in_end = ip + in_size;
  auto* const out_start = static_cast<unsigned char*>(out);
  unsigned char* op = out_start;
  unsigned char* const out_end = op + out_size;
  while (ip < in_end) {
    std::size_t ctrl = *ip++;
    if (ctrl < (1 << 5)) {
      ++ctrl;
      if (static_cast<std::size_t>(out_end - op) < ctrl) return 0;
      if (static_cast<std::size_t>(in_end - ip) < ctrl) return 0;
      std::memcpy(op, ip, ctrl);
      op += ctrl;
      ip += ctrl;
    } else {
      std::size_t len = ctrl >> 5;
      std::size_t back = (ctrl & 0x1f) << 8;
      if (ip >= in_end) return 0;
      if (len == 7) {
        len += *ip++;
        if (ip >= in_end) return 0;
      }
      back += *ip++;
      len += 2;
      if (static_cast<std::size_t>(out_end - op) < len) return 0;
      if (static_cast<std::size_t>(op - out_start) < back + 1) return 0;
      const unsigned char* ref = op - back - 1;
      for (std::size_t k = 0; k < len; ++k) *op++ = *ref++;  // may overlap: byte by byte
    }
  }
  return static_cast<std::size_t>(op - out_start);
}

void put_length(std::string& out, std::uint64_t length) {
  if (length < (1 << 6)) {
    out.push_back(static_cast<char>(length));
  } else if (length < (1 << 14)) {
    out.push_back(static_cast<char>(0x40 | (length >> 8)));
    out.push_back(static_cast<char>(length & 0xff));
  } else if (length <= std::numeric_limits<std::uint32_t>::max()) {
    out.push_back(static_cast<char>(0x80));
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  } else {
    out.push_back(static_cast<char>(0x81));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  }
}

void put_string(std::string& out, std::string_view s, bool compress) {
  if (const auto v = as_encodable_integer(s)) {
    if (*v >= INT8_MIN && *v <= INT8_MAX) {
      out.push_back(static_cast<char>(0xC0));
      put_le(out, static_cast<std::uint8_t>(*v), 1);
    } else if (*v >= INT16_MIN && *v <= INT16_MAX) {
      out.push_back(static_cast<char>(0xC1));
      put_le(out, static_cast<std::uint16_t>(*v), 2);
    } else {
      out.push_back(static_cast<char>(0xC2));
      put_le(out, static_cast<std::uint32_t>(*v), 4);
    }
    return;
  }
  // rdbSaveLzfStringObject: only strings over 20 bytes, and only when the result is at least 5
  // bytes shorter (its output buffer is len - 4 bytes).
  if (compress && s.size() > 20) {
    const std::size_t mark = out.size();
    std::string packed(s.size() - 4, '\0');
    if (const std::size_t n = lzf_compress(s.data(), s.size(), packed.data(), packed.size())) {
      out.push_back(static_cast<char>(0xC3));
      put_length(out, n);
      put_length(out, s.size());
      out.append(packed.data(), n);
      return;
    }
    out.resize(mark);
  }
  put_length(out, s.size());
  out.append(s);
}

void put_header(std::string& out) {
  char magic[16];
  std::snprintf(magic, sizeof magic, "REDIS%04d", kVersion);
  out.append(magic, 9);
}

void put_aux(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(static_cast<char>(kOpAux));
  put_string(out, name, false);
  put_string(out, value, false);
}

void put_select_db(std::string& out, std::uint64_t db) {
  out.push_back(static_cast<char>(kOpSelectDb));
  put_length(out, db);
}

void put_resize_db(std::string& out, std::uint64_t keys, std::uint64_t expires) {
  out.push_back(static_cast<char>(kOpResizeDb));
  put_length(out, keys);
  put_length(out, expires);
}

void put_string_key(std::string& out, std::string_view key, std::string_view value,
                    std::optional<std::int64_t> deadline_ms, bool compress) {
  if (deadline_ms) {
    out.push_back(static_cast<char>(kOpExpireTimeMs));
    put_le(out, static_cast<std::uint64_t>(*deadline_ms), 8);
  }
  out.push_back(static_cast<char>(kTypeString));
  put_string(out, key, compress);
  put_string(out, value, compress);
}

void put_eof(std::string& out, std::uint64_t crc) {
  const char eof = static_cast<char>(kOpEof);
  crc = crc64(crc, &eof, 1);
  out.push_back(eof);
  put_le(out, crc, 8);
}

ReadResult read_file(const ByteSource& source,
                     const std::function<void(const LoadedKey&)>& on_key) {
  Reader reader(source);
  try {
    return reader.run(on_key);
  } catch (const Corrupt& c) {
    ReadResult r;
    r.error = c.what;
    return r;
  }
}

std::string_view type_name(unsigned type) {
  switch (type) {
    case 0:
      return "string";
    case 1:   // list
    case 10:  // list ziplist
    case 14:  // quicklist
    case 18:  // quicklist 2
      return "list";
    case 2:   // set
    case 11:  // intset
    case 20:  // set listpack (7.2)
      return "set";
    case 3:   // zset
    case 5:   // zset 2
    case 12:  // zset ziplist
    case 17:  // zset listpack
      return "zset";
    case 4:   // hash
    case 9:   // hash zipmap
    case 13:  // hash ziplist
    case 16:  // hash listpack
      return "hash";
    case 6:
    case 7:
      return "module";
    case 15:
    case 19:
    case 21:
      return "stream";
    default:
      return "unknown";
  }
}

}  // namespace tessera::server::rdb
