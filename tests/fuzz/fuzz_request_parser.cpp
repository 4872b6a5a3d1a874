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

#include "fuzz_support.hpp"
#include "tessera/protocol/reply_writer.hpp"
#include "tessera/protocol/request_parser.hpp"

namespace {

using tessera::fuzz::require;

using tessera::protocol::ParserLimits;
using tessera::protocol::RequestParser;

// The outcome as one string: each command as its count and length-prefixed arguments, then the
// error text.
std::string run(std::string_view data, const ParserLimits& limits, bool unauthenticated,
                std::uint32_t split_seed, std::vector<std::string>* multibulk_commands) {
  RequestParser parser(limits);
  parser.set_unauthenticated(unauthenticated);
  std::string transcript;
  std::vector<std::string_view> argv;
  auto feed = [&](std::string_view piece) {
    const auto span = parser.prepare(piece.size());
    require(span.size() >= piece.size());
    std::memcpy(span.data(), piece.data(), piece.size());
    parser.commit(piece.size());
    require(parser.capacity() <= 2 * data.size() + 2 * tessera::protocol::kDefaultReadSize);
  };
  auto drain = [&](std::size_t fed) {
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
      return tessera::fuzz::record_error(transcript, parser.error());
    }
    require(parser.buffered() <= fed);
    return true;
  };
  tessera::fuzz::feed_in_pieces(data, split_seed, feed, drain);
  return transcript;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::uint8_t config = 0;
  std::string_view data;
  if (!tessera::fuzz::split_config(bytes, size, config, data)) return 0;
  ParserLimits limits;
  if (config & 1) {
    limits.max_bulk_len = 16;
    limits.max_inline_len = 24;
    limits.max_args = 4;
  }
  std::vector<std::string> reencoded;
  const bool unauthenticated = (config & 2) != 0;
  tessera::fuzz::require_same_whole_and_split(config, [&](std::uint32_t seed) {
    return run(data, limits, unauthenticated, seed, seed == 0 ? &reencoded : nullptr);
  });
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
