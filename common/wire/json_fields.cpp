#include "common/wire/json_fields.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace shopeasy::wire {
namespace {

using nlohmann::json;

// Builds the DOM through nlohmann's SAX interface instead of json::parse so that the
// nesting bound stops the parser the moment it is crossed, and so that syntax errors are
// reported through parse_error() rather than thrown: rejecting garbage stays cheap even
// when a misbehaving device sends a lot of it.
class BoundedDomBuilder {
 public:
  explicit BoundedDomBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() { return emit(json(nullptr)); }
  bool boolean(bool v) { return emit(json(v)); }
  bool number_integer(json::number_integer_t v) { return emit(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return emit(json(v)); }
  bool number_float(json::number_float_t v, const json::string_t& /*text*/) {
    return emit(json(v));
  }
  bool string(json::string_t& v) { return emit(json(std::move(v))); }
  bool binary(json::binary_t& v) { return emit(json::binary(std::move(v))); }
  bool start_object(std::size_t /*elements*/) { return open(json::object()); }
  bool key(json::string_t& k) {
    // std::map nodes are stable, so the slot stays valid until the value arrives.
    slot_ = &(*stack_.back())[std::move(k)];
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*elements*/) { return open(json::array()); }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const json::exception& ex) {
    error_position_ = position;
    error_what_ = ex.what();
    return false;
  }

  json& root() { return root_; }
  bool depth_exceeded() const { return depth_exceeded_; }
  std::size_t error_position() const { return error_position_; }
  const std::string& error_what() const { return error_what_; }

 private:
  bool emit(json&& v) {
    put(std::move(v));
    return true;
  }

  json* put(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    *slot_ = std::move(v);
    return slot_;
  }

  bool open(json&& container) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      depth_exceeded_ = true;
      return false;
    }
    // A child is always closed before its parent array grows again, so the pointer into
    // the parent's vector cannot dangle while it is on the stack.
    stack_.push_back(put(std::move(container)));
    return true;
  }

  int max_depth_;
  json root_;
  std::vector<json*> stack_;
  json* slot_ = nullptr;
  bool depth_exceeded_ = false;
  std::size_t error_position_ = 0;
  std::string error_what_;
};

// Error text may be logged or echoed into JSON error bodies, so keep it short, single
// line and ASCII whatever bytes the input contained.
std::string sanitize_for_message(std::string_view s, std::size_t max_len) {
  std::string out;
  out.reserve(std::min(s.size(), max_len) + 3);
  for (char c : s) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    const auto b = static_cast<unsigned char>(c);
    out += (b < 0x20 || b >= 0x7F) ? '?' : c;
  }
  return out;
}

// Drops nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 5: "
// preamble (or "[json.exception.out_of_range.406] " for number overflow); the byte offset
// we report replaces line and column.
std::string_view strip_parse_error_preamble(std::string_view what) {
  if (what.rfind("[json.exception.", 0) == 0) {
    const std::size_t close = what.find("] ");
    if (close != std::string_view::npos) what.remove_prefix(close + 2);
  }
  if (what.rfind("parse error", 0) == 0) {
    const std::size_t colon = what.find(": ");
    if (colon != std::string_view::npos) what.remove_prefix(colon + 2);
  }
  return what;
}

std::string format_number(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "?";
  return std::string(buf, end);
}

