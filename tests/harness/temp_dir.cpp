#include "tests/harness/temp_dir.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <system_error>
#include <vector>

namespace shopeasy::testing {
namespace {

bool keep_dirs_requested() {
  const char* keep = std::getenv("SHOPEASY_KEEP_TEST_DIRS");
  return keep != nullptr && std::string_view(keep) == "1";
}

// Confines helper file names to the directory so a typo cannot write elsewhere.
Status check_relative_name(std::string_view name) {
  if (name.empty()) return invalid_argument("file name is empty", "name");
  std::filesystem::path p(name);
  if (p.is_absolute()) return invalid_argument("file name must be relative", "name");
  for (const auto& part : p) {
    if (part == "..") return invalid_argument("file name must not contain '..'", "name");
  }
  return Status::ok();
}

}  // namespace

StatusOr<TempDir> TempDir::create(std::string_view prefix) {
  if (prefix.empty()) return invalid_argument("prefix is empty", "prefix");
  if (prefix.find('/') != std::string_view::npos) {
    return invalid_argument("prefix must not contain '/'", "prefix");
  }
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) return unavailable("no temporary directory: " + ec.message());
  std::string pattern = (base / prefix).string() + "-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return unavailable("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return TempDir(std::filesystem::path(buffer.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove_now();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { remove_now(); }

void TempDir::remove_now() noexcept {
  if (path_.empty()) return;
  if (keep_dirs_requested()) {
    std::cerr << "[harness] keeping test directory " << path_.string() << "\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  path_.clear();
}

std::filesystem::path TempDir::file(std::string_view name) const { return path_ / name; }

Status TempDir::write_file(std::string_view name, std::string_view contents) const {
  SHOPEASY_RETURN_IF_ERROR(check_relative_name(name));
  std::filesystem::path target = file(name);
  std::error_code ec;
  std::filesystem::create_directories(target.parent_path(), ec);
  if (ec)
    return unavailable("cannot create " + target.parent_path().string() + ": " + ec.message());
  std::ofstream out(target, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) return unavailable("cannot write " + target.string());
  return Status::ok();
}

StatusOr<std::string> TempDir::read_file(std::string_view name) const {
  SHOPEASY_RETURN_IF_ERROR(check_relative_name(name));
  std::filesystem::path target = file(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(target, ec)) return not_found("no file " + target.string());
  std::ifstream in(target, std::ios::binary);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return unavailable("cannot read " + target.string());
  return contents;
}

void copy_state_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& entry : fs::directory_iterator(to)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find(".db") != std::string::npos &&
        !fs::exists(from / name)) {
      fs::remove(entry);
    }
  }
  for (const auto& entry : fs::directory_iterator(from)) {
    if (!entry.is_regular_file()) continue;
    fs::copy_file(entry.path(), to / entry.path().filename(), fs::copy_options::overwrite_existing);
  }
}

}  // namespace shopeasy::testing
