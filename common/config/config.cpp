#include "common/config/config.hpp"

#include <unistd.h>

#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

namespace shopeasy::config {

namespace {

[[noreturn]] void config_bug(const std::string& message) {
  std::fprintf(stderr, "config bug: %s\n", message.c_str());
  std::abort();
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kString:
      return "a string";
    case Type::kInt:
      return "an integer";
    case Type::kDouble:
      return "a number";
    case Type::kBool:
      return "a boolean";
    case Type::kJson:
      return "a JSON value";
  }
  return "?";
}

std::string format_number(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(v));
  }
  std::ostringstream out;
  out << v;
  return out.str();
}

// Checks type-independent constraints: bounds, choices and the custom validator.
std::string check_constraints(const Option& opt, const Value& value) {
  double number = 0;
  bool is_number = false;
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    number = static_cast<double>(*i);
    is_number = true;
  } else if (const auto* d = std::get_if<double>(&value)) {
    number = *d;
    is_number = true;
  }
  if (is_number) {
    if (!std::isfinite(number)) return "must be a finite number";
    if ((opt.min && number < *opt.min) || (opt.max && number > *opt.max)) {
      return format_number(number) + " is out of range [" +
             (opt.min ? format_number(*opt.min) : "-inf") + ", " +
             (opt.max ? format_number(*opt.max) : "inf") + "]";
    }
  }
  if (!opt.choices.empty()) {
    const auto& s = std::get<std::string>(value);
    bool found = false;
    std::string list;
    for (const auto& c : opt.choices) {
      found = found || c == s;
      list += (list.empty() ? "" : ", ") + c;
    }
    if (!found) return "'" + s + "' is not one of: " + list;
  }
  if (opt.validator) return opt.validator(value);
  return {};
}

// Converts a JSON value from the config file to the option's type.
std::optional<Value> from_json(const Option& opt, const nlohmann::json& j) {
  switch (opt.type) {
    case Type::kString:
      if (j.is_string()) return Value(j.get<std::string>());
      return std::nullopt;
    case Type::kInt:
      if (j.is_number_integer()) {
        if (j.is_number_unsigned() && j.get<std::uint64_t>() > INT64_MAX) return std::nullopt;
        return Value(j.get<std::int64_t>());
      }
      return std::nullopt;
    case Type::kDouble:
      if (j.is_number()) return Value(j.get<double>());
      return std::nullopt;
    case Type::kBool:
      if (j.is_boolean()) return Value(j.get<bool>());
      return std::nullopt;
    case Type::kJson:
      return Value(j);
  }
  return std::nullopt;
}

// Converts text from the environment or a flag to the option's type.
std::optional<Value> from_text(const Option& opt, const std::string& text) {
  switch (opt.type) {
    case Type::kString:
      return Value(text);
    case Type::kInt: {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
        return std::nullopt;
      }
      return Value(v);
    }
    case Type::kDouble: {
      if (text.empty()) return std::nullopt;
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size()) return std::nullopt;
      return Value(v);
    }
    case Type::kBool:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return Value(true);
      if (text == "false" || text == "0" || text == "no" || text == "off") return Value(false);
      return std::nullopt;
    case Type::kJson: {
      auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded()) return std::nullopt;
      return Value(std::move(j));
    }
  }
  return std::nullopt;
}

