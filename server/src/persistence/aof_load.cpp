// The append-only file at start-up: the manifest, a fresh directory, replaying the files, and
// opening the last incr file (design note in tessera/server/persistence/aof.hpp).
#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <future>
#include <tessera/protocol/ascii.hpp>
#include <tessera/protocol/reply_writer.hpp>
#include <tessera/server/in_process_session.hpp>
#include <tessera/server/persistence/aof.hpp>
#include <tessera/server/persistence/aof_files.hpp>
#include <tessera/server/persistence/persistence.hpp>
#include <tessera/server/persistence/rdb.hpp>

namespace tessera::server {

namespace aof_files {

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t k = ::write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

bool fsync_dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

std::string replace_file(const std::string& path, std::string_view content) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fmt::format("can't open {}: {}", tmp, std::strerror(errno));
  bool ok = write_all(fd, content.data(), content.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int why = ok ? errno : err;
    ::unlink(tmp.c_str());
    return fmt::format("can't write {}: {}", path, std::strerror(why));
  }
  if (!fsync_dir_of(path)) return fmt::format("can't fsync the directory of {}", path);
  return {};
}

}  // namespace aof_files

namespace {

std::string read_whole(const std::string& path, bool* missing = nullptr) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (missing != nullptr) *missing = fd < 0 && errno == ENOENT;
  if (fd < 0) return {};
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    out.append(buf, static_cast<std::size_t>(k));
  }
  ::close(fd);
  return out;
}

// One command at the start of `data`: kWhole (its length in *len, its name and first argument),
// kShort (cut short), kBad (not a command). aof.c loadSingleAppendOnlyFile's grammar.
enum class Parsed { kWhole, kShort, kBad };
Parsed parse_one(std::string_view data, std::size_t* len, std::string_view* name,
                 std::string_view* arg1) {
  std::size_t pos = 0;
  auto number = [&](char lead, std::int64_t* out) -> Parsed {
    if (pos >= data.size()) return Parsed::kShort;
    if (data[pos] != lead) return Parsed::kBad;
    const std::size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      return data.size() - pos > 32 ? Parsed::kBad : Parsed::kShort;
    }
    const auto [p, ec] = std::from_chars(data.data() + pos + 1, data.data() + eol, *out);
    if (ec != std::errc() || p != data.data() + eol || *out < 0) return Parsed::kBad;
    pos = eol + 2;
    return Parsed::kWhole;
  };
  std::int64_t argc = 0;
  if (Parsed r = number('*', &argc); r != Parsed::kWhole) return r;
  if (argc < 1) return Parsed::kBad;
  for (std::int64_t i = 0; i < argc; ++i) {
    std::int64_t n = 0;
    if (Parsed r = number('$', &n); r != Parsed::kWhole) return r;
    if (data.size() - pos < static_cast<std::uint64_t>(n) + 2) return Parsed::kShort;
    if (data.substr(pos + static_cast<std::size_t>(n), 2) != "\r\n") return Parsed::kBad;
    const std::string_view a = data.substr(pos, static_cast<std::size_t>(n));
    if (i == 0) *name = a;
    if (i == 1) *arg1 = a;
    pos += static_cast<std::size_t>(n) + 2;
  }
  if (argc < 2) *arg1 = {};
  *len = pos;
  return Parsed::kWhole;
}

// The first top-level error reply in `replies` (RESP2) starting with `prefix`, or "".
std::string_view find_error(std::string_view replies, std::string_view prefix) {
  std::size_t pos = 0;
  // Skips one reply; false when malformed (never: the server wrote it).
  auto skip = [&](auto&& self) -> bool {
    if (pos >= replies.size()) return false;
    const char type = replies[pos];
    const std::size_t eol = replies.find("\r\n", pos);
    if (eol == std::string_view::npos) return false;
    std::int64_t n = 0;
    std::from_chars(replies.data() + pos + 1, replies.data() + eol, n);
    pos = eol + 2;
    if (type == '$' && n >= 0) pos += static_cast<std::size_t>(n) + 2;
    if (type == '*') {
      for (std::int64_t i = 0; i < n; ++i) {
        if (!self(self)) return false;
      }
    }
    return true;
  };
  while (pos < replies.size()) {
    if (replies[pos] == '-' && replies.substr(pos + 1).starts_with(prefix)) {
      return replies.substr(pos + 1, replies.find("\r\n", pos) - pos - 1);
    }
    if (!skip(skip)) break;
  }
  return {};
}

}  // namespace

