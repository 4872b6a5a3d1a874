// ReplyWriter and write_command: RESP2 encoding. Headers are formatted into a small stack buffer
// and appended in one piece; payloads are appended as they are.
#include "tessera/protocol/reply_writer.hpp"

#include "tessera/protocol/ascii.hpp"

#include <charconv>
#include <cstddef>

namespace tessera::protocol {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// '<prefix><n>\r\n' in one append.
void append_header(std::string& out, char prefix, std::int64_t n) {
  char tmp[24];
  tmp[0] = prefix;
  char* p = std::to_chars(tmp + 1, tmp + sizeof(tmp) - 2, n).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.append(tmp, static_cast<std::size_t>(p - tmp));
}

void append_size_header(std::string& out, char prefix, std::size_t n) {
  char tmp[26];
  tmp[0] = prefix;
  char* p = std::to_chars(tmp + 1, tmp + sizeof(tmp) - 2, n).ptr;
  *p++ = '\r';
  *p++ = '\n';
  out.append(tmp, static_cast<std::size_t>(p - tmp));
}

// Appends s with CR and LF mapped to spaces (Redis's sdsmapchars(s, "\r\n", "  ", 2)), so an
// echoed argument can never end a line early and break the reply stream.
void append_line_safe(std::string& out, std::string_view s) {
  const std::size_t at = out.size();
  out.append(s);
  for (std::size_t i = at; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
}

// printf("%.*s", limit, s): at most `limit` bytes, and a NUL byte ends the string.
std::string_view c_string_prefix(std::string_view s, std::size_t limit) {
  const std::size_t nul = s.find('\0');
  if (nul != std::string_view::npos) s = s.substr(0, nul);
  return s.substr(0, limit);
}

}  // namespace

void ReplyWriter::simple(std::string_view s) {
  out_->push_back('+');
  append_line_safe(*out_, s);
  out_->append(kCrlf);
}

void ReplyWriter::ok() { out_->append("+OK\r\n"); }

void ReplyWriter::error(std::string_view msg) {
  out_->push_back('-');
  append_line_safe(*out_, msg);
  out_->append(kCrlf);
}

void ReplyWriter::integer(std::int64_t v) { append_header(*out_, ':', v); }

void ReplyWriter::bulk(std::string_view s) {
  append_size_header(*out_, '$', s.size());
  out_->append(s);
  out_->append(kCrlf);
}

void ReplyWriter::null_bulk() { out_->append("$-1\r\n"); }

void ReplyWriter::array(std::size_t n) { append_size_header(*out_, '*', n); }

void ReplyWriter::null_array() { out_->append("*-1\r\n"); }

void ReplyWriter::wrong_arity(std::string_view lowercase_name) {
  std::string& o = *out_;
  o.append("-ERR wrong number of arguments for '");
  append_line_safe(o, lowercase_name);
  o.append("' command\r\n");
}

void ReplyWriter::unknown_command(std::string_view name, std::span<const std::string_view> args) {
  constexpr std::size_t kLimit = 128;
  std::string& o = *out_;
  o.append("-ERR unknown command '");
  append_line_safe(o, c_string_prefix(name, kLimit));
  o.append("', with args beginning with: ");
  std::size_t listed = 0;  // sdslen(args) in Redis
  for (const std::string_view arg : args) {
    if (listed >= kLimit) break;
    const std::string_view shown = c_string_prefix(arg, kLimit - listed);
    o.push_back('\'');
    append_line_safe(o, shown);
    o.append("' ");
    listed += shown.size() + 3;
  }
  o.append(kCrlf);
}

void ReplyWriter::unknown_subcommand(std::string_view sub, std::string_view container_upper) {
  std::string& o = *out_;
  o.append("-ERR unknown subcommand '");
  append_line_safe(o, c_string_prefix(sub, 128));
  o.append("'. Try ");
  const std::size_t at = o.size();
  append_line_safe(o, c_string_prefix(container_upper, std::string_view::npos));
  for (std::size_t i = at; i < o.size(); ++i) o[i] = ascii_upper(o[i]);
  o.append(" HELP.\r\n");
}

void ReplyWriter::syntax_error() { error(errors::kSyntaxError); }

void ReplyWriter::not_integer() { error(errors::kNotInteger); }

void ReplyWriter::out_of_range(std::string_view what) {
  std::string& o = *out_;
  o.append("-ERR ");
  append_line_safe(o, what);
  o.append(" is out of range\r\n");
}

void write_command(std::string& out, std::span<const std::string_view> args) {
  append_size_header(out, '*', args.size());
  for (const std::string_view a : args) {
    append_size_header(out, '$', a.size());
    out.append(a);
    out.append(kCrlf);
  }
}

void write_command(std::string& out, std::initializer_list<std::string_view> args) {
  write_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

}  // namespace tessera::protocol
