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
  for (const auto& e : res.errors) FAIL_CHECK(e);
  CHECK(res.errors.empty());
  CHECK(res.drops > 0);
  CHECK(res.scans_completed > 0);
  CHECK(res.fds_end <= res.fds_baseline);
  // FLUSHALL frees every entry and trims malloc's arenas: the RSS comes back within 8 MB (or a
  // quarter of the growth) of the start.
  const std::int64_t grown = res.rss_peak_kb - res.rss_start_kb;
  if (!kSanitized) {
    CHECK(res.rss_after_flush_kb - res.rss_start_kb < std::max<std::int64_t>(8 * 1024, grown / 4));
  }
}
