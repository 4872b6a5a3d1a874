// tessera-benchmark: see benchmark.hpp for what it does and how it differs from redis-benchmark.
#include "benchmark.hpp"

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  namespace bench = tessera::client::bench;
  bench::Options options;
  try {
    options = bench::parse_options(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessera-benchmark: %s\n\n%s", e.what(), bench::usage().c_str());
    return 2;
  }
  if (options.help) {
    std::fputs(bench::usage().c_str(), stdout);
    return 0;
  }
  if (options.csv) std::printf("%s\n", bench::csv_header().c_str());
  for (const auto& test : options.tests) {
    bench::TestResult result = bench::run_test(options, test);
    if (!result.error.empty()) {
      std::fflush(stdout);
      std::fprintf(stderr, "%s\n", result.error.c_str());
      return 1;
    }
    std::string text = options.csv     ? bench::format_csv(result, options.precision)
                       : options.quiet ? bench::format_quiet(result, options.precision)
                                       : bench::format_full(result, options);
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }
  return 0;
}
