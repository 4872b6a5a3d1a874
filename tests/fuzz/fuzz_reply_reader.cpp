// libFuzzer target for ReplyReader.
//
// Input: one config byte, then the bytes a server sends. Bit 0 picks tiny limits; the other bits
// seed the split of the input into pieces. Properties checked (a violation traps, on top of
// ASan/UBSan):
//  - the outcome (replies and error) is the same whole and split into arbitrary pieces;
//  - every reply respects the limits (depth, elements, bulk length);
//  - every reply re-encoded as RESP2 reads back to an equal reply.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/reply_reader.hpp"

namespace {

using tessera::protocol::ReaderLimits;
using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// Plain RESP2 encoding, byte-exact for what the reader accepts (simple strings and errors hold
// no '\r', since the reader ends a line at the first one).
void encode(const Reply& r, std::string& out) {
  switch (r.type) {
    case Reply::Type::kSimple:
      out += "+" + r.str + "\r\n";
      break;
    case Reply::Type::kError:
      out += "-" + r.str + "\r\n";
      break;
    case Reply::Type::kInteger:
      out += ":" + std::to_string(r.integer) + "\r\n";
      break;
    case Reply::Type::kBulk:
      out += "$" + std::to_string(r.str.size()) + "\r\n" + r.str + "\r\n";
      break;
    case Reply::Type::kNull:
      out += "$-1\r\n";
      break;
    case Reply::Type::kNullArray:
      out += "*-1\r\n";
      break;
    case Reply::Type::kArray:
      out += "*" + std::to_string(r.elements.size()) + "\r\n";
      for (const Reply& e : r.elements) encode(e, out);
      break;
  }
}

void check_limits(const Reply& r, const ReaderLimits& limits, std::size_t depth) {
  require(r.str.size() <= limits.max_bulk_len || r.type != Reply::Type::kBulk);
  if (r.type == Reply::Type::kArray) {
    require(depth < limits.max_depth || r.elements.empty());  // max_depth bounds the stack
    require(r.elements.size() <= limits.max_elements);
    for (const Reply& e : r.elements) check_limits(e, limits, depth + 1);
  } else {
    require(r.elements.empty());
  }
}

std::string run(std::string_view data, const ReaderLimits& limits, std::uint32_t split_seed,
                std::vector<Reply>* replies) {
  ReplyReader reader(limits);
  std::string transcript;
  Reply reply;
  std::size_t at = 0;
  std::uint32_t rng = split_seed;
  for (;;) {
    std::size_t n = data.size() - at;
    if (split_seed != 0 && n != 0) {
      rng = rng * 1664525u + 1013904223u;
      n = std::min<std::size_t>(n, 1 + (rng >> 24) % 37);
    }
    reader.feed(data.substr(at, n));
    at += n;
    ReplyReader::Status status;
    while ((status = reader.next(reply)) == ReplyReader::Status::kReply) {
      check_limits(reply, limits, 0);
      encode(reply, transcript);
      transcript += "|";
      if (replies != nullptr) replies->push_back(std::move(reply));
    }
    if (status == ReplyReader::Status::kError) {
      require(!reader.error().empty());
      transcript += "E:";
      transcript.append(reader.error());
      break;
    }
    if (at == data.size()) break;
  }
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  ReaderLimits limits;
  if (config & 1) {
    limits.max_bulk_len = 16;
    limits.max_elements = 4;
    limits.max_depth = 3;
    limits.max_line = 24;
  }
  std::vector<Reply> replies;
  const std::string whole = run(data, limits, 0, &replies);
  const std::string split = run(data, limits, (config >> 1) + 1u, nullptr);
  require(whole == split);
  for (const Reply& r : replies) {
    std::string encoded;
    encode(r, encoded);
    ReplyReader reader;  // default limits: the re-encoded lines may be longer than the tiny ones
    reader.feed(encoded);
    Reply back;
    require(reader.next(back) == ReplyReader::Status::kReply);
    require(back == r);
    require(reader.next(back) == ReplyReader::Status::kNeedMore);
  }
  return 0;
}
