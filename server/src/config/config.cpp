// Start-up configuration: argv and the config file through the parameter table, Redis's grammar
// and error report; the start-up checks; CONFIG REWRITE (design note in config/config.hpp).
#include <tessera/server/config/config.hpp>

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <tessera/protocol/ascii.hpp>
#include <tessera/server/config/parameters.hpp>
#include <tessera/server/shard/shard_limits.hpp>

#ifndef TESSERA_VERSION
#define TESSERA_VERSION "0.0.0"
#endif

namespace tessera::server {

namespace {

constexpr int kMaxIncludeDepth = 16;

std::string memory_text(std::uint64_t v) {
  if (v != 0 && v % (1024ull * 1024 * 1024) == 0) return std::to_string(v >> 30) + "gb";
  if (v != 0 && v % (1024ull * 1024) == 0) return std::to_string(v >> 20) + "mb";
  if (v != 0 && v % 1024 == 0) return std::to_string(v >> 10) + "kb";
  return std::to_string(v);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One directive: its words (name first), where it came from, for the error report.
struct Directive {
  std::vector<std::string> words;
  std::string origin;  // "the configuration file /etc/x.conf, at line 3" / "the command line"
  std::string text;    // the line as written
};

struct LoadError {
  std::string origin, text, reason;
};

std::string fatal_report(const LoadError& e) {
  return "\n*** FATAL CONFIG FILE ERROR (Tessera " TESSERA_VERSION ") ***\nReading " + e.origin +
         "\n>>> '" + e.text + "'\n" + e.reason + "\n";
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// Reads `path` into directives, following `include` (Redis: relative to the working directory).
std::optional<LoadError> read_file(const std::string& path, int depth, std::vector<Directive>& out,
                                   const std::string& included_from) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return LoadError{included_from.empty() ? "the command line" : included_from,
                     included_from.empty() ? path : "include " + path,
                     "Fatal error, can't open config file '" + path + "': " + std::strerror(errno)};
  }
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    const std::string origin =
        "the configuration file " + absolute_path(path) + ", at line " + std::to_string(number);
    auto words = split_config_args(t);
    if (!words) return LoadError{origin, t, "Unbalanced quotes in configuration line"};
    if (words->empty()) continue;
    (*words)[0] = protocol::to_lower((*words)[0]);
    if ((*words)[0] == "include" && words->size() == 2) {
      if (depth >= kMaxIncludeDepth) return LoadError{origin, t, "include nested too deeply"};
      if (auto e = read_file((*words)[1], depth + 1, out, origin)) return e;
      continue;
    }
    out.push_back(Directive{std::move(*words), origin, t});
  }
  return std::nullopt;
}

std::optional<LoadError> apply(Config& c, const Directive& d) {
  const ParamSpec* p = find_parameter(d.words[0]);
  if (p == nullptr)
    return LoadError{d.origin, d.text, "Bad directive or wrong number of arguments"};
  if (d.words.size() < 2 || ((p->flags & kParamMultiArg) == 0 && d.words.size() != 2)) {
    return LoadError{d.origin, d.text, "wrong number of arguments"};
  }
  std::string value = d.words[1];
  for (std::size_t i = 2; i < d.words.size(); ++i) value += " " + d.words[i];
  if (std::string why = apply_parameter(c, *p, value); !why.empty()) {
    return LoadError{d.origin, d.text, why};
  }
  return std::nullopt;
}

std::string help_text() {
  std::ostringstream o;
  o << "Usage: tessera-server [/path/to/tessera.conf] [--name value ...]\n"
       "       tessera-server --help | --version\n\n"
       "Every setting is a config file directive (Redis's names and grammar) and a flag of the "
       "same\nname; flags are read after the file, so they win. Sizes take Redis units (100mb, "
       "1gb,\n1k = 1000). --config FILE is the same as giving FILE first.\n\nSettings:\n";
  for (const auto& p : parameters()) {
    if (p.flags & kParamInert) continue;
    std::string head = "  --" + std::string(p.name);
    if (!p.aliases.empty()) head += " (--" + std::string(p.aliases) + ")";
    o << head << std::string(head.size() < 34 ? 34 - head.size() : 1, ' ') << p.help;
    if (!p.default_text.empty()) o << " [" << p.default_text << "]";
    if (p.flags & kParamMutable) o << " (CONFIG SET)";
    o << '\n';
  }
  o << "\nRedis directives for features Tessera does not have (persistence, replication, "
       "encodings...)\nare accepted at Redis's default value only:";
  std::size_t col = 80;
  for (const auto& p : parameters()) {
    if ((p.flags & kParamInert) == 0) continue;
    if (col + p.name.size() + 1 > 78) {
      o << "\n ";
      col = 1;
    }
    o << ' ' << p.name;
    col += p.name.size() + 1;
  }
  o << '\n';
  return o.str();
}

}  // namespace

