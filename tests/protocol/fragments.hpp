// Test helpers: run a parser over an input split into pieces of every size the suite uses, so a
// bug that only shows when a token is split across reads cannot hide (Seastar's
// for_each_fragment_size idea).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/protocol/reply_reader.hpp"
#include "tessera/protocol/request_parser.hpp"

namespace tessera::protocol::test {

// 0 means "the whole input in one piece".
inline constexpr std::size_t kFragmentSizes[] = {0, 100, 10, 5, 2, 1};

struct ParseOutcome {
  std::vector<std::vector<std::string>> commands;
  bool error = false;
  std::string error_text;
  friend bool operator==(const ParseOutcome&, const ParseOutcome&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const ParseOutcome& o) {
  os << "{" << o.commands.size() << " commands:";
  for (std::size_t i = 0; i < o.commands.size() && i < 8; ++i) {
    os << " [";
    for (const auto& a : o.commands[i])
      os << "'" << (a.size() > 40 ? a.substr(0, 40) + "..." : a) << "'";
    os << "]";
  }
  if (o.error) os << " error: " << o.error_text;
  return os << "}";
}

inline ParseOutcome commands(std::vector<std::vector<std::string>> cmds) {
  return ParseOutcome{std::move(cmds), false, {}};
}

inline ParseOutcome commands_then_error(std::vector<std::vector<std::string>> cmds,
                                        std::string_view text) {
  return ParseOutcome{std::move(cmds), true, std::string(text)};
}

// Feeds `input` in pieces of `piece` bytes (0: all at once), draining every complete command after
// each piece, as a server does after each read.
// With prepare_between_commands, prepare() is also called after every command (a caller that
// reads again before draining): the buffer then moves under commands not yet parsed.
inline ParseOutcome parse_in_pieces(std::string_view input, std::size_t piece,
                                    ParserLimits limits = {},
                                    bool prepare_between_commands = false) {
  RequestParser parser(limits);
  ParseOutcome out;
  std::vector<std::string_view> argv;
  auto drain = [&] {
    for (;;) {
      const auto status = parser.next(argv);
      if (status == RequestParser::Status::kCommand) {
        out.commands.emplace_back(argv.begin(), argv.end());
        if (prepare_between_commands) parser.prepare(1);
        continue;
      }
      if (status == RequestParser::Status::kError) {
        out.error = true;
        out.error_text = std::string(parser.error());
      }
      return status;
    }
  };
  std::size_t at = 0;
  if (input.empty()) drain();
  while (at < input.size()) {
    const std::size_t n = piece == 0 ? input.size() - at : std::min(piece, input.size() - at);
    const auto span = parser.prepare(n);
    std::memcpy(span.data(), input.data() + at, n);
    parser.commit(n);
    at += n;
    if (drain() == RequestParser::Status::kError) break;
  }
  return out;
}

struct ReadOutcome {
  std::vector<Reply> replies;
  bool error = false;
  std::string error_text;
  friend bool operator==(const ReadOutcome&, const ReadOutcome&) = default;
};

inline ReadOutcome read_in_pieces(std::string_view input, std::size_t piece,
                                  ReaderLimits limits = {}) {
  ReplyReader reader(limits);
  ReadOutcome out;
  Reply reply;
  auto drain = [&] {
    for (;;) {
      const auto status = reader.next(reply);
      if (status == ReplyReader::Status::kReply) {
        out.replies.push_back(std::move(reply));
        continue;
      }
      if (status == ReplyReader::Status::kError) {
        out.error = true;
        out.error_text = std::string(reader.error());
      }
      return status;
    }
  };
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = piece == 0 ? input.size() - at : std::min(piece, input.size() - at);
    reader.feed(input.substr(at, n));
    at += n;
    if (drain() == ReplyReader::Status::kError) break;
  }
  return out;
}

}  // namespace tessera::protocol::test
