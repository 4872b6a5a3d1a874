#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/request_parser.hpp"

using tessera::protocol::RequestParser;

TEST_CASE("request parser: a pipelined multibulk and inline buffer, whole") {
  RequestParser p;
  p.feed("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n");
  std::vector<std::string_view> argv;
  REQUIRE(p.next(argv) == RequestParser::Status::kCommand);
  CHECK(argv == std::vector<std::string_view>{"PING"});
  REQUIRE(p.next(argv) == RequestParser::Status::kCommand);
  CHECK(argv == std::vector<std::string_view>{"ECHO", "hi"});
  REQUIRE(p.next(argv) == RequestParser::Status::kCommand);
  CHECK(argv == std::vector<std::string_view>{"PING"});
  CHECK(p.next(argv) == RequestParser::Status::kNeedMore);
}