std::string int_requirement(std::int64_t min, std::int64_t max) {
  constexpr std::int64_t kMin = FieldReader::kIntMin;
  constexpr std::int64_t kMax = FieldReader::kIntMax;
  if (max == kMax) {
    if (min == kMin) return "must be an integer";
    if (min == 1) return "must be a positive integer";
    if (min == 0) return "must be a non-negative integer";
    return "must be an integer >= " + std::to_string(min);
  }
  if (min == kMin) return "must be an integer <= " + std::to_string(max);
  return "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

std::string uint_requirement(std::uint64_t max) {
  if (max == std::numeric_limits<std::uint64_t>::max()) return "must be a non-negative integer";
  return "must be an integer between 0 and " + std::to_string(max);
}

std::string double_requirement(double min, double max, Upper upper) {
  const bool has_min = std::isfinite(min);
  const bool has_max = std::isfinite(max);
  if (!has_min && !has_max) return "must be a finite number";
  if (!has_max) {
    if (min == 0) return "must be a non-negative number";
    return "must be a number >= " + format_number(min);
  }
  const std::string max_text = format_number(max);
  if (!has_min)
    return (upper == Upper::kExclusive ? "must be a number < " : "must be a number <= ") + max_text;
  if (upper == Upper::kExclusive) {
    return "must be a number >= " + format_number(min) + " and < " + max_text;
  }
  return "must be a number between " + format_number(min) + " and " + max_text;
}

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Returns the requirement the string violates, or an empty string when it is fine.
std::string check_string(std::string_view s, const StringRule& rule) {
  if (s.empty()) return rule.non_empty ? "must not be empty" : std::string();
  // Cheap byte check first: a code point is at least one byte.
  if (s.size() > rule.max_len && count_code_points(s) > rule.max_len) {
    return "must be at most " + std::to_string(rule.max_len) + " characters long";
  }
  switch (rule.charset) {
    case CharSet::kAny:
      break;
    case CharSet::kPrintable:
      for (char c : s) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7F) return "must not contain control characters";
      }
      break;
    case CharSet::kToken:
      for (char c : s) {
        if (!is_token_char(c)) return "must contain only letters, digits, '_' and '-'";
      }
      break;
  }
  return std::string();
}

