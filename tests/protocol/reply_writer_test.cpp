#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "tessera/protocol/reply_writer.hpp"

using tessera::protocol::ReplyWriter;
using namespace std::string_view_literals;

TEST_CASE("reply writer: every RESP2 type, exact bytes") {
  std::string out;
  ReplyWriter w(out);
  w.ok();
  w.simple("PONG");
  w.error("ERR a\r\nb");
  w.integer(-42);
  w.bulk(std::string_view("a\0\r\n", 4));
  w.null_bulk();
  w.array(2);
  w.null_array();
  CHECK(out == "+OK\r\n+PONG\r\n-ERR a  b\r\n:-42\r\n$4\r\na\0\r\n\r\n$-1\r\n*2\r\n*-1\r\n"sv);
}