std::optional<std::vector<std::string>> split_config_args(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  const std::size_t n = line.size();
  for (;;) {
    while (i < n && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i == n) return out;
    std::string word;
    bool in_double = false, in_single = false, done = false;
    while (!done) {
      if (in_double) {
        if (i == n) return std::nullopt;
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_digit(line[i + 2]) >= 0 &&
            hex_digit(line[i + 3]) >= 0) {
          word += static_cast<char>(hex_digit(line[i + 2]) * 16 + hex_digit(line[i + 3]));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          char c = line[i];
          switch (c) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              break;
          }
          word += c;
        } else if (line[i] == '"') {
          // The closing quote must be followed by a space or the end.
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) {
            return std::nullopt;
          }
          done = true;
        } else {
          word += line[i];
        }
      } else if (in_single) {
        if (i == n) return std::nullopt;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          word += '\'';
        } else if (line[i] == '\'') {
          if (i + 1 < n && !std::isspace(static_cast<unsigned char>(line[i + 1]))) {
            return std::nullopt;
          }
          done = true;
        } else {
          word += line[i];
        }
      } else {
        if (i == n) break;
        switch (line[i]) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            in_double = true;
            break;
          case '\'':
            in_single = true;
            break;
          default:
            word += line[i];
            break;
        }
      }
      if (i < n) ++i;
    }
    out.push_back(std::move(word));
  }
}

std::optional<std::uint64_t> parse_memory(std::string_view text) {
  const std::string s = protocol::to_lower(text);
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0 || i > 19) return std::nullopt;
  std::uint64_t n = std::stoull(s.substr(0, i));
  const std::string unit = s.substr(i);
  std::uint64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000ull * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024ull * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (n > UINT64_MAX / mul) return std::nullopt;
  return n * mul;
}

std::string_view bind_address(std::string_view entry) {
  if (!entry.empty() && entry[0] == '-') entry.remove_prefix(1);
  return entry;
}

bool is_loopback_address(std::string_view address) {
  address = bind_address(address);
  if (address == "localhost") return true;
  in_addr v4{};
  in6_addr v6{};
  const std::string a(address);
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, a.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

std::string validate(const Config& c) {
  if (c.protected_mode && c.requirepass.empty()) {
    for (const auto& b : c.bind) {
      if (!is_loopback_address(b)) {
        return "refusing to listen on non-loopback address " + std::string(bind_address(b)) +
               " without requirepass while protected mode is on (set a password, or "
               "protected-mode no if the network is trusted)";
      }
    }
  }
  return {};
}

std::string Config::describe() const {
  std::ostringstream o;
  o << "bind=";
  for (std::size_t i = 0; i < bind.size(); ++i) o << (i ? "," : "") << bind[i];
  o << " port=" << port << " shards=" << shards << " maxclients=" << maxclients
    << " maxmemory=" << memory_text(maxmemory)
    << " maxmemory-policy=" << policy_name(maxmemory_policy)
    << " maxmemory-samples=" << maxmemory_samples << " timeout=" << timeout
    << " protected-mode=" << (protected_mode ? "yes" : "no")
    << " requirepass=" << (requirepass.empty() ? "(none)" : "(set)")
    << " client-query-buffer-limit=" << memory_text(client_query_buffer_limit)
    << " reply-chunk-bytes=" << memory_text(reply_chunk_bytes) << " loglevel=" << loglevel;
  if (!config_file.empty()) o << " config=" << config_file;
  return o.str();
}

ParseOutcome parse_config(int argc, const char* const* argv) {
  ParseOutcome result;
  Config c;
  c.shards = std::max(1u, std::min(std::thread::hardware_concurrency(), kMaxShards));

  std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      result.message = help_text();
      return result;
    }
    if (a == "--version" || a == "-v") {
      result.message = "tessera-server " TESSERA_VERSION "\n";
      return result;
    }
  }
  auto fail = [&](const LoadError& e) {
    result.exit_code = 1;
    result.message = fatal_report(e);
    return result;
  };

  // Redis's form: an optional file first, then --name value... pairs (each one more directive).
  std::string file;
  std::size_t i = 0;
  if (!args.empty() && !args[0].starts_with("-")) file = args[i++];
  std::vector<Directive> flags;
  while (i < args.size()) {
    const std::string& a = args[i];
    if (!a.starts_with("--") || a.size() == 2) {
      return fail({"the command line", a, "Invalid argument: expected --name value"});
    }
    Directive d{{protocol::to_lower(a.substr(2))}, "the command line", a};
    for (++i; i < args.size() && !args[i].starts_with("--"); ++i) {
      d.words.push_back(args[i]);
      d.text += " " + args[i];
    }
    if (d.words[0] == "config") {
      if (d.words.size() != 2) return fail({d.origin, d.text, "wrong number of arguments"});
      if (!file.empty()) return fail({d.origin, d.text, "more than one config file given"});
      file = d.words[1];
      continue;
    }
    flags.push_back(std::move(d));
  }

  std::vector<Directive> directives;
  if (!file.empty()) {
    if (auto e = read_file(file, 0, directives, {})) return fail(*e);
    c.config_file = absolute_path(file);
  }
  directives.insert(directives.end(), flags.begin(), flags.end());
  // A Redis feature Tessera lacks is judged on its final value, so that `FILE --daemonize no`
  // overrides the file's `daemonize yes` as it does for redis-server; its earlier lines still get
  // their type checked where they stand.
  std::vector<const Directive*> last_inert;
  for (const auto& d : directives) {
    const ParamSpec* p = find_parameter(d.words[0]);
    if (p != nullptr && (p->flags & kParamInert) != 0 && p->check == nullptr) {
      if (d.words.size() == 2) {
        if (std::string why = check_parameter_type(*p, d.words[1]); !why.empty()) {
          return fail({d.origin, d.text, why});
        }
      }
      std::erase_if(last_inert,
                    [&](const Directive* x) { return find_parameter(x->words[0]) == p; });
      last_inert.push_back(&d);
      continue;
    }
    if (auto e = apply(c, d)) return fail(*e);
  }
  for (const Directive* d : last_inert) {
    if (auto e = apply(c, *d)) return fail(*e);
  }
  result.config = std::move(c);
  return result;
}

