// File helpers of the persistence layer: whole writes, fsync of a file and of its directory, and
// the temp-fsync-rename replacement every file the server rewrites goes through.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tessera::server::aof_files {

// write() until all of it is written; false (errno set) on an error.
bool write_all(int fd, const char* p, std::size_t n);
// fsync of the directory holding `path` ("." for a bare name); false (errno set) on an error.
bool fsync_dir_of(const std::string& path);
// Writes `content` to `path` through `path`.tmp: write, fsync, rename, fsync the directory. ""
// on success, else what failed (the previous file is left as it was).
std::string replace_file(const std::string& path, std::string_view content);

}  // namespace tessera::server::aof_files
