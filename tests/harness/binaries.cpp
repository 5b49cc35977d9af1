#include "tests/harness/binaries.hpp"

#include <unistd.h>

#include <cstdlib>

#ifndef SHOPEASY_BINARY_DIR
#error "SHOPEASY_BINARY_DIR must name the build directory (set by the harness CMakeLists)"
#endif

namespace shopeasy::testing {
namespace {

bool is_executable_file(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string binary_path(const char* name) {
  const char* override_dir = std::getenv("SHOPEASY_BIN_DIR");
  if (override_dir != nullptr && *override_dir != '\0') {
    return (std::filesystem::path(override_dir) / name).string();
  }
  return (std::filesystem::path(SHOPEASY_BINARY_DIR) / "bin" / name).string();
}

std::optional<std::filesystem::path> find_executable(std::string_view name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string_view::npos) {
    std::filesystem::path path(name);
    if (is_executable_file(path)) return path;
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    // An empty PATH entry means the current directory.
    std::filesystem::path candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

}  // namespace shopeasy::testing
