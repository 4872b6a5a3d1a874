// libFuzzer target for ReplyReader (RESP2 and RESP3).
//
// Input: one config byte, then the bytes a server sends. Bit 0 picks tiny limits; the other bits
// seed the split of the input into pieces. Properties checked (a violation traps, on top of
// ASan/UBSan):
//  - the outcome (replies and error) is the same whole and split into arbitrary pieces;
//  - every reply respects the limits (depth, elements, bulk length);
//  - every reply re-encoded (RESP3's counted forms; streamed ones read back as counted) reads back
//    to an equal reply.
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

// Plain RESP2/RESP3 encoding (counted forms, never streamed), byte-exact for what the reader
// accepts: simple strings hold no '\r' (the reader ends a line at the first one), and an error
// that holds a CR or LF came as a blob error. An attribute is written before its value.
void encode(const Reply& r, std::string& out) {
  auto count = [&out](char type, std::size_t n) { out += type + std::to_string(n) + "\r\n"; };
  auto blob = [&](char type, std::string_view body) {
    count(type, body.size());
    out.append(body);
    out += "\r\n";
  };
  auto elements = [&](char type, const std::vector<Reply>& e, std::size_t n) {
    count(type, n);
    for (const Reply& x : e) encode(x, out);
  };
  if (!r.attributes.empty()) elements('|', r.attributes, r.attributes.size() / 2);
  switch (r.type) {
    case Reply::Type::kSimple:
      out += "+" + r.str + "\r\n";
      break;
    case Reply::Type::kError:
      if (r.str.find_first_of("\r\n") == std::string::npos) {
        out += "-" + r.str + "\r\n";
      } else {
        blob('!', r.str);
      }
      break;
    case Reply::Type::kInteger:
      out += ":" + std::to_string(r.integer) + "\r\n";
      break;
    case Reply::Type::kBulk:
      blob('$', r.str);
      break;
    case Reply::Type::kNull:
      out += "_\r\n";
      break;
    case Reply::Type::kNullArray:
      out += "*-1\r\n";
      break;
    case Reply::Type::kDouble:
      out += "," + r.str + "\r\n";
      break;
    case Reply::Type::kBoolean:
      out += r.integer != 0 ? "#t\r\n" : "#f\r\n";
      break;
    case Reply::Type::kBigNumber:
      out += "(" + r.str + "\r\n";
      break;
    case Reply::Type::kVerbatim:
      blob('=', r.format + ":" + r.str);
      break;
    case Reply::Type::kArray:
      elements('*', r.elements, r.elements.size());
      break;
    case Reply::Type::kSet:
      elements('~', r.elements, r.elements.size());
      break;
    case Reply::Type::kPush:
      elements('>', r.elements, r.elements.size());
      break;
    case Reply::Type::kMap:
      elements('%', r.elements, r.elements.size() / 2);
      break;
    case Reply::Type::kAttribute:
      require(false);  // never returned: an attribute goes with the value after it
      break;
  }
}

// Every aggregate (attributes included) within max_elements and max_depth, every blob within
// max_bulk_len, maps with whole pairs, a verbatim format of 3 bytes.
void check_limits(const Reply& r, const ReaderLimits& limits, std::size_t depth) {
  auto aggregate = [&](const std::vector<Reply>& e) {
    require(depth < limits.max_depth || e.empty());  // max_depth bounds the stack
    require(e.size() <= limits.max_elements);
    for (const Reply& x : e) check_limits(x, limits, depth + 1);
  };
  require(r.attributes.size() % 2 == 0);
  aggregate(r.attributes);
  if (r.is_aggregate()) {
    require(r.type != Reply::Type::kMap || r.elements.size() % 2 == 0);
    aggregate(r.elements);
  } else {
    require(r.elements.empty());
  }
  if (r.type == Reply::Type::kBulk || r.type == Reply::Type::kVerbatim) {
    require(r.str.size() <= limits.max_bulk_len);
  }
  require(r.type != Reply::Type::kVerbatim || r.format.size() == 3);
  require(r.type != Reply::Type::kBoolean || r.integer == 0 || r.integer == 1);
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