const AofFileInfo* AofManifest::base() const {
  for (const auto& f : files) {
    if (f.type == 'b') return &f;
  }
  return nullptr;
}

std::vector<const AofFileInfo*> AofManifest::incrs() const {
  std::vector<const AofFileInfo*> out;
  for (const auto& f : files) {
    if (f.type == 'i') out.push_back(&f);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
  return out;
}

std::string parse_aof_manifest(std::string_view text, AofManifest& out) {
  out.files.clear();
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    // aof.c aofLoadManifestFromFile: key value pairs; file, seq and type are required.
    AofFileInfo info;
    bool has_seq = false, has_type = false;
    std::vector<std::string_view> words;
    for (std::size_t i = 0; i < line.size();) {
      while (i < line.size() && line[i] == ' ') ++i;
      std::size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      if (j > i) words.push_back(line.substr(i, j - i));
      i = j;
    }
    if (words.size() % 2 != 0)
      return fmt::format("Invalid AOF manifest file format (line {})", line_no);
    for (std::size_t k = 0; k < words.size(); k += 2) {
      if (words[k] == "file") {
        info.name = std::string(words[k + 1]);
      } else if (words[k] == "seq") {
        has_seq = std::from_chars(words[k + 1].data(), words[k + 1].data() + words[k + 1].size(),
                                  info.seq)
                      .ec == std::errc();
      } else if (words[k] == "type" && words[k + 1].size() == 1) {
        info.type = words[k + 1][0];
        has_type = info.type == 'b' || info.type == 'i' || info.type == 'h';
      }
    }
    if (info.name.empty() || !has_seq || !has_type || info.name.find('/') != std::string::npos) {
      return fmt::format("Invalid AOF manifest file format (line {})", line_no);
    }
    if (info.type == 'b' && out.base() != nullptr) {
      return "Found duplicate base file information in the AOF manifest";
    }
    out.files.push_back(std::move(info));
  }
  return {};
}

std::string format_aof_manifest(const AofManifest& manifest) {
  std::string out;
  for (const auto& f : manifest.files) {
    fmt::format_to(std::back_inserter(out), "file {} seq {} type {}\n", f.name, f.seq, f.type);
  }
  return out;
}

AofScan scan_aof_commands(std::string_view data) {
  AofScan scan;
  std::size_t pos = 0;
  for (;;) {
    std::size_t len = 0;
    std::string_view name, arg1;
    const Parsed r = parse_one(data.substr(pos), &len, &name, &arg1);
    if (r == Parsed::kBad) scan.bad = pos < data.size();
    if (r != Parsed::kWhole) break;
    pos += len;
    ++scan.commands;
    if (protocol::iequals(name, "multi")) {
      scan.in_multi = true;
      scan.before_multi = pos - len;
    } else if (protocol::iequals(name, "exec")) {
      scan.in_multi = false;
    }
    if (!scan.in_multi) scan.before_multi = pos;
  }
  scan.whole = pos;
  return scan;
}

}  // namespace tessera::server

