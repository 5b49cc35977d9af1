// Configuration as a table. Each program declares a Schema: one Option per key with
// its type, default, bounds, validator and help, and whether it may change at run
// time. One generic loader then reads, in increasing priority, the defaults, a JSON
// file (nested objects map to dotted keys: {"http":{"port":80}} is "http.port"),
// environment variables (PREFIX + key upper-cased, dots as underscores:
// SHOPEASY_EDGE_HTTP_PORT) and command-line flags (--http.port=80). Every problem is
// collected, each naming its key and where the value came from, so an operator fixes
// a bad file in one go. Programs exit with code 2 on any of them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::config {

enum class Type { kString, kInt, kDouble, kBool, kJson };

using Value = std::variant<std::string, std::int64_t, double, bool, nlohmann::json>;

// One row of the option table.
struct Option {
  std::string key;  // dotted, lower-case: "mqtt.port"
  Type type = Type::kString;
  Value default_value;
  std::string help;
  std::optional<double> min;         // numbers: inclusive lower bound
  std::optional<double> max;         // numbers: inclusive upper bound
  std::vector<std::string> choices;  // strings: the allowed values, if non-empty
  // Extra check beyond type and bounds; returns a message, empty when valid.
  std::function<std::string(const Value&)> validator;
  bool reloadable = false;  // may change on SIGHUP without a restart
  bool secret = false;      // never printed; shown as "<redacted>"
};

// Builders that keep option tables readable, one line per option.
Option string_option(std::string key, std::string def, std::string help);
Option int_option(std::string key, std::int64_t def, std::int64_t min, std::int64_t max,
                  std::string help);
Option double_option(std::string key, double def, double min, double max, std::string help);
Option bool_option(std::string key, bool def, std::string help);
Option json_option(std::string key, nlohmann::json def, std::string help);
Option choice_option(std::string key, std::string def, std::vector<std::string> choices,
                     std::string help);

class Schema {
 public:
  // Adds an option; a duplicate key or a default that fails its own bounds is a bug
  // and aborts.
  Schema& add(Option option);
  const Option* find(std::string_view key) const;
  const std::vector<Option>& options() const { return options_; }

 private:
  std::vector<Option> options_;
};

enum class Origin { kDefault, kFile, kEnv, kFlag };
std::string_view origin_name(Origin origin);

// The loaded, validated values. Getters of a key that is not in the schema, or of the
// wrong type, are bugs and abort.
class Config {
 public:
  const std::string& get_string(std::string_view key) const;
  std::int64_t get_int(std::string_view key) const;
  double get_double(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const nlohmann::json& get_json(std::string_view key) const;
  Origin origin(std::string_view key) const;
  // Every key with its value and origin; secrets redacted. For --print-config.
  nlohmann::json describe() const;
  // Keys whose value differs between the two configs.
  std::vector<std::string> changed_keys(const Config& other) const;

 private:
  friend class Loader;
  struct Entry {
    Value value;
    Origin origin = Origin::kDefault;
    bool secret = false;  // copied from the Option: a Config outlives its Schema
  };
  const Entry& entry(std::string_view key) const;
  std::map<std::string, Entry, std::less<>> entries_;
};

// What a program was started with, after the command line was split.
struct Sources {
  std::optional<std::string> file_path;                    // --config FILE
  std::map<std::string, std::string> env;                  // the whole environment
  std::string env_prefix;                                  // "SHOPEASY_EDGE_"
  std::vector<std::pair<std::string, std::string>> flags;  // key -> text value
};

// Loads and validates. On failure the Status is kInvalidArgument, its field the first
// bad key, and its message lists every problem, one per line.
StatusOr<Config> load(const Schema& schema, const Sources& sources);

// The parsed command line of a daemon.
struct CommandLine {
  std::optional<std::string> config_path;
  bool check_config = false;  // validate and exit
  bool print_config = false;  // print the effective config (secrets redacted) and exit
  bool help = false;
  bool version = false;
  std::vector<std::pair<std::string, std::string>> flags;  // --key=value overrides
};

// Parses argv: --config FILE, --check-config, --print-config, --help, --version, and
// --KEY=VALUE or --KEY VALUE for any schema key. An unknown flag, a missing value or
// a stray positional argument is kInvalidArgument naming it.
StatusOr<CommandLine> parse_command_line(const Schema& schema, int argc, const char* const* argv);

// Help text listing every option with type, default, bounds and help.
std::string usage(const Schema& schema, std::string_view program, std::string_view env_prefix);

// Reads the process environment into a map (the one place that reads environ).
std::map<std::string, std::string> process_environment();

}  // namespace shopeasy::config