std::string env_name(std::string_view prefix, std::string_view key) {
  std::string name(prefix);
  for (char c : key) {
    name += (c == '.' || c == '-') ? '_'
                                   : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

nlohmann::json to_json(const Value& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

// 1-based line and column of a byte offset, for parse errors in the file.
std::pair<int, int> line_col(const std::string& text, std::size_t offset) {
  int line = 1;
  int col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

}  // namespace

Option string_option(std::string key, std::string def, std::string help) {
  Option o;
  o.key = std::move(key);
  o.type = Type::kString;
  o.default_value = std::move(def);
  o.help = std::move(help);
  return o;
}

Option int_option(std::string key, std::int64_t def, std::int64_t min, std::int64_t max,
                  std::string help) {
  Option o;
  o.key = std::move(key);
  o.type = Type::kInt;
  o.default_value = def;
  o.min = static_cast<double>(min);
  o.max = static_cast<double>(max);
  o.help = std::move(help);
  return o;
}

Option double_option(std::string key, double def, double min, double max, std::string help) {
  Option o;
  o.key = std::move(key);
  o.type = Type::kDouble;
  o.default_value = def;
  o.min = min;
  o.max = max;
  o.help = std::move(help);
  return o;
}

Option bool_option(std::string key, bool def, std::string help) {
  Option o;
  o.key = std::move(key);
  o.type = Type::kBool;
  o.default_value = def;
  o.help = std::move(help);
  return o;
}

Option json_option(std::string key, nlohmann::json def, std::string help) {
  Option o;
  o.key = std::move(key);
  o.type = Type::kJson;
  o.default_value = std::move(def);
  o.help = std::move(help);
  return o;
}

Option choice_option(std::string key, std::string def, std::vector<std::string> choices,
                     std::string help) {
  Option o = string_option(std::move(key), std::move(def), std::move(help));
  o.choices = std::move(choices);
  return o;
}

Schema& Schema::add(Option option) {
  if (find(option.key)) config_bug("duplicate option " + option.key);
  const std::string problem = check_constraints(option, option.default_value);
  if (!problem.empty()) config_bug("default of " + option.key + ": " + problem);
  options_.push_back(std::move(option));
  return *this;
}

const Option* Schema::find(std::string_view key) const {
  for (const auto& o : options_) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

std::string_view origin_name(Origin origin) {
  switch (origin) {
    case Origin::kDefault:
      return "default";
    case Origin::kFile:
      return "file";
    case Origin::kEnv:
      return "env";
    case Origin::kFlag:
      return "flag";
  }
  return "?";
}

const Config::Entry& Config::entry(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) config_bug("unknown key " + std::string(key));
  return it->second;
}

template <typename T>
static const T& typed(const Value& v, std::string_view key) {
  const T* p = std::get_if<T>(&v);
  if (!p) config_bug("wrong type requested for " + std::string(key));
  return *p;
}

const std::string& Config::get_string(std::string_view key) const {
  return typed<std::string>(entry(key).value, key);
}
std::int64_t Config::get_int(std::string_view key) const {
  return typed<std::int64_t>(entry(key).value, key);
}
double Config::get_double(std::string_view key) const {
  return typed<double>(entry(key).value, key);
}
bool Config::get_bool(std::string_view key) const { return typed<bool>(entry(key).value, key); }
const nlohmann::json& Config::get_json(std::string_view key) const {
  return typed<nlohmann::json>(entry(key).value, key);
}
Origin Config::origin(std::string_view key) const { return entry(key).origin; }

nlohmann::json Config::describe() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, e] : entries_) {
    out[key] = {{"value", e.secret ? nlohmann::json("<redacted>") : to_json(e.value)},
                {"origin", origin_name(e.origin)}};
  }
  return out;
}

std::vector<std::string> Config::changed_keys(const Config& other) const {
  std::vector<std::string> keys;
  for (const auto& [key, e] : entries_) {
    auto it = other.entries_.find(key);
    if (it == other.entries_.end() || !(it->second.value == e.value)) keys.push_back(key);
  }
  return keys;
}

// Builds a Config from the layered sources, collecting every problem.
class Loader {
 public:
  explicit Loader(const Schema& schema) : schema_(schema) {
    for (const auto& o : schema.options()) {
      config_.entries_[o.key] = Config::Entry{o.default_value, Origin::kDefault, o.secret};
    }
  }