std::string join_names(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

int parse_digits(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

StatusOr<nlohmann::json> parse_json(std::string_view text, std::size_t max_bytes, int max_depth) {
  if (text.size() > max_bytes) {
    return Status(StatusCode::kPayloadTooLarge, "payload of " + std::to_string(text.size()) +
                                                    " bytes exceeds the limit of " +
                                                    std::to_string(max_bytes) + " bytes");
  }
  try {
    BoundedDomBuilder builder(max_depth);
    const bool parsed = json::sax_parse(text.begin(), text.end(), &builder);
    if (parsed) return std::move(builder.root());
    if (builder.depth_exceeded()) {
      return invalid_argument("JSON nesting exceeds " + std::to_string(max_depth) + " levels");
    }
    // nlohmann counts bytes read, so the offending byte is the last one read.
    const std::size_t offset = builder.error_position() > 0 ? builder.error_position() - 1 : 0;
    return invalid_argument(
        "malformed JSON at byte " + std::to_string(offset) + ": " +
        sanitize_for_message(strip_parse_error_preamble(builder.error_what()), 200));
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument("malformed JSON: " + sanitize_for_message(e.what(), 200));
  } catch (const std::exception& e) {
    return internal_error(std::string("JSON parsing failed: ") + e.what());
  }
}

std::string dump_compact(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_valid_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int year = parse_digits(s.substr(0, 4));
  const int month = parse_digits(s.substr(5, 2));
  const int day = parse_digits(s.substr(8, 2));
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDaysInMonth[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days = kDaysInMonth[month - 1] + ((month == 2 && leap) ? 1 : 0);
  return day <= days;
}

FieldReader::FieldReader(const nlohmann::json& j, std::string prefix) : prefix_(std::move(prefix)) {
  if (j.is_object()) {
    object_ = &j;
  } else {
    status_ = invalid_argument("must be a JSON object", prefix_);
  }
}

std::string FieldReader::path(std::string_view key) const {
  std::string p;
  p.reserve(prefix_.size() + 1 + key.size());
  p = prefix_;
  if (!p.empty()) p += '.';
  p += key;
  return p;
}

std::string FieldReader::index_path(std::string_view key, std::size_t index) const {
  std::string p = path(key);
  p += '[';
  p += std::to_string(index);
  p += ']';
  return p;
}

const nlohmann::json* FieldReader::find(std::string_view key) const {
  if (object_ == nullptr) return nullptr;
  auto it = object_->find(key);
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

void FieldReader::fail(std::string_view key, std::string message) {
  if (!status_.is_ok()) return;
  status_ = invalid_argument(std::move(message), path(key));
}

const nlohmann::json* FieldReader::lookup(std::string_view key, bool required) {
  if (!ok()) return nullptr;
  const nlohmann::json* v = find(key);
  if (v == nullptr && required) fail(key, "is required");
  return v;
}

const std::string* FieldReader::read_string(std::string_view key, bool required,
                                            const StringRule& rule) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return nullptr;
  const std::string* s = v->get_ptr<const std::string*>();
  if (s == nullptr) {
    fail(key, "must be a string");
    return nullptr;
  }
  std::string problem = check_string(*s, rule);
  if (!problem.empty()) {
    fail(key, std::move(problem));
    return nullptr;
  }
  return s;
}

bool FieldReader::required_string(std::string_view key, std::string* out, const StringRule& rule) {
  const std::string* s = read_string(key, true, rule);
  if (s == nullptr) return false;
  *out = *s;
  return true;
}

bool FieldReader::optional_string(std::string_view key, std::optional<std::string>* out,
                                  const StringRule& rule) {
  const std::string* s = read_string(key, false, rule);
  if (s == nullptr) return false;
  out->emplace(*s);
  return true;
}

bool FieldReader::read_int(std::string_view key, bool required, std::int64_t min, std::int64_t max,
                           std::int64_t* out) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return false;
  std::int64_t value = 0;
  // is_number_integer() is also true for unsigned values, so test unsigned first.
  if (const auto* u = v->get_ptr<const json::number_unsigned_t*>(); u != nullptr) {
    if (*u > static_cast<std::uint64_t>(kIntMax)) {
      fail(key, int_requirement(min, max));
      return false;
    }
    value = static_cast<std::int64_t>(*u);
  } else if (const auto* i = v->get_ptr<const json::number_integer_t*>(); i != nullptr) {
    value = *i;
  } else {
    fail(key, int_requirement(min, max));
    return false;
  }
  if (value < min || value > max) {
    fail(key, int_requirement(min, max));
    return false;
  }
  *out = value;
  return true;
}

bool FieldReader::read_uint(std::string_view key, bool required, std::uint64_t max,
                            std::uint64_t* out) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return false;
  std::uint64_t value = 0;
  if (const auto* u = v->get_ptr<const json::number_unsigned_t*>(); u != nullptr) {
    value = *u;
  } else if (const auto* i = v->get_ptr<const json::number_integer_t*>(); i != nullptr && *i >= 0) {
    value = static_cast<std::uint64_t>(*i);
  } else {
    fail(key, uint_requirement(max));
    return false;
  }
  if (value > max) {
    fail(key, uint_requirement(max));
    return false;
  }
  *out = value;
  return true;
}

bool FieldReader::required_uint(std::string_view key, std::uint64_t* out, std::uint64_t max) {
  return read_uint(key, true, max, out);
}

bool FieldReader::optional_uint(std::string_view key, std::optional<std::uint64_t>* out,
                                std::uint64_t max) {
  std::uint64_t v = 0;
  if (!read_uint(key, false, max, &v)) return false;
  *out = v;
  return true;
}

bool FieldReader::read_double(std::string_view key, bool required, double min, double max,
                              Upper upper, double* out) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return false;
  double value = 0;
  if (const auto* f = v->get_ptr<const json::number_float_t*>(); f != nullptr) {
    value = *f;
  } else if (const auto* u = v->get_ptr<const json::number_unsigned_t*>(); u != nullptr) {
    value = static_cast<double>(*u);
  } else if (const auto* i = v->get_ptr<const json::number_integer_t*>(); i != nullptr) {
    value = static_cast<double>(*i);
  } else {
    fail(key, double_requirement(min, max, upper));
    return false;
  }
  // The parser refuses overflowing literals such as 1e999, so non-finite values only
  // arrive through DOMs built in code.
  const bool in_range = std::isfinite(value) && value >= min &&
                        (upper == Upper::kExclusive ? value < max : value <= max);
  if (!in_range) {
    fail(key, double_requirement(min, max, upper));
    return false;
  }
  *out = value;
  return true;
}

