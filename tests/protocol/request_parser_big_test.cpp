// RequestParser with a 100 MB bulk: label `slow` (left out of the sanitizer pass, where it takes
// about a minute); the same code paths run under the sanitizers with 8 MB bulks and in the fuzzers.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/request_parser.hpp"

using tessera::protocol::RequestParser;

TEST_CASE("request parser: a 100 MB bulk is read by its length") {
  // The data is full of CRLF and RESP-looking bytes: a parser that scanned it would split it.
  std::string big(100 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big.replace(i, 9, "\r\n*1\r\n$4\r");
  const std::string input =
      "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$104857600\r\n" + big + "\r\n*1\r\n$4\r\nPING\r\n";
  // Whole, socket-sized reads, and small pieces; the 1-byte path of bulks is covered above.
  for (const std::size_t piece : {std::size_t{0}, std::size_t{65536}, std::size_t{100}}) {
    CAPTURE(piece);
    RequestParser p;
    std::vector<std::string_view> argv;
    std::size_t at = 0;
    std::size_t seen = 0;
    bool big_ok = false;
    std::size_t peak = 0;
    while (at < input.size()) {
      const std::size_t n = piece == 0 ? input.size() : std::min(piece, input.size() - at);
      const auto span = p.prepare(n);
      std::memcpy(span.data(), input.data() + at, n);
      p.commit(n);
      at += n;
      peak = std::max(peak, p.capacity());
      RequestParser::Status s;
      while ((s = p.next(argv)) == RequestParser::Status::kCommand) {
        if (seen == 0) {
          big_ok = argv.size() == 3 && argv[0] == "SET" && argv[1] == "big" && argv[2] == big;
        } else {
          CHECK(argv == std::vector<std::string_view>{"PING"});
        }
        ++seen;
      }
      REQUIRE(s == RequestParser::Status::kNeedMore);
    }
    CHECK(seen == 2);
    CHECK(big_ok);
    // At most about twice the bulk, however it arrived.
    CHECK(peak <= 2 * input.size() + 65536);
    // Once the connection goes back to small commands, the big buffer is given back.
    p.prepare();
    p.feed("PING\r\n");
    CHECK(p.next(argv) == RequestParser::Status::kCommand);
    p.prepare();
    CHECK(p.capacity() <= 1024 * 1024);
  }
}
