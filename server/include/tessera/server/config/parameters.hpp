// The parameter table: every setting of tessera-server is one row, read by the flags, the config
// file, CONFIG GET/SET/REWRITE and --help alike, so a value is validated in one place with Redis's
// messages ("argument must be between 0 and 2147483647 inclusive", ...).
//
// Adding a parameter is adding one row to kParameters (src/config/parameters.cpp):
//   {.name = "maxmemory-samples",           // Redis's name: config file, CONFIG GET/SET, --name
//    .aliases = "",                         // other accepted names, space separated
//    .type = ParamType::kInt, .flags = kParamMutable,
//    .min = 1, .max = INT32_MAX,            // kInt / kMemory range (Redis's)
//    .default_text = "5",                   // what --help shows; Config's initialiser is the truth
//    .help = "...",
//    .set = set_field<&Config::maxmemory_samples>, .get = get_field<&Config::maxmemory_samples>,
//    .publish = [](ServerState& s) { ... }}  // mutable only: copy into what the hot path reads
// A type the templates do not cover (an enum class) gives its own set/get; `check` adds a
// validation beyond type and range.
//
// Directives of Redis features Tessera does not have (replication, persistence, encodings...) are
// rows too, flagged kParamInert: accepted only at Redis's default value (so a stock redis.conf
// works), where they are harmless because they configure nothing that exists; any other value
// stops the start, since Tessera would silently not do what the line asks. CONFIG GET shows them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <tessera/server/config/config.hpp>

namespace tessera::server {

struct ServerState;

enum class ParamType { kBool, kInt, kMemory, kEnum, kString, kList };

enum ParamFlags : unsigned {
  kParamMutable = 1u << 0,    // CONFIG SET may change it at run time
  kParamInert = 1u << 1,      // a Redis feature Tessera lacks: only its default is accepted
  kParamMultiArg = 1u << 2,   // takes several words (bind a b): joined with spaces
  kParamNoRewrite = 1u << 3,  // never written by CONFIG REWRITE (e.g. include-like, derived)
};

struct ParamSpec {
  std::string_view name{};
  std::string_view aliases{};
  ParamType type = ParamType::kString;
  unsigned flags = 0;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::span<const std::string_view> choices{};  // kEnum, lowercase
  std::string_view default_text{};              // kParamInert: the value(s) accepted, '|'-separated
  std::string_view help{};
  // Stores an already validated value into the config (null for inert rows).
  void (*set)(Config&, std::string_view value) = nullptr;
  // The value as CONFIG GET shows it (null for inert rows: default_text's first value).
  std::string (*get)(const Config&) = nullptr;
  // Extra validation beyond type, range and choices: "" or Redis-style reason.
  std::string (*check)(std::string_view value) = nullptr;
  // After CONFIG SET changed it: copy it into whatever other threads read (an atomic, spdlog).
  void (*publish)(ServerState&) = nullptr;
};

std::span<const ParamSpec> parameters();
// By name or alias, case-insensitive; nullptr when there is none.
const ParamSpec* find_parameter(std::string_view name);

// Validates `value` for `p` (type, range, choices, check, inert default) and stores it. Returns ""
// or the reason, in Redis's words ("argument must be 'yes' or 'no'").
std::string apply_parameter(Config& config, const ParamSpec& p, std::string_view value);
// Validation only; the second without the inert rows' default-only rule.
std::string check_parameter(const ParamSpec& p, std::string_view value);
std::string check_parameter_type(const ParamSpec& p, std::string_view value);
// CONFIG GET's text for `p`.
std::string parameter_value(const Config& config, const ParamSpec& p);

// ---------------------------------------------------------------------------------------------
// Row helpers: set/get for a Config field by its type (bool: yes/no; integers; strings). Memory
// fields are integers too; their text is parsed by parse_memory before it reaches set.

std::int64_t parsed_integer(std::string_view value);  // after check_parameter: an integer or memory
bool parsed_bool(std::string_view value);

template <auto Field>
void set_field(Config& c, std::string_view v) {
  using T = std::remove_reference_t<decltype(c.*Field)>;
  if constexpr (std::is_same_v<T, bool>) {
    c.*Field = parsed_bool(v);
  } else if constexpr (std::is_integral_v<T>) {
    c.*Field = static_cast<T>(parsed_integer(v));
  } else {
    c.*Field = std::string(v);
  }
}

template <auto Field>
std::string get_field(const Config& c) {
  using T = std::remove_cvref_t<decltype(c.*Field)>;
  if constexpr (std::is_same_v<T, bool>) {
    return c.*Field ? "yes" : "no";
  } else if constexpr (std::is_integral_v<T>) {
    return std::to_string(c.*Field);
  } else {
    return c.*Field;
  }
}

}  // namespace tessera::server
