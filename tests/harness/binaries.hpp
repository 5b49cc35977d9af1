// Locating programs for integration tests: the project's own daemons and tools, and
// external programs such as mosquitto.
//
// Project binaries are looked up in the directory named by the environment variable
// SHOPEASY_BIN_DIR when it is set (e.g. to test an installed build), otherwise in the
// bin/ directory of the build tree this harness was compiled in, where the build puts
// every executable (CMAKE_RUNTIME_OUTPUT_DIRECTORY = <build>/bin).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace shopeasy::testing {

// "<SHOPEASY_BIN_DIR>/<name>" or "<build dir>/bin/<name>". Does not check that the
// file exists; spawning a missing binary fails with kNotFound naming the path.
std::string binary_path(const char* name);

// An executable file: `name` itself if it contains '/', else the first match in the
// directories of PATH. nullopt if there is none.
std::optional<std::filesystem::path> find_executable(std::string_view name);

}  // namespace shopeasy::testing
