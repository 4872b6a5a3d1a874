// tessera-server: configuration (config/config.hpp), logging, working directory, pid file and
// limits, the RDB file loaded (persistence.hpp), then the server (server.hpp) runs until
// SIGINT/SIGTERM or SHUTDOWN. Exit status: 0 after
// an orderly stop, 1 when the configuration, the start-up checks or the listen fail; every such
// failure is reported in words (no source paths, no exception type names).
#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <tessera/server/commands/command_table.hpp>
#include <tessera/server/commands/cycle_clock.hpp>
#include <tessera/server/commands/dispatch.hpp>
#include <tessera/server/config/config.hpp>
#include <tessera/server/config/parameters.hpp>
#include <tessera/server/config/server_state.hpp>
#include <tessera/server/network/server.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/persistence.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace {

// Removes the pid file on every way out of main that gets to run destructors.
struct PidFile {
  std::string path;
  ~PidFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace tessera::server;
  ParseOutcome parsed = parse_config(argc, argv);
  if (!parsed.config) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  Config config = std::move(*parsed.config);
  // A file-size limit makes a write fail with EFBIG (a failed save, reported) instead of killing
  // the process.
  std::signal(SIGXFSZ, SIG_IGN);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  // Redis changes into `dir` while reading the config; here after it, before any file is opened.
  if (!config.dir.empty() && ::chdir(config.dir.c_str()) != 0) {
    spdlog::critical("Can't chdir to '{}': {}", config.dir, std::strerror(errno));
    return 1;
  }
  if (char cwd[4096]; ::getcwd(cwd, sizeof cwd) != nullptr) config.dir = cwd;
  if (!config.logfile.empty()) {
    try {
      spdlog::set_default_logger(spdlog::basic_logger_mt("tessera", config.logfile));
      spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
      spdlog::flush_on(spdlog::level::info);
    } catch (const std::exception&) {
      std::fprintf(stderr, "Can't open the log file: %s\n", config.logfile.c_str());
      return 1;
    }
  }
  if (std::string why = validate(config); !why.empty()) {
    spdlog::critical("Refusing to start: {}", why);
    return 1;
  }
  if (std::string note = adjust_open_file_limit(config); !note.empty()) spdlog::warn("{}", note);
  spdlog::info("Tessera {} starting: {}", TESSERA_VERSION, config.describe());
  PidFile pidfile;
  try {
    command_table();  // builds and checks the table now: a broken one never serves
    // The command clock calibrates now (about 10 ms), not in the first client's command.
    spdlog::debug("Command clock: {}",
                  CycleClock::uses_tsc()
                      ? fmt::format("TSC, {:.6f} ns per tick", CycleClock::ns_per_tick())
                      : std::string("steady_clock"));
    Server server(std::move(config), &dispatch);
    find_parameter("loglevel")->publish(server.state());
    Persistence persistence(server.shards(), server.state());
    // Destroyed before the server: its writer ends (writing and fsyncing what is pending) first.
    AppendOnlyFile aof(server.shards(), server.state(), persistence);
    // Loaded before listening: no client ever sees part of the file. With appendonly yes the
    // append-only file is what is loaded (as Redis), or dump.rdb when there is no AOF yet.
    if (std::string why =
            server.state().config.appendonly ? aof.load_and_open() : persistence.load();
        !why.empty()) {
      spdlog::critical("{}", why);
      return 1;
    }
    if (std::string why = server.listen(); !why.empty()) {
      spdlog::critical("{}", why);
      return 1;
    }
    if (const std::string& path = server.state().config.pidfile; !path.empty()) {
      std::ofstream out(path, std::ios::trunc);
      if (out << ::getpid() << '\n') {
        pidfile.path = path;
      } else {
        spdlog::warn("Failed to write PID file {}: {}", path, std::strerror(errno));
      }
    }
    persistence.start();
    server.run();
    persistence.stop();
    aof.stop();
    if (server.exit_status() != 0) {
      spdlog::shutdown();
      return server.exit_status();
    }
  } catch (const std::exception& e) {
    spdlog::critical("Fatal: {}", e.what());
    return 1;
  }
  spdlog::shutdown();
  return 0;
}
