// Protocol limits, as Redis 7.0 names them. Shared by the request parser (server side) and the
// reply reader (client side).
#pragma once

#include <cstddef>

namespace tessera::protocol {

// proto-max-bulk-len: the largest bulk string a request may carry. `$536870912` is accepted as a
// header, `$536870913` is "invalid bulk length".
inline constexpr std::size_t kMaxBulkLen = 512ull * 1024 * 1024;

// PROTO_INLINE_MAX_SIZE: the longest inline request line and the longest `*N` / `$N` header line,
// counted in bytes before the line's terminator. One byte more is "too big ...".
inline constexpr std::size_t kMaxInlineLen = 64 * 1024;

// The read size the parsers hand out when the caller does not ask for more (PROTO_IOBUF_LEN).
inline constexpr std::size_t kDefaultReadSize = 16 * 1024;

}  // namespace tessera::protocol
