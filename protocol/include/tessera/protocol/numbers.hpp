// Integer parsing with exactly Redis's rules (util.c string2ll), for protocol headers and for the
// commands that take integer arguments ("value is not an integer or out of range").
#pragma once

#include <cstdint>
#include <string_view>

namespace tessera::protocol {

// Parses a signed 64-bit decimal. Accepts what Redis's string2ll accepts and nothing else: an
// optional '-', then "0" alone or a digit 1-9 followed by digits; no spaces, no '+', no leading
// zeros, no "-0", at most 20 characters, no overflow. Returns false (and leaves `value` alone) on
// anything else, including the empty string.
bool parse_int64(std::string_view s, std::int64_t& value) noexcept;

}  // namespace tessera::protocol
