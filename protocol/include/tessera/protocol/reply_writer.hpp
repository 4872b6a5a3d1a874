// ReplyWriter: appends RESP2 replies to one output buffer, and write_command() (the client's
// request encoder). Each call appends a few pieces to `out`; nothing else is allocated, so a
// connection that reuses its output string writes replies with no allocation in steady state.
#pragma once

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

class ReplyWriter {
 public:
  explicit ReplyWriter(std::string& out) noexcept : out_(&out) {}

  void simple(std::string_view s);   // +s ; CR/LF replaced by spaces (a simple string has none)
  void ok();                         // +OK
  void error(std::string_view msg);  // -msg ; msg like "ERR ..." ; CR/LF replaced by spaces
  void integer(std::int64_t v);      // :v
  void bulk(std::string_view s);     // $len CRLF s CRLF (binary-safe)
  void null_bulk();                  // $-1
  void array(std::size_t n);         // *n header, elements follow
  void null_array();                 // *-1

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
};

// Client side: appends one command encoded as a multibulk array of bulk strings.
void write_command(std::string& out, std::span<const std::string_view> args);
void write_command(std::string& out, std::initializer_list<std::string_view> args);

}  // namespace tessera::protocol
