// Redis glob matching, ported from util.c stringmatchlen (7.0) with explicit bounds (Redis relies
// on the NUL after sds strings) and a recursion cap.
#include <tessera/server/commands/glob.hpp>

#include <utility>

#include <tessera/protocol/ascii.hpp>

namespace tessera::server {

namespace {
constexpr int kMaxNesting = 1000;  // '*'s recursed into; deeper patterns report "no match"

bool match_impl(const char* p, std::size_t plen, const char* s, std::size_t slen, bool nocase,
                bool& skip_longer, int nesting) {
  if (nesting > kMaxNesting) return false;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (match_impl(p + 1, plen - 1, s, slen, nocase, skip_longer, nesting + 1)) return true;
          if (skip_longer) return false;
          ++s;
          --slen;
        }
        // The rest of the pattern matches nowhere in the rest of the text, so no earlier '*'
        // can help by matching more: stop every enclosing loop too.
        skip_longer = true;
        return false;
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        const bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool matched = false;
        for (;;) {
          if (plen == 0) {
            // Unterminated class: Redis steps back so the outer loop ends on the last char.
            --p;
            ++plen;
            break;
          }
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) matched = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            int start = static_cast<unsigned char>(p[0]);
            int end = static_cast<unsigned char>(p[2]);
            int c = static_cast<unsigned char>(s[0]);
            if (start > end) std::swap(start, end);
            if (nocase) {  // folded after the swap, as Redis does ("[Z-a]" stays empty)
              auto fold = [](int b) {
                return static_cast<unsigned char>(protocol::ascii_lower(static_cast<char>(b)));
              };
              start = fold(start);
              end = fold(end);
              c = fold(c);
            }
            p += 2;
            plen -= 2;
            if (c >= start && c <= end) matched = true;
          } else if (nocase ? protocol::ascii_lower(p[0]) == protocol::ascii_lower(s[0])
                            : p[0] == s[0]) {
            matched = true;
          }
          ++p;
          --plen;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (nocase ? protocol::ascii_lower(p[0]) != protocol::ascii_lower(s[0]) : p[0] != s[0])
          return false;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}
}  // namespace

bool glob_match(std::string_view pattern, std::string_view text, bool nocase) {
  bool skip_longer = false;
  return match_impl(pattern.data(), pattern.size(), text.data(), text.size(), nocase, skip_longer,
                    0);
}

}  // namespace tessera::server
