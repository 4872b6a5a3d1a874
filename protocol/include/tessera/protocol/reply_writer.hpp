// ReplyWriter: appends replies to one output buffer in RESP2 or RESP3, and write_command() (the
// client's request encoder). Each call appends a few pieces to `out`; nothing else is allocated,
// so a connection that reuses its output string writes replies with no allocation in steady state.
//
// Protocol versions. A writer writes the version its connection negotiated (HELLO 2 / HELLO 3);
// the caller says what a reply *is* (a map, a set, a double, a boolean, a null, ...) and the
// writer picks the bytes, exactly as Redis 7.0's networking.c does:
//
//   method            RESP3                  RESP2 (Redis 7.0's fallback)
//   null()            _                      $-1
//   null_bulk()       _                      $-1
//   null_array()      _                      *-1
//   map(n)            %n   (n pairs follow)  *2n  (a flat array: key, value, key, value, ...)
//   set(n)            ~n                     *n
//   push(n)           >n                     *n   (how Redis sends pub/sub messages to RESP2)
//   double_value(d)   ,<%.17g>               $len <%.17g>   (inf, -inf, nan/-nan as glibc writes)
//   boolean(b)        #t / #f                :1 / :0
//   verbatim(s, fmt)  =len fmt:s             $len s         (INFO, CLIENT INFO, ...)
//   big_number(s)     (s                     $len s
//
// Everything else (simple, error, integer, bulk, array) is the same in both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace tessera::protocol {

// Redis's exact command-error texts (without '-' and CRLF).
namespace errors {
inline constexpr std::string_view kSyntaxError = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
// INCRBYFLOAT: an argument or stored value parse_long_double refuses; a result that is not finite.
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kIncrNanOrInfinity =
    "ERR increment would produce NaN or Infinity";
}  // namespace errors

// The protocol a connection speaks: RESP2 until HELLO 3 (and again after HELLO 2).
enum class RespVersion : std::uint8_t { kResp2 = 2, kResp3 = 3 };

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string& out, RespVersion version = RespVersion::kResp2) noexcept
      : out_(&out), version_(version) {}

  RespVersion version() const noexcept { return version_; }
  bool resp3() const noexcept { return version_ == RespVersion::kResp3; }
  void set_version(RespVersion version) noexcept { version_ = version; }

  void simple(std::string_view s);   // +s ; CR/LF replaced by spaces (a simple string has none)
  void ok();                         // +OK
  void error(std::string_view msg);  // -msg ; msg like "ERR ..." ; CR/LF replaced by spaces
  void integer(std::int64_t v);      // :v
  void bulk(std::string_view s);     // $len CRLF s CRLF (binary-safe)
  void array(std::size_t n);         // *n header, elements follow

  // The types RESP3 added; under RESP2 each writes Redis 7.0's fallback (see the table above).
  void null();                  // addReplyNull: _ / $-1
  void null_bulk();             // the same as null(): _ / $-1
  void null_array();            // addReplyNullArray: _ / *-1
  void map(std::size_t pairs);  // addReplyMapLen: %n / *2n; then key, value, key, value...
  void set(std::size_t n);      // addReplySetLen: ~n / *n; then the n members
  void push(std::size_t n);     // addReplyPushLen: >n / *n; then the n elements
  void double_value(double v);  // addReplyDouble: ,text / $len text (format_double's text)
  void boolean(bool v);         // addReplyBool: #t #f / :1 :0
  // addReplyVerbatim: =len\r\nfmt:text / $len text. `format` is 3 bytes ("txt", "mkd");
  // std::invalid_argument otherwise.
  void verbatim(std::string_view text, std::string_view format = "txt");
  // addReplyBigNum: (digits / $len digits. `digits` is written as given (Redis does not check it).
  void big_number(std::string_view digits);

  // Redis's exact error texts.
  // ERR wrong number of arguments for 'get' command
  void wrong_arity(std::string_view lowercase_name);
  // ERR unknown command 'FOO', with args beginning with: 'a' 'b'   (server.c
  // commandCheckExistence: the name cut to 128 bytes; arguments added while the list is under 128
  // bytes, each cut to what is left of the 128, each followed by one space; a NUL byte ends a
  // word, as in Redis's %s). `args` are the arguments after the name.
  void unknown_command(std::string_view name, std::span<const std::string_view> args);
  // ERR unknown subcommand 'FOO'. Try CLIENT HELP.   (sub cut to 128 bytes; container upper-cased)
  void unknown_subcommand(std::string_view sub, std::string_view container_upper);
  void syntax_error();  // ERR syntax error
  void not_integer();   // ERR value is not an integer or out of range
  // ERR <what> is out of range, e.g. out_of_range("DB index") for SELECT 16.
  void out_of_range(std::string_view what);

  std::string& out() noexcept { return *out_; }

 private:
  std::string* out_;
  RespVersion version_;
};

// Client side: appends one command encoded as a multibulk array of bulk strings.
void write_command(std::string& out, std::span<const std::string_view> args);
void write_command(std::string& out, std::initializer_list<std::string_view> args);

}  // namespace tessera::protocol