namespace tessera::server {

namespace {

std::string base_name(const std::string& prefix, std::uint64_t seq, bool rdb) {
  return fmt::format("{}.{}.base.{}", prefix, seq, rdb ? "rdb" : "aof");
}
std::string incr_name(const std::string& prefix, std::uint64_t seq) {
  return fmt::format("{}.{}.incr.aof", prefix, seq);
}

// A base file's content from the stores, as an RDB (aof-base 1) or as commands. Only before the
// shard threads run (or with every store held).
class BaseWriter final : public SnapshotSink {
 public:
  explicit BaseWriter(bool rdb) : rdb_(rdb) {}
  void save(std::string_view key, std::string_view value,
            std::optional<std::int64_t> deadline_ms) override {
    ++keys_;
    if (deadline_ms) ++expires_;
    if (rdb_) {
      rdb::put_string_key(body_, key, value, deadline_ms, true);
    } else if (deadline_ms) {
      protocol::write_command(body_, {"SET", key, value, "PXAT", std::to_string(*deadline_ms)});
    } else {
      protocol::write_command(body_, {"SET", key, value});
    }
  }
  std::string finish(std::uint64_t used_memory) {
    if (!rdb_) return std::move(body_);
    std::string out;
    rdb::put_header(out);
    rdb::put_aux(out, "redis-ver", "7.0.15");
    rdb::put_aux(out, "redis-bits", "64");
    rdb::put_aux(out, "ctime",
                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count()));
    rdb::put_aux(out, "used-mem", std::to_string(used_memory));
    rdb::put_aux(out, "aof-base", "1");
    rdb::put_select_db(out, 0);
    rdb::put_resize_db(out, keys_, expires_);
    out.append(body_);
    rdb::put_eof(out, rdb::crc64(0, out.data(), out.size()));
    return out;
  }

 private:
  bool rdb_;
  std::string body_;
  std::uint64_t keys_ = 0;
  std::uint64_t expires_ = 0;
};

}  // namespace

std::string AppendOnlyFile::load_and_open() {
  std::string prefix;
  bool truncated_ok = true;
  {
    std::lock_guard lock(state_.config_mutex);
    dir_ = state_.config.appenddirname;
    prefix = state_.config.appendfilename;
    prefix_ = prefix;
    truncated_ok = state_.config.aof_load_truncated;
  }
  const std::string manifest_path = dir_ + "/" + prefix + ".manifest";
  bool missing = false;
  const std::string text = read_whole(manifest_path, &missing);
  if (missing) {
    // No AOF yet: start from dump.rdb when there is one (Redis 7.0 would start empty here), and
    // make the directory with a base holding it.
    if (std::string why = persistence_.load(); !why.empty()) return why;
    if (std::string why = create_fresh(); !why.empty()) return why;
  } else {
    if (std::string why = parse_aof_manifest(text, manifest_); !why.empty()) {
      return fmt::format("{}: {}", manifest_path, why);
    }
    const auto incrs = manifest_.incrs();
    const AofFileInfo* base = manifest_.base();
    if (base == nullptr && incrs.empty()) {
      return fmt::format("The AOF manifest {} names no file", manifest_path);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t before_maxmemory = state_.store.maxmemory.exchange(0);
    std::uint64_t commands = 0, size = 0;
    std::string why;
    if (base != nullptr) {
      const std::string path = dir_ + "/" + base->name;
      bool base_missing = false;
      std::string head = read_whole(path, &base_missing).substr(0, 5);
      if (base_missing) {
        why = fmt::format("The AOF file {} doesn't exist", path);
      } else if (head == "REDIS") {
        why = persistence_.load_rdb(path, false);
      } else {
        shards_.start();
        why = replay_file(path, incrs.empty() && truncated_ok, &commands);
      }
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) base_size_ = static_cast<std::uint64_t>(st.st_size);
      size += base_size_;
    }
    for (std::size_t i = 0; why.empty() && i < incrs.size(); ++i) {
      shards_.start();
      const std::string path = dir_ + "/" + incrs[i]->name;
      why = replay_file(path, i + 1 == incrs.size() && truncated_ok, &commands);
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0) size += static_cast<std::uint64_t>(st.st_size);
    }
    state_.store.maxmemory.store(before_maxmemory);
    if (!why.empty()) return why;
    current_size_ = size;
    std::uint64_t keys = 0;
    for (unsigned s = 0; s < shards_.size(); ++s) {
      std::promise<std::size_t> n;
      shards_.start();
      shards_.post(s, [&, s] { n.set_value(shards_.shard(s).store().count()); });
      keys += n.get_future().get();
    }
    spdlog::info(
        "DB loaded from append only file: {:.3f} seconds ({} keys, {} commands replayed, "
        "{} bytes in {})",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), keys,
        commands, size, dir_);
    persistence_.mark_clean();
    if (incrs.empty()) {
      // A base alone (Redis writes none such, but may): appends go to a new incr file.
      const std::uint64_t seq = base != nullptr ? base->seq : 1;
      manifest_.files.push_back({incr_name(prefix, seq), seq, 'i'});
      if (std::string err = open_incr(manifest_.files.back().name); !err.empty()) return err;
      if (std::string err = aof_files::replace_file(manifest_path, format_aof_manifest(manifest_));
          !err.empty()) {
        return "Can't persist the AOF manifest: " + err;
      }
    } else if (std::string err = open_incr(incrs.back()->name); !err.empty()) {
      return err;
    }
  }
  state_.aof = this;
  attach(this);
  writer_ = std::thread([this] { writer_loop(); });
  return {};
}