bool FieldReader::required_double(std::string_view key, double* out, double min, double max,
                                  Upper upper) {
  return read_double(key, true, min, max, upper, out);
}

bool FieldReader::optional_double(std::string_view key, std::optional<double>* out, double min,
                                  double max, Upper upper) {
  double v = 0;
  if (!read_double(key, false, min, max, upper, &v)) return false;
  *out = v;
  return true;
}

bool FieldReader::required_bool(std::string_view key, bool* out) {
  const nlohmann::json* v = lookup(key, true);
  if (v == nullptr) return false;
  if (!v->is_boolean()) {
    fail(key, "must be true or false");
    return false;
  }
  *out = v->get<bool>();
  return true;
}

bool FieldReader::optional_bool(std::string_view key, std::optional<bool>* out) {
  const nlohmann::json* v = lookup(key, false);
  if (v == nullptr) return false;
  if (!v->is_boolean()) {
    fail(key, "must be true or false");
    return false;
  }
  *out = v->get<bool>();
  return true;
}

bool FieldReader::read_enum(std::string_view key, bool required,
                            std::span<const std::string_view> names, std::size_t* index) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return false;
  const std::string* s = v->get_ptr<const std::string*>();
  if (s == nullptr) {
    fail(key, "must be a string");
    return false;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *s) {
      *index = i;
      return true;
    }
  }
  fail(key, "unknown value '" + sanitize_for_message(*s, 64) + "'; expected one of " +
                join_names(names));
  return false;
}

const std::string* FieldReader::read_date(std::string_view key, bool required) {
  const std::string* s = read_string(key, required, StringRule{});
  if (s == nullptr) return nullptr;
  if (!is_valid_date(*s)) {
    fail(key, "must be a real calendar date in the form YYYY-MM-DD");
    return nullptr;
  }
  return s;
}

bool FieldReader::required_date(std::string_view key, std::string* out) {
  const std::string* s = read_date(key, true);
  if (s == nullptr) return false;
  *out = *s;
  return true;
}

bool FieldReader::optional_date(std::string_view key, std::optional<std::string>* out) {
  const std::string* s = read_date(key, false);
  if (s == nullptr) return false;
  out->emplace(*s);
  return true;
}

bool FieldReader::required_json_object(std::string_view key, nlohmann::json* out) {
  const nlohmann::json* v = lookup(key, true);
  if (v == nullptr) return false;
  if (!v->is_object()) {
    fail(key, "must be a JSON object");
    return false;
  }
  *out = *v;
  return true;
}

const nlohmann::json* FieldReader::open_array(std::string_view key, bool required,
                                              std::size_t min_items, std::size_t max_items) {
  const nlohmann::json* v = lookup(key, required);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    fail(key, "must be an array");
    return nullptr;
  }
  if (v->size() < min_items || v->size() > max_items) {
    std::string message;
    if (min_items == 0) {
      message = "must have at most " + std::to_string(max_items) + " items";
    } else if (max_items == std::numeric_limits<std::size_t>::max()) {
      message =
          "must have at least " + std::to_string(min_items) + (min_items == 1 ? " item" : " items");
    } else {
      message = "must have between " + std::to_string(min_items) + " and " +
                std::to_string(max_items) + " items";
    }
    fail(key, std::move(message));
    return nullptr;
  }
  return v;
}

}  // namespace shopeasy::wire
