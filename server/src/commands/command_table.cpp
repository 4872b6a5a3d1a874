// The command table, assembled from the families' rows (design note in
// tessera/server/commands/command_table.hpp).
//
// Design note for server/src/commands/. A command family (strings, keyspace, connection, server,
// introspection) is one file that owns its handlers, its key operations (the op_* bodies a KeyOp
// carries to the owning shard, where they call the Store and write the reply) and its table rows.
// This file puts the rows together once, sorted by name, and refuses a table that breaks a rule
// the dispatcher and COMMAND rely on (check_row below); dispatch.cpp runs a command from it; the
// server's error texts are named in errors.hpp. Adding a command: a handler, a row in its family,
// and for a key command a KeyOp body; the session and the shards need nothing new.
#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <tessera/protocol/ascii.hpp>

#include <tessera/server/commands/command_stats.hpp>

#include "families.hpp"

namespace tessera::server {

namespace {

void fail(std::string_view name, std::string_view why) {
  throw std::logic_error("command table: '" + std::string(name) + "' " + std::string(why));
}

// The rules every row keeps (at start-up: a broken table never serves).
void check_row(const CommandSpec& c, bool is_subcommand) {
  if (c.name.empty() || !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || ch == '-';
      })) {
    fail(c.name, "must be a lowercase name");
  }
  // Arity counts the name (and for a subcommand the container's name too): never 0, and a
  // subcommand has at least two words.
  const int least = c.arity < 0 ? -c.arity : c.arity;
  if (c.arity == 0 || least > 64 || (is_subcommand && least < 2)) fail(c.name, "has a bad arity");
  // Key positions: none, or a first key inside the arguments the arity admits, a step of at least
  // one, and a last key that is -1 (up to the end) or between the first and the arity's bound.
  const KeyPositions& k = c.keys;
  if (k.first == 0) {
    if (k.last != 0 || k.step != 0) fail(c.name, "has key positions without a first key");
  } else {
    if (k.first < 0 || k.first >= least) fail(c.name, "has a first key past its arity");
    if (k.step < 1) fail(c.name, "has a key step below 1");
    if (k.last != -1 && (k.last < k.first || (c.arity > 0 && k.last >= c.arity))) {
      fail(c.name, "has a last key outside its arity");
    }
  }
  if (c.summary.empty() || c.since.empty() || c.group.empty()) fail(c.name, "lacks its docs");
  const bool container = !c.subcommands.empty();
  if (is_subcommand && container) fail(c.name, "nests containers");
  // Exactly one handler, the async one iff the command is a barrier; a container may add a
  // handler for its bare form (COMMAND) or have none (CLIENT, CONFIG).
  if (c.sync != nullptr && c.async != nullptr) fail(c.name, "has two handlers");
  if (!container && c.sync == nullptr && c.async == nullptr) fail(c.name, "has no handler");
  if (((c.flags & kCmdAllShards) != 0) != (c.async != nullptr)) {
    fail(c.name, "must be flagged all-shards iff its handler is async");
  }
  for (std::size_t i = 0; i < c.subcommands.size(); ++i) {
    check_row(c.subcommands[i], true);
    for (std::size_t j = 0; j < i; ++j) {
      if (c.subcommands[j].name == c.subcommands[i].name) fail(c.name, "repeats a subcommand");
    }
  }
}

// Every command, sorted, and an index by name: an open-addressing table of kSlots slots (load
// under one half), hashed on the name's length and three of its letters, probed linearly. A name
// is ASCII-lowercased into a stack buffer first; one longer than the longest command cannot match
// and is never copied. A lookup is a few loads and one memcmp, with no allocation: it runs for
// every command a client sends.
class Table {
 public:
  Table() {
    for (auto family :
         {string_commands(), keyspace_commands(), connection_commands(), server_commands(),
          introspection_commands(), expiry_commands(), transaction_commands(), slowlog_commands(),
          persistence_commands(), monitor_commands()}) {
      rows_.insert(rows_.end(), family.begin(), family.end());
    }
    std::sort(rows_.begin(), rows_.end(),
              [](const CommandSpec& a, const CommandSpec& b) { return a.name < b.name; });
    if (rows_.size() * 2 > kSlots) fail(rows_.back().name, "does not fit: raise kSlots");
    for (const CommandSpec& c : rows_) {
      check_row(c, false);
      if (c.name.size() > kMaxNameLen) fail(c.name, "is longer than kMaxNameLen");
      if (find_lower(c.name) != nullptr) fail(c.name, "is declared twice");
      std::size_t i = slot_of(c.name);
      while (slots_[i] != nullptr) i = (i + 1) % kSlots;
      slots_[i] = &c;
      longest_ = std::max(longest_, c.name.size());
    }
    // Dense indexes for the statistics: 1..n, each command followed by its subcommands.
    names_.emplace_back();
    for (const CommandSpec& c : rows_) {
      first_index_.push_back(static_cast<unsigned>(names_.size()));
      names_.emplace_back(c.name);
      for (const CommandSpec& sub : c.subcommands) {
        names_.push_back(std::string(c.name) + "|" + std::string(sub.name));
      }
    }
  }

  unsigned index_of(const CommandSpec& c, const CommandSpec* sub) const {
    const auto row = static_cast<std::size_t>(&c - rows_.data());
    if (row >= rows_.size()) throw std::logic_error("command table: a command not in the table");
    const unsigned first = first_index_[row];
    if (sub == nullptr) return first;
    return first + 1 + static_cast<unsigned>(sub - c.subcommands.data());
  }
  const std::string& name_of(unsigned index) const { return names_.at(index); }
  unsigned count() const { return static_cast<unsigned>(names_.size() - 1); }

  std::span<const CommandSpec> rows() const { return rows_; }

  const CommandSpec* find(std::string_view name) const {
    if (name.empty() || name.size() > longest_) return nullptr;
    char lower[kMaxNameLen];
    for (std::size_t i = 0; i < name.size(); ++i) lower[i] = protocol::ascii_lower(name[i]);
    return find_lower(std::string_view(lower, name.size()));
  }

 private:
  static constexpr std::size_t kMaxNameLen = 32;
  static constexpr std::size_t kSlots = 256;  // a power of two

  static std::size_t slot_of(std::string_view lower) {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(lower[i]); };
    const std::uint32_t h = static_cast<std::uint32_t>(lower.size()) ^ (at(0) << 8) ^
                            (at(lower.size() / 2) << 16) ^ (at(lower.size() - 1) << 24);
    return (h * 0x9e3779b1u) >> 24;  // the top 8 bits: kSlots == 256
  }

  // `lower` is non-empty and lowercase.
  const CommandSpec* find_lower(std::string_view lower) const {
    for (std::size_t i = slot_of(lower);; i = (i + 1) % kSlots) {
      const CommandSpec* c = slots_[i];
      if (c == nullptr || c->name == lower) return c;
    }
  }

  std::vector<CommandSpec> rows_;  // never resized after construction: slots_ point into it
  std::array<const CommandSpec*, kSlots> slots_{};
  std::size_t longest_ = 0;
  std::vector<unsigned> first_index_;  // per row: the command's statistics index
  std::vector<std::string> names_;     // by statistics index ("" at 0)
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const CommandSpec* find_command(std::string_view name) { return table().find(name); }

std::span<const CommandSpec> command_table() { return table().rows(); }

unsigned command_stats::count() { return table().count(); }
unsigned command_stats::index_of(const CommandSpec& command, const CommandSpec* subcommand) {
  return table().index_of(command, subcommand);
}
const std::string& command_stats::name_of(unsigned index) { return table().name_of(index); }

}  // namespace tessera::server