std::string AppendOnlyFile::create_fresh() {
  std::string prefix;
  bool preamble = true;
  {
    std::lock_guard lock(state_.config_mutex);
    prefix = state_.config.appendfilename;
    preamble = state_.config.aof_use_rdb_preamble;
  }
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return fmt::format("Can't create the append-only directory {}: {}", dir_, std::strerror(errno));
  }
  // The stores are not running yet: walk them here.
  BaseWriter writer(preamble);
  for (unsigned s = 0; s < shards_.size(); ++s) {
    Store& store = shards_.shard(s).store();
    store.begin_snapshot(&writer);
    for (std::uint64_t c = store.snapshot_step(0, 1024); c != 0; c = store.snapshot_step(c, 1024)) {
    }
  }
  const std::string base = base_name(prefix, 1, preamble);
  const std::string content = writer.finish(shards_.used_memory());
  if (std::string err = aof_files::replace_file(dir_ + "/" + base, content); !err.empty()) {
    return "Can't write the AOF base file: " + err;
  }
  base_size_ = content.size();
  current_size_ = content.size();
  manifest_.files = {{base, 1, 'b'}, {incr_name(prefix, 1), 1, 'i'}};
  if (std::string err = open_incr(manifest_.files.back().name); !err.empty()) return err;
  if (std::string err = aof_files::replace_file(dir_ + "/" + prefix + ".manifest",
                                                format_aof_manifest(manifest_));
      !err.empty()) {
    return "Can't persist the AOF manifest: " + err;
  }
  spdlog::info("Creating AOF base file {} on server start", base);
  spdlog::info("Creating AOF incr file {} on server start", manifest_.files.back().name);
  return {};
}

std::string AppendOnlyFile::open_incr(const std::string& name) {
  const std::string path = dir_ + "/" + name;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    return fmt::format("Can't open the append-only file {}: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size == 0) {
    // Redis starts every incr file with the SELECT of its first command's database.
    std::string select;
    protocol::write_command(select, {"SELECT", "0"});
    if (!aof_files::write_all(fd_, select.data(), select.size())) {
      return fmt::format("Can't write the append-only file {}: {}", path, std::strerror(errno));
    }
    current_size_ += select.size();
  }
  if (::fsync(fd_) != 0 || !aof_files::fsync_dir_of(path)) {
    return fmt::format("Can't fsync the append-only file {}: {}", path, std::strerror(errno));
  }
  return {};
}