  void load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      problem("", "cannot read config file " + path);
      return;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    try {
      const auto doc = nlohmann::json::parse(text);
      if (!doc.is_object()) {
        problem("", path + ": the top level must be a JSON object");
        return;
      }
      walk(doc, "", path);
    } catch (const nlohmann::json::parse_error& e) {
      auto [line, col] = line_col(text, e.byte == 0 ? 0 : e.byte - 1);
      // The parser quotes the text it last read, which may be a secret's value.
      std::string what = e.what();
      if (const std::size_t quoted = what.find("; last read"); quoted != std::string::npos) {
        what.resize(quoted);
      }
      problem("", path + ":" + std::to_string(line) + ":" + std::to_string(col) +
                      ": malformed JSON (" + what + ")");
    }
  }

  void load_env(const std::map<std::string, std::string>& env, const std::string& prefix) {
    if (prefix.empty()) return;
    for (const auto& [name, text] : env) {
      if (name.rfind(prefix, 0) != 0) continue;
      const Option* opt = nullptr;
      for (const auto& o : schema_.options()) {
        if (env_name(prefix, o.key) == name) opt = &o;
      }
      if (!opt) {
        problem(name, "unknown environment variable " + name);
        continue;
      }
      set_from_text(*opt, text, Origin::kEnv, "environment variable " + name);
    }
  }

  void load_flags(const std::vector<std::pair<std::string, std::string>>& flags) {
    for (const auto& [key, text] : flags) {
      const Option* opt = schema_.find(key);
      if (!opt) {
        problem(key, "unknown option --" + key);
        continue;
      }
      set_from_text(*opt, text, Origin::kFlag, "flag --" + key);
    }
  }

  StatusOr<Config> finish() {
    if (problems_.empty()) return std::move(config_);
    std::string message = std::to_string(problems_.size()) + " configuration problem" +
                          (problems_.size() == 1 ? "" : "s") + ":";
    for (const auto& p : problems_) message += "\n  " + p;
    return Status(StatusCode::kInvalidArgument, message, first_key_);
  }

 private:
  void walk(const nlohmann::json& node, const std::string& prefix, const std::string& path) {
    for (const auto& [name, value] : node.items()) {
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      if (const Option* opt = schema_.find(key)) {
        auto converted = from_json(*opt, value);
        if (!converted) {
          // A secret's value stays out of the message even when it is the wrong type
          // (a password typed as a number is still that password).
          problem(key, path + ": " + key + " must be " + std::string(type_name(opt->type)) +
                           ", got " + (opt->secret ? std::string("<redacted>") : value.dump()));
          continue;
        }
        set(*opt, std::move(*converted), Origin::kFile, path);
      } else if (value.is_object() && has_options_under(key)) {
        walk(value, key, path);
      } else {
        problem(key, path + ": unknown key " + key);
      }
    }
  }

  bool has_options_under(const std::string& prefix) const {
    const std::string dotted = prefix + ".";
    for (const auto& o : schema_.options()) {
      if (o.key.rfind(dotted, 0) == 0) return true;
    }
    return false;
  }

  void set_from_text(const Option& opt, const std::string& text, Origin origin,
                     const std::string& where) {
    auto converted = from_text(opt, text);
    if (!converted) {
      problem(opt.key, where + ": " + opt.key + " must be " + std::string(type_name(opt.type)) +
                           ", got '" + (opt.secret ? std::string("<redacted>") : text) + "'");
      return;
    }
    set(opt, std::move(*converted), origin, where);
  }

  void set(const Option& opt, Value value, Origin origin, const std::string& where) {
    const std::string why = check_constraints(opt, value);
    if (!why.empty()) {
      problem(opt.key, where + ": " + opt.key + ": " + why);
      return;
    }
    auto& e = config_.entries_[opt.key];
    e.value = std::move(value);
    e.origin = origin;
  }

  void problem(const std::string& key, std::string message) {
    if (problems_.empty()) first_key_ = key;
    problems_.push_back(std::move(message));
  }

  const Schema& schema_;
  Config config_;
  std::vector<std::string> problems_;
  std::string first_key_;
};

StatusOr<Config> load(const Schema& schema, const Sources& sources) {
  Loader loader(schema);
  if (sources.file_path) loader.load_file(*sources.file_path);
  loader.load_env(sources.env, sources.env_prefix);
  loader.load_flags(sources.flags);
  return loader.finish();
}

StatusOr<CommandLine> parse_command_line(const Schema& schema, int argc, const char* const* argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return invalid_argument("unexpected argument '" + arg + "'; options start with --", arg);
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto take_value = [&]() -> StatusOr<std::string> {
      if (value) return *value;
      if (i + 1 >= argc) return invalid_argument("--" + name + " needs a value", name);
      return std::string(argv[++i]);
    };
    if (name == "help" || name == "version" || name == "check-config" || name == "print-config") {
      if (value) return invalid_argument("--" + name + " takes no value", name);
      if (name == "help") cl.help = true;
      if (name == "version") cl.version = true;
      if (name == "check-config") cl.check_config = true;
      if (name == "print-config") cl.print_config = true;
    } else if (name == "config") {
      auto v = take_value();
      if (!v.ok()) return v.status();
      cl.config_path = *v;
    } else if (schema.find(name)) {
      auto v = take_value();
      if (!v.ok()) return v.status();
      cl.flags.emplace_back(name, *v);
    } else {
      return invalid_argument("unknown flag --" + name + " (see --help)", name);
    }
  }
  return cl;
}

std::string usage(const Schema& schema, std::string_view program, std::string_view env_prefix) {
  std::string out = "usage: " + std::string(program) +
                    " [--config FILE] [--check-config] [--print-config] [--KEY=VALUE ...]\n\n"
                    "Every option may be set in the JSON config file, as an environment\n"
                    "variable, or as a flag (highest priority last). Options:\n";
  for (const auto& o : schema.options()) {
    out += "  --" + o.key + " (" + std::string(type_name(o.type));
    if (o.min || o.max) {
      out +=
          ", " + (o.min ? format_number(*o.min) : "") + ".." + (o.max ? format_number(*o.max) : "");
    }
    if (!o.choices.empty()) {
      std::string list;
      for (const auto& c : o.choices) list += (list.empty() ? "" : "|") + c;
      out += ", " + list;
    }
    out += o.reloadable ? ", reloadable" : "";
    out += ")\n      " + o.help + "\n      default: " +
           (o.secret ? std::string("<redacted>") : to_json(o.default_value).dump()) +
           "   env: " + env_name(env_prefix, o.key) + "\n";
  }
  return out;
}

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

}  // namespace shopeasy::config
