// What the protocol fuzzers share: the trap that reports a violated property, and the split of an
// input into pieces (the "same outcome whole and split" property every parser target checks).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::fuzz {

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

// Every target's input: one config byte, then the data. False for an empty input (nothing to do).
inline bool split_config(const std::uint8_t* bytes, std::size_t size, std::uint8_t& config,
                         std::string_view& data) {
  if (size == 0) return false;
  config = bytes[0];
  data = std::string_view(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  return true;
}

// Hands `data` to feed(piece) in consecutive pieces: whole when split_seed is 0, otherwise in
// pieces of 1 to 37 bytes drawn from an LCG seeded with split_seed. After each piece, drain(fed)
// runs (fed: bytes handed over so far) and returns false to stop early (an error).
template <class Feed, class Drain>
void feed_in_pieces(std::string_view data, std::uint32_t split_seed, Feed feed, Drain drain) {
  std::size_t at = 0;
  std::uint32_t rng = split_seed;
  for (;;) {
    std::size_t n = data.size() - at;
    if (split_seed != 0 && n != 0) {
      rng = rng * 1664525u + 1013904223u;
      n = std::min<std::size_t>(n, 1 + (rng >> 24) % 37);
    }
    if (n != 0) feed(data.substr(at, n));
    at += n;
    if (!drain(at) || at == data.size()) return;
  }
}

// The outcome of a run ends with "E:" and the error text when the stream was refused; the text
// must say something. Returns false: the run stops there.
inline bool record_error(std::string& transcript, std::string_view error) {
  require(!error.empty());
  transcript += "E:";
  transcript.append(error);
  return false;
}

// run(split_seed) parses the data fed whole (seed 0) or in pieces and returns its outcome as one
// string; the two must be equal. The split seed comes from the config byte's bits above bit 0.
template <class Run>
void require_same_whole_and_split(std::uint8_t config, Run run) {
  const std::string whole = run(std::uint32_t{0});
  require(whole == run(static_cast<std::uint32_t>((config >> 1) + 1u)));
}

}  // namespace tessera::fuzz
