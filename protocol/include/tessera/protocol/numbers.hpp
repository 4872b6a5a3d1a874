// Numbers as Redis 7.0 reads and writes them (util.c), for protocol headers and for the commands
// that take or return numbers. Kept byte-for-byte compatible because clients see the verdicts as
// errors and the texts as replies:
//   parse_int64          string2ll   integer arguments, lengths ("value is not an integer ...")
//   parse_long_double    string2ld   INCRBYFLOAT's arguments and values ("not a valid float")
//   format_long_double   ld2string(LD_STR_HUMAN)   INCRBYFLOAT's result and stored value
//   format_double        addReplyDouble's "%.17g"  double replies (RESP3 `,`, RESP2 bulk)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tessera::protocol {

// Parses a signed 64-bit decimal. Accepts what Redis's string2ll accepts and nothing else: an
// optional '-', then "0" alone or a digit 1-9 followed by digits; no spaces, no '+', no leading
// zeros, no "-0", at most 20 characters, no overflow. Returns false (and leaves `value` alone) on
// anything else, including the empty string.
bool parse_int64(std::string_view s, std::int64_t& value) noexcept;

// string2ld: strtold in the C locale over the whole string. Accepts what strtold accepts
// ("+3", ".5", "5.", "1e10", "0x10", "inf", "-Infinity"), and refuses: the empty string, a string
// of 5120 bytes or more (MAX_LONG_DOUBLE_CHARS), a leading blank, anything after the number
// (trailing blanks, a NUL byte), NaN, an overflow (1e5000) and an underflow to zero (1e-5000).
// Infinity is accepted: INCRBYFLOAT refuses it after the addition ("increment would produce NaN
// or Infinity"). Returns false and leaves `value` alone when refused.
bool parse_long_double(std::string_view s, long double& value) noexcept;

// ld2string(LD_STR_HUMAN): "%.17Lf", then trailing zeros after the '.' removed, then the '.' if
// nothing follows it; "-0" becomes "0"; infinities are "inf" and "-inf". E.g. 10.6L -> "10.6",
// 3003.3L -> "3003.30000000000000004", 1e20L -> "100000000000000000000". The text of the largest
// long double has about 4950 characters.
std::string format_long_double(long double value);

// The text of a double reply, as Redis 7.0's addReplyDouble writes it: "%.17g" ("1.5",
// "0.10000000000000001", "1.0000000000000001e+300", "3", "-0"), with infinities as "inf" and
// "-inf", and NaN as glibc's "%.17g" writes it: "nan", or "-nan" with the sign bit set (what
// x86's 0/0 gives; Redis 7.0.15 sends ",-nan" for a Lua script's {double=0/0}).
// Writes at most kMaxDoubleChars bytes to `buf` and returns how many.
inline constexpr std::size_t kMaxDoubleChars = 32;
std::size_t format_double(double value, char (&buf)[kMaxDoubleChars]) noexcept;
std::string format_double(double value);

}  // namespace tessera::protocol
