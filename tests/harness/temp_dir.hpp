// TempDir: a private scratch directory for one test (config files, databases, logs of
// the processes it starts). Created with mkdtemp under the system temporary directory
// ($TMPDIR or /tmp) and removed with everything in it when the TempDir is destroyed,
// unless the environment variable SHOPEASY_KEEP_TEST_DIRS=1 asks to keep it for
// post-mortem inspection (its path is then printed to stderr).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::testing {

class TempDir {
 public:
  // Creates "<tmp>/<prefix>-XXXXXX" (mode 0700). `prefix` must be non-empty and must not
  // contain '/'; otherwise kInvalidArgument. kUnavailable if the directory cannot be made.
  static StatusOr<TempDir> create(std::string_view prefix = "shopeasy-test");

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Removes the directory recursively (errors ignored) unless SHOPEASY_KEEP_TEST_DIRS=1.
  ~TempDir();

  // Absolute path of the directory; empty for a moved-from TempDir.
  const std::filesystem::path& path() const { return path_; }
  // path() / name. Does not create anything.
  std::filesystem::path file(std::string_view name) const;
  // Writes `contents` to path()/name, replacing any existing file and creating parent
  // directories. `name` must be relative and must not contain ".." (kInvalidArgument);
  // I/O failures give kUnavailable.
  Status write_file(std::string_view name, std::string_view contents) const;
  // Reads path()/name whole. kNotFound if it does not exist, kInvalidArgument for a bad
  // name as in write_file.
  StatusOr<std::string> read_file(std::string_view name) const;

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  void remove_now() noexcept;

  std::filesystem::path path_;
};

// A file-level backup or restore of a stopped daemon's state directory, as an operator
// would do it: `to` ends up holding a copy of every regular file of `from`, and database
// files in `to` that `from` lacks (a WAL left by a later run) are removed so they cannot
// be replayed over the restored copy. Creates `to` if needed. Throws
// std::filesystem::filesystem_error on I/O failure (tests only).
void copy_state_dir(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace shopeasy::testing
