// SHA-256 (FIPS 180-4), for passwords: AUTH compares the digest of what the client sent with the
// digest of the configured password, in constant time over the fixed 32 bytes, so that neither the
// password's length nor the position of the first wrong byte shows in the time taken (Redis keeps
// and compares SHA-256 digests the same way, acl.c).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tessera::server {

using Sha256Digest = std::array<std::uint8_t, 32>;

Sha256Digest sha256(std::string_view data);

// True when a == b; the time taken does not depend on where they differ.
bool digests_equal(const Sha256Digest& a, const Sha256Digest& b);

}  // namespace tessera::server
