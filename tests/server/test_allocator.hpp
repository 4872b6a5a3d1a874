// The server_tests executable replaces the global operator new (failure_test.cpp): an armed thread
// can be made to fail allocations, and every thread counts the allocations it makes.
#pragma once

#include <cstddef>

namespace tessera::test {
// operator new calls made by the calling thread so far.
extern thread_local std::size_t allocations;
}  // namespace tessera::test
