// Redis glob semantics (util.c stringmatchlen), including the corner cases SCAN MATCH and KEYS rely
// on.
#include <doctest/doctest.h>

#include <string>
#include <tessera/server/commands/glob.hpp>

using tessera::server::glob_match;

TEST_CASE("glob: literals ? and *") {
  CHECK(glob_match("abc", "abc"));
  CHECK_FALSE(glob_match("abc", "abd"));
  CHECK_FALSE(glob_match("abc", "ab"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "ac"));
  CHECK_FALSE(glob_match("*", ""));  // as Redis: KEYS and SCAN special-case a lone "*"
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("key:1*", "key:1"));
  CHECK(glob_match("key:1*", "key:123"));
  CHECK_FALSE(glob_match("key:1*", "key:2"));
  CHECK(glob_match("*:*", "a:b"));
  CHECK(glob_match("a**b", "ab"));
  CHECK_FALSE(glob_match("", "a"));
  CHECK(glob_match("", ""));
}

TEST_CASE("glob: classes ranges negation and escapes") {
  CHECK(glob_match("h[ae]llo", "hello"));
  CHECK(glob_match("h[ae]llo", "hallo"));
  CHECK_FALSE(glob_match("h[ae]llo", "hillo"));
  CHECK(glob_match("h[^e]llo", "hallo"));
  CHECK_FALSE(glob_match("h[^e]llo", "hello"));
  CHECK(glob_match("h[a-b]llo", "hbllo"));
  CHECK(glob_match("h[b-a]llo", "hallo"));  // reversed ranges are swapped
  CHECK_FALSE(glob_match("h[a-b]llo", "hcllo"));
  CHECK(glob_match("k[0-9][0-9]", "k42"));
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("a\\?", "a?"));
  CHECK(glob_match("[\\]]", "]"));
  CHECK(glob_match("x[abc", "xa"));  // an unterminated class still matches its members
}

TEST_CASE("glob: nocase (CONFIG GET)") {
  CHECK(glob_match("MAX*", "maxmemory", true));
  CHECK_FALSE(glob_match("MAX*", "maxmemory", false));
  CHECK(glob_match("[A-Z]ort", "port", true));
}

TEST_CASE("glob: star-heavy patterns stay fast and deep ones are refused not crashed") {
  const std::string text(5000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) pattern += "*a";
  pattern += "b";
  CHECK_FALSE(glob_match(pattern, text));  // polynomial thanks to the skip-longer-matches cut
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "a*";
  CHECK_FALSE(glob_match(deep, std::string(6000, 'a')));  // past the depth cap: "no match"
}
