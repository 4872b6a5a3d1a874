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

#include "fuzz_support.hpp"
#include "tessera/protocol/reply_reader.hpp"

namespace {

using tessera::fuzz::require;

using tessera::protocol::ReaderLimits;
using tessera::protocol::Reply;
using tessera::protocol::ReplyReader;

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
  auto feed = [&](std::string_view piece) { reader.feed(piece); };
  auto drain = [&](std::size_t) {
    ReplyReader::Status status;
    while ((status = reader.next(reply)) == ReplyReader::Status::kReply) {
      check_limits(reply, limits, 0);
      encode(reply, transcript);
      transcript += "|";
      if (replies != nullptr) replies->push_back(std::move(reply));
    }
    return status != ReplyReader::Status::kError ||
           tessera::fuzz::record_error(transcript, reader.error());
  };
  tessera::fuzz::feed_in_pieces(data, split_seed, feed, drain);
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::uint8_t config = 0;
  std::string_view data;
  if (!tessera::fuzz::split_config(bytes, size, config, data)) return 0;
  ReaderLimits limits;
  if (config & 1) {
    limits.max_bulk_len = 16;
    limits.max_elements = 4;
    limits.max_depth = 3;
    limits.max_line = 24;
  }
  std::vector<Reply> replies;
  tessera::fuzz::require_same_whole_and_split(config, [&](std::uint32_t seed) {
    return run(data, limits, seed, seed == 0 ? &replies : nullptr);
  });
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
