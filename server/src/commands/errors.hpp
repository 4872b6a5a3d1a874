// The server's own error texts (without '-' and CRLF), Redis 7.0.15's bytes where Redis has the
// same error; protocol/reply_writer.hpp has the protocol layer's (syntax error, not an integer).
#pragma once

#include <string_view>

namespace tessera::server::errors {

// dispatch (server.c processCommand)
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kOom = "OOM command not allowed when used memory > 'maxmemory'.";
// A data operation whose allocation failed (the store is unchanged).
inline constexpr std::string_view kOutOfMemory = "ERR out of memory";

// AUTH and HELLO (acl.c)
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthWithoutPassword =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
inline constexpr std::string_view kHelloNoAuth =
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time";
inline constexpr std::string_view kProtocolVersionNotInteger =
    "ERR Protocol version is not an integer or out of range";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
// CLIENT SETNAME, HELLO SETNAME (networking.c validateClientName)
inline constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// SCAN (db.c parseScanCursorOrReply)
inline constexpr std::string_view kInvalidCursor = "ERR invalid cursor";

// OBJECT IDLETIME / FREQ under the other kind of policy (object.c)
inline constexpr std::string_view kObjectIdletimeWithLfu =
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust.";
inline constexpr std::string_view kObjectFreqWithoutLfu =
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to adjust.";

// EXPIRE's options (expire.c parseExtendedExpireArgumentsOrReply)
inline constexpr std::string_view kExpireNxConflict =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtLtConflict =
    "ERR GT and LT options at the same time are not compatible";

// The string family (t_string.c)
inline constexpr std::string_view kIncrOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kDecrOverflow = "ERR decrement would overflow";
inline constexpr std::string_view kStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kOffsetOutOfRange = "ERR offset is out of range";

// Transactions (multi.c)
inline constexpr std::string_view kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr std::string_view kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr std::string_view kWatchInsideMulti = "ERR WATCH inside MULTI is not allowed";
inline constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
// Tessera's own: a transaction's queue is bounded by client-query-buffer-limit.
inline constexpr std::string_view kMultiQueueFull =
    "ERR MULTI queue exceeds client-query-buffer-limit; the transaction is discarded";

// The keyspace family (db.c)
inline constexpr std::string_view kNoSuchKey = "ERR no such key";
inline constexpr std::string_view kSameObject = "ERR source and destination objects are the same";

}  // namespace tessera::server::errors