void AppendOnlyFile::attach(ChangeLog* log) {
  if (!shards_.running()) {
    for (unsigned s = 0; s < shards_.size(); ++s) shards_.shard(s).store().set_change_log(log);
    return;
  }
  for (unsigned s = 0; s < shards_.size(); ++s) {
    std::promise<void> done;
    shards_.post(s, [&, s] {
      shards_.shard(s).store().set_change_log(log);
      done.set_value();
    });
    done.get_future().get();
  }
}

std::string AppendOnlyFile::replay_file(const std::string& path, bool may_truncate,
                                        std::uint64_t* commands) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fmt::format("The AOF file {} can't be opened: {}", path, std::strerror(errno));
  InProcessSession session(shards_, state_, 0);
  session.authenticate();
  constexpr std::size_t kChunk = 4 << 20;
  std::string buf;
  std::uint64_t consumed = 0;  // file offset of buf[0]
  std::uint64_t valid = 0;     // file offset after the last whole command outside a MULTI
  bool in_multi = false;
  bool eof = false;
  std::string error;
  std::vector<char> block(kChunk);
  while (error.empty()) {
    if (!eof) {
      const ssize_t k = ::read(fd, block.data(), block.size());
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        error = fmt::format("Error reading the AOF file {}: {}", path, std::strerror(errno));
        break;
      }
      if (k == 0) eof = true;
      buf.append(block.data(), static_cast<std::size_t>(std::max<ssize_t>(k, 0)));
    }
    std::size_t pos = 0;
    Parsed r = Parsed::kShort;
    while (pos < buf.size()) {
      std::size_t len = 0;
      std::string_view name, arg1;
      r = parse_one(std::string_view(buf).substr(pos), &len, &name, &arg1);
      if (r != Parsed::kWhole) break;
      if (protocol::iequals(name, "select") && arg1 != "0") {
        error = fmt::format(
            "The AOF file {} selects database {} at offset {}: Tessera has one "
            "database",
            path, arg1, consumed + pos);
        break;
      }
      pos += len;
      ++*commands;
      if (protocol::iequals(name, "multi")) in_multi = true;
      if (protocol::iequals(name, "exec")) in_multi = false;
      if (!in_multi) valid = consumed + pos;
    }
    if (!error.empty()) break;
    if (r == Parsed::kBad) {
      error = fmt::format(
          "Bad file format reading the append only file {} at offset {}: make a "
          "backup of your AOF file, then use ./redis-check-aof --fix <filename>",
          path, consumed + pos);
      break;
    }
    if (pos > 0) {
      const std::string replies = session.send(std::string_view(buf).substr(0, pos));
      if (const auto e = find_error(replies, "ERR unknown command"); !e.empty()) {
        error = fmt::format("Error replaying the AOF file {}: {} (Tessera stores strings only)",
                            path, e);
        break;
      }
      buf.erase(0, pos);
      consumed += pos;
    }
    if (eof) break;
  }
  ::close(fd);
  if (!error.empty()) return error;
  const std::uint64_t size = consumed + buf.size();
  if (valid < size) {
    // aof.c: the file ends inside a command or inside MULTI ... EXEC.
    if (!may_truncate) {
      return fmt::format(
          "Unexpected end of file reading the append only file {} (offset {}). "
          "You can: 1) Make a backup of your AOF file, then use ./redis-check-aof "
          "--fix <filename.manifest>. 2) Alternatively you can set the "
          "'aof-load-truncated' configuration option to yes and restart the server.",
          path, valid);
    }
    spdlog::warn("!!! Warning: short read while loading the AOF file {}!!!", path);
    spdlog::warn("!!! Truncating the AOF {} at offset {} !!!", path, valid);
    if (::truncate(path.c_str(), static_cast<off_t>(valid)) != 0) {
      return fmt::format("Error truncating the AOF file {}: {}", path, std::strerror(errno));
    }
    spdlog::warn("AOF {} loaded anyway because aof-load-truncated is enabled", path);
  }
  return {};
}

}  // namespace tessera::server
