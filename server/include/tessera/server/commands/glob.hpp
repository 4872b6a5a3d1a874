// Redis glob matching (util.c stringmatchlen, 7.0): '*', '?', '[abc]', '[^a]', '[a-z]' and '\'
// escapes, with the "skip longer matches" cut that keeps '*'-heavy patterns polynomial, plus a
// depth cap so that no pattern can exhaust the stack (it then reports "no match").
#pragma once

#include <string_view>

namespace tessera::server {

bool glob_match(std::string_view pattern, std::string_view text, bool nocase = false);

}  // namespace tessera::server
