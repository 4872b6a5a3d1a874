// tessera-server: flags, logging and limits set-up, then the server (server.hpp) runs until
// SIGINT/SIGTERM. Exit status: 0 after a signal, 1 when the configuration or the bind fails.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <tessera/server/commands/command_table.hpp>
#include <tessera/server/commands/dispatch.hpp>
#include <tessera/server/config/config.hpp>
#include <tessera/server/network/server.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace tessera::server;
  ParseOutcome parsed = parse_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  Config config = std::move(*parsed.config);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  if (std::string why = validate(config); !why.empty()) {
    spdlog::critical("Refusing to start: {}", why);
    return 1;
  }
  spdlog::set_level(
      spdlog::level::from_str(config.log_level == "warn" ? "warning" : config.log_level));
  if (std::string note = adjust_open_file_limit(config); !note.empty()) spdlog::warn("{}", note);
  spdlog::info("Tessera {} starting: {}", TESSERA_VERSION, config.describe());
  try {
    command_table();  // builds and checks the table now: a broken one never serves
    Server server(std::move(config), &dispatch);
    server.listen();
    server.run();
  } catch (const std::exception& e) {
    spdlog::critical("Fatal: {}", e.what());
    return 1;
  }
  spdlog::shutdown();
  return 0;
}