std::string rewrite_config_file(const Config& config) {
  if (config.config_file.empty()) return "The server is running without a config file";
  std::ifstream in(config.config_file, std::ios::binary);
  if (!in) return "Rewriting config file: " + std::string(std::strerror(errno));
  std::vector<std::string> lines;
  std::vector<const ParamSpec*> written;
  auto owned = [](const ParamSpec* p) {
    return p != nullptr && (p->flags & (kParamInert | kParamNoRewrite)) == 0 && p->get != nullptr;
  };
  auto line_for = [&](const ParamSpec& p) {
    std::string value = p.get(config);
    if (p.flags & kParamMultiArg) {
      return std::string(p.name) + " " + (value.empty() ? std::string("\"\"") : value);
    }
    std::string quoted = "\"";
    for (char ch : value) {
      if (ch == '"' || ch == '\\') quoted += '\\';
      quoted += ch;
    }
    return std::string(p.name) + " " + quoted + "\"";
  };
  std::string line;
  while (std::getline(in, line)) {
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') {
      if (t != "# Generated by CONFIG REWRITE") lines.push_back(line);
      continue;
    }
    auto words = split_config_args(t);
    const ParamSpec* p = words && !words->empty() ? find_parameter((*words)[0]) : nullptr;
    if (!owned(p)) {
      lines.push_back(line);
      continue;
    }
    if (std::find(written.begin(), written.end(), p) != written.end()) continue;  // a repeat
    written.push_back(p);
    lines.push_back(line_for(*p));
  }
  // Settings the file did not have, where the running value differs from the default.
  const Config defaults = [&] {
    Config d;
    d.shards = config.shards;  // derived from the machine, not a choice to record
    d.dir = config.dir;
    return d;
  }();
  bool header = false;
  for (const auto& p : parameters()) {
    if (!owned(&p) || std::find(written.begin(), written.end(), &p) != written.end()) continue;
    if (p.get(config) == p.get(defaults)) continue;
    if (!header) {
      while (!lines.empty() && lines.back().empty()) lines.pop_back();
      lines.emplace_back();
      lines.emplace_back("# Generated by CONFIG REWRITE");
      header = true;
    }
    lines.push_back(line_for(p));
  }
  // Written to a temporary file beside it, then renamed over it: never half a file.
  const std::string tmp = config.config_file + ".tessera-rewrite." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return "Rewriting config file: " + std::string(std::strerror(errno));
    for (const auto& l : lines) out << l << '\n';
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      return "Rewriting config file: write failed";
    }
  }
  if (std::rename(tmp.c_str(), config.config_file.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    return "Rewriting config file: " + std::string(std::strerror(err));
  }
  return {};
}

}  // namespace tessera::server
