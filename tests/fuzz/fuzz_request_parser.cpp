// libFuzzer target for RequestParser.
//
// Input: one config byte, then the bytes a client sends. Bit 0 picks tiny limits (so every limit
// path is reachable with short inputs), bit 1 the pre-authentication limits; the bits above bit 0
// seed the split of the input into pieces.
// Properties checked (a violation traps, on top of ASan/UBSan):
//  - the outcome (commands and error) is the same whole and split into arbitrary pieces;
//  - every command respects the limits (argument count, argument length) and is not empty;
//  - every multibulk command re-encoded with write_command parses back to itself;
//  - the buffer never grows beyond about twice what was sent plus one read.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/reply_writer.hpp"
#include "tessera/protocol/request_parser.hpp"

namespace {

using tessera::protocol::ParserLimits;
using tessera::protocol::RequestParser;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

// The outcome as one string: each command as its count and length-prefixed arguments, then the
// error text.
std::string run(std::string_view data, const ParserLimits& limits, bool unauthenticated,
                std::uint32_t split_seed, std::vector<std::string>* multibulk_commands) {
  RequestParser parser(limits);
  parser.set_unauthenticated(unauthenticated);
  std::string transcript;
  std::vector<std::string_view> argv;
  std::size_t at = 0;
  std::uint32_t rng = split_seed;
  for (;;) {
    std::size_t n = data.size() - at;
    if (split_seed != 0 && n != 0) {
      rng = rng * 1664525u + 1013904223u;
      n = std::min<std::size_t>(n, 1 + (rng >> 24) % 37);
    }
    if (n != 0) {
      const auto span = parser.prepare(n);
      require(span.size() >= n);
      std::memcpy(span.data(), data.data() + at, n);
      parser.commit(n);
      require(parser.capacity() <= 2 * data.size() + 2 * tessera::protocol::kDefaultReadSize);
    }
    at += n;
    RequestParser::Status status;
    while ((status = parser.next(argv)) == RequestParser::Status::kCommand) {
      require(!argv.empty() && argv.size() <= limits.max_args);
      transcript += std::to_string(argv.size()) + ":";
      for (const std::string_view a : argv) {
        // A bulk is capped by max_bulk_len, an inline word by its line.
        require(a.size() <= std::max(limits.max_bulk_len, limits.max_inline_len));
        transcript += std::to_string(a.size()) + ":";
        transcript.append(a);
      }
      if (multibulk_commands != nullptr) {
        std::string encoded;
        tessera::protocol::write_command(encoded, argv);
        multibulk_commands->push_back(std::move(encoded));
      }
    }
    if (status == RequestParser::Status::kError) {
      transcript += "E:";
      transcript.append(parser.error());
      require(!parser.error().empty());
      break;
    }
    require(parser.buffered() <= at);
    if (at == data.size()) break;
  }
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t config = bytes[0];
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  ParserLimits limits;
  if (config & 1) {
    limits.max_bulk_len = 16;
    limits.max_inline_len = 24;
    limits.max_args = 4;
  }
  std::vector<std::string> reencoded;
  const bool unauthenticated = (config & 2) != 0;
  const std::string whole = run(data, limits, unauthenticated, 0, &reencoded);
  const std::string split = run(data, limits, unauthenticated, (config >> 1) + 1u, nullptr);
  require(whole == split);
  // Every command, re-encoded as a multibulk, parses back to the same arguments (an inline word
  // may be longer than max_bulk_len, and a long bulk header than a tiny line limit).
  for (const std::string& encoded : reencoded) {
    ParserLimits roomy = limits;
    roomy.max_inline_len = tessera::protocol::kMaxInlineLen;
    roomy.max_bulk_len = std::max(limits.max_bulk_len, limits.max_inline_len);
    RequestParser parser(roomy);
    parser.feed(encoded);
    std::vector<std::string_view> argv;
    require(parser.next(argv) == RequestParser::Status::kCommand);
    std::string again;
    tessera::protocol::write_command(again, argv);
    require(again == encoded);
    require(parser.next(argv) == RequestParser::Status::kNeedMore);
  }
  return 0;
}
