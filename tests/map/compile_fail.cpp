// Compiled by compile_fail.cmake: CASE_OK must compile; CASE_ALL (every refusal at once) must fail,
// and the compiler output must name each refusal's message.
#include <string>
#include <string_view>

#include "tessera/map/hash_map.hpp"

using namespace tessera::map;

#if defined(CASE_ALL)
// FLOAT_KEY
AutoHashMap<double, int> m_float_key;
// STRING_KEY
AutoHashMap<std::string_view, int> m_string_key;
// CHAR_POINTER_KEY
AutoHashMap<const char*, int> m_char_pointer_key;
// PADDED_KEY
struct Padded {
  char c;
  int i;
};
AutoHashMap<Padded, int> m_padded_key;
// NO_HASH
struct NoHash {
  bool eql(int a, int b) const { return a == b; }
};
HashMap<int, int, NoHash> m_no_hash;
// HASH_WRONG_TYPE
struct HashReturnsInt {
  int hash(int k) const { return k; }
  bool eql(int a, int b) const { return a == b; }
};
HashMap<int, int, HashReturnsInt> m_hash_wrong_type;
// NO_EQL
struct NoEql {
  Hash hash(int k) const { return static_cast<Hash>(k); }
};
HashMap<int, int, NoEql> m_no_eql;
#elif defined(CASE_OK)
AutoHashMap<int, int> m;  // the control: this one compiles
#endif

int main() { return 0; }
