// The long soak with a model (label slow): TESSERA_SOAK_SECONDS (default 120) of random pipelined
// SET/PUT/GET/DEL/SCAN on 64 connections, some vanishing mid-pipeline, checked against a model
// (see soak.hpp). The short variant runs in reliability_test.cpp, also under the sanitizers.
#include <doctest/doctest.h>

#include <cstdlib>

#include "soak.hpp"

using namespace tessera::test;

TEST_CASE("reliability: soak with a model for TESSERA_SOAK_SECONDS") {
  SoakOptions o;
  o.seconds = 120;
  if (const char* env = std::getenv("TESSERA_SOAK_SECONDS"))
    o.seconds = std::max(1, std::atoi(env));
  o.connections = 64;
  o.keys_per_connection = 500;
  o.phase_seconds = 10;
  const SoakResult res = run_soak(o);
  check_soak(res);
}
