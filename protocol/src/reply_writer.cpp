// ReplyWriter and write_command: RESP2 and RESP3 encoding. Headers are formatted into a small
// stack buffer and appended in one piece; payloads are appended as they are.
#include "tessera/protocol/reply_writer.hpp"

#include "tessera/protocol/ascii.hpp"

#include <charconv>
#include <cstddef>
#include <stdexcept>

#include "tessera/protocol/numbers.hpp"

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

void ReplyWriter::array(std::size_t n) { append_size_header(*out_, '*', n); }

void ReplyWriter::null() { out_->append(resp3() ? "_\r\n" : "$-1\r\n"); }

void ReplyWriter::null_bulk() { null(); }

void ReplyWriter::null_array() { out_->append(resp3() ? "_\r\n" : "*-1\r\n"); }

void ReplyWriter::map(std::size_t pairs) {
  if (resp3()) {
    append_size_header(*out_, '%', pairs);
  } else {
    append_size_header(*out_, '*', 2 * pairs);
  }
}

void ReplyWriter::set(std::size_t n) { append_size_header(*out_, resp3() ? '~' : '*', n); }

void ReplyWriter::push(std::size_t n) { append_size_header(*out_, resp3() ? '>' : '*', n); }

void ReplyWriter::double_value(double v) {
  char text[kMaxDoubleChars];
  const std::size_t len = format_double(v, text);
  if (resp3()) {
    out_->push_back(',');
  } else {
    append_size_header(*out_, '$', len);
  }
  out_->append(text, len);
  out_->append(kCrlf);
}

void ReplyWriter::boolean(bool v) {
  if (resp3()) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n");
  }
}

void ReplyWriter::verbatim(std::string_view text, std::string_view format) {
  if (format.size() != 3) {
    throw std::invalid_argument("ReplyWriter::verbatim: the format must be 3 bytes");
  }
  if (!resp3()) {
    bulk(text);
    return;
  }
  append_size_header(*out_, '=', text.size() + 4);
  out_->append(format);
  out_->push_back(':');
  out_->append(text);
  out_->append(kCrlf);
}

void ReplyWriter::big_number(std::string_view digits) {
  if (!resp3()) {
    bulk(digits);
    return;
  }
  out_->push_back('(');
  out_->append(digits);
  out_->append(kCrlf);
}

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
