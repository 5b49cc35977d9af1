// Bounded JSON parsing and FieldReader, the validation helper every wire codec is built
// on. parse_json() turns untrusted text into a DOM with a size and nesting bound and
// never throws. FieldReader reads typed fields out of a JSON object, checks them, and
// keeps the first failure as an kInvalidArgument Status whose field() is the full path
// ("lines[2].qty") and whose message states the requirement ("must be a positive
// integer"). Keys not asked for are ignored, which is what makes the wire formats
// forward compatible: a newer sender may add fields and an older receiver still decodes.
// Explicit JSON null is treated exactly like an absent field.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::wire {

inline constexpr std::size_t kDefaultMaxJsonBytes = std::size_t{1} << 20;
inline constexpr int kDefaultMaxJsonDepth = 32;

// Parses one JSON document (RFC 8259, no comments, no trailing content) without copying
// the text. Errors: kPayloadTooLarge when text is longer than max_bytes; kInvalidArgument
// "malformed JSON at byte N: ..." (N is the 0-based offset where parsing stopped) on a
// syntax error or invalid UTF-8; kInvalidArgument with an empty field when arrays/objects
// nest deeper than max_depth. Never throws. Thread-safe.
[[nodiscard]] StatusOr<nlohmann::json> parse_json(std::string_view text,
                                                  std::size_t max_bytes = kDefaultMaxJsonBytes,
                                                  int max_depth = kDefaultMaxJsonDepth);

// Compact serialization (no spaces). Never throws: invalid UTF-8 in strings is replaced
// with U+FFFD instead of raising, and non-finite numbers become null.
std::string dump_compact(const nlohmann::json& j);

// True for a real calendar date written exactly "YYYY-MM-DD" (years 0001-9999, Gregorian
// leap years), so "2026-02-30" and "2026-2-3" are false.
bool is_valid_date(std::string_view s);

// Wire enums: specialise EnumNames<E> with `static constexpr std::array<std::string_view, N>
// kNames` listing the wire spelling of every enumerator, where E's enumerators are
// exactly 0..N-1 in that order. to_string/from_string and the FieldReader enum readers
// then work for E.
template <typename E>
struct EnumNames;

template <typename E>
concept NamedEnum = std::is_enum_v<E> && requires {
  EnumNames<E>::kNames;
};

// The wire spelling of v, or "unknown" for a value outside the enum.
template <NamedEnum E>
constexpr std::string_view to_string(E v) {
  const auto index = static_cast<std::size_t>(v);
  return index < EnumNames<E>::kNames.size() ? EnumNames<E>::kNames[index] : "unknown";
}

// The enumerator whose wire spelling is s (exact, case-sensitive), or nullopt.
template <NamedEnum E>
constexpr std::optional<E> from_string(std::string_view s) {
  for (std::size_t i = 0; i < EnumNames<E>::kNames.size(); ++i) {
    if (EnumNames<E>::kNames[i] == s) return static_cast<E>(i);
  }
  return std::nullopt;
}

enum class CharSet {
  kAny,        // Any valid UTF-8, control characters included (barcodes carry GS, 0x1D).
  kPrintable,  // No ASCII control characters (0x00-0x1F, 0x7F).
  kToken,      // Only [A-Za-z0-9_-]: safe inside MQTT topics and URL paths.
};

// Constraints for a string field. Lengths count Unicode code points.
struct StringRule {
  std::size_t max_len = 1024;
  bool non_empty = false;
  CharSet charset = CharSet::kAny;
};

// Whether a double range includes its upper end; [0, 360) for headings is kExclusive.
enum class Upper { kInclusive, kExclusive };

// Reads and validates fields of one JSON object. Each reader method returns true when the
// field was present and valid (and wrote *out); on the first failure it records a Status
// and every later call becomes a no-op returning false, so a decoder can read all fields
// straight through and check status() once. An absent optional field leaves *out unchanged.
// Not thread-safe; the json must outlive the reader.
class FieldReader {
 public:
  // `prefix` is the path of this object inside the document ("" at the top level,
  // "stops[2]" for an array element). A non-object records "must be a JSON object".
  explicit FieldReader(const nlohmann::json& j, std::string prefix = {});
  FieldReader(const FieldReader&) = delete;
  FieldReader& operator=(const FieldReader&) = delete;

  bool ok() const { return status_.is_ok(); }
  // OK, or the first failure (kInvalidArgument with the field path).
  const Status& status() const { return status_; }

  // The full path of key under this reader's prefix.
  std::string path(std::string_view key) const;
  // The raw value of key, or nullptr when absent or null (or this is not an object).
  const nlohmann::json* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Records a failure for key (e.g. a cross-field rule) unless one is already recorded.
  void fail(std::string_view key, std::string message);

  bool required_string(std::string_view key, std::string* out, const StringRule& rule = {});
  bool optional_string(std::string_view key, std::optional<std::string>* out,
                       const StringRule& rule = {});

  // Integers must be JSON integers (5.0 and 5e0 are rejected) within [min, max].
  template <std::integral T>
  bool required_int(std::string_view key, T* out, std::int64_t min = kIntMin,
                    std::int64_t max = kIntMax) {
    std::int64_t v = 0;
    if (!read_int(key, true, min, max, &v)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  template <std::integral T>
  bool optional_int(std::string_view key, std::optional<T>* out, std::int64_t min = kIntMin,
                    std::int64_t max = kIntMax) {
    std::int64_t v = 0;
    if (!read_int(key, false, min, max, &v)) return false;
    *out = static_cast<T>(v);
    return true;
  }
  // Like optional_int but into a plain variable that already holds the default.
  template <std::integral T>
  bool optional_int(std::string_view key, T* out, std::int64_t min = kIntMin,
                    std::int64_t max = kIntMax) {
    std::int64_t v = 0;
    if (!read_int(key, false, min, max, &v)) return false;
    *out = static_cast<T>(v);
    return true;
  }

  // Non-negative integers up to max, covering the full uint64 range.
  bool required_uint(std::string_view key, std::uint64_t* out,
                     std::uint64_t max = std::numeric_limits<std::uint64_t>::max());
  bool optional_uint(std::string_view key, std::optional<std::uint64_t>* out,
                     std::uint64_t max = std::numeric_limits<std::uint64_t>::max());

  // Finite numbers (integers accepted) within [min, max] or [min, max).
  bool required_double(std::string_view key, double* out, double min = -kInf, double max = kInf,
                       Upper upper = Upper::kInclusive);
  bool optional_double(std::string_view key, std::optional<double>* out, double min = -kInf,
                       double max = kInf, Upper upper = Upper::kInclusive);

  bool required_bool(std::string_view key, bool* out);
  bool optional_bool(std::string_view key, std::optional<bool>* out);

  // A string that must be one of EnumNames<E>::kNames; otherwise
  // "unknown value 'x'; expected one of a, b, c".
  template <NamedEnum E>
  bool required_enum(std::string_view key, E* out) {
    std::size_t index = 0;
    if (!read_enum(key, true, EnumNames<E>::kNames, &index)) return false;
    *out = static_cast<E>(index);
    return true;
  }
  template <NamedEnum E>
  bool optional_enum(std::string_view key, std::optional<E>* out) {
    std::size_t index = 0;
    if (!read_enum(key, false, EnumNames<E>::kNames, &index)) return false;
    *out = static_cast<E>(index);
    return true;
  }

  // A "YYYY-MM-DD" string naming a real calendar date (see is_valid_date).
  bool required_date(std::string_view key, std::string* out);
  bool optional_date(std::string_view key, std::optional<std::string>* out);

  // An arbitrary JSON object, copied as is (for opaque payloads such as sync bodies).
  bool required_json_object(std::string_view key, nlohmann::json* out);

  // A nested object: fn(FieldReader& sub) reads its fields; sub's failures carry the full
  // path ("delivery.lat") and become this reader's failure.
  template <typename Fn>
  bool required_object(std::string_view key, Fn&& fn) {
    return read_object(key, true, fn);
  }
  template <typename Fn>
  bool optional_object(std::string_view key, Fn&& fn) {
    return read_object(key, false, fn);
  }

  // An array of objects with min_items..max_items elements (checked before any element is
  // read); fn(FieldReader& item, std::size_t index) is called per element with the path
  // "key[index]".
  template <typename Fn>
  bool required_array(std::string_view key, std::size_t min_items, std::size_t max_items, Fn&& fn) {
    return read_array(key, true, min_items, max_items, fn);
  }
  template <typename Fn>
  bool optional_array(std::string_view key, std::size_t min_items, std::size_t max_items, Fn&& fn) {
    return read_array(key, false, min_items, max_items, fn);
  }

  static constexpr std::int64_t kIntMin = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kIntMax = std::numeric_limits<std::int64_t>::max();
  static constexpr double kInf = std::numeric_limits<double>::infinity();

 private:
  const nlohmann::json* lookup(std::string_view key, bool required);
  const std::string* read_string(std::string_view key, bool required, const StringRule& rule);
  bool read_int(std::string_view key, bool required, std::int64_t min, std::int64_t max,
                std::int64_t* out);
  bool read_uint(std::string_view key, bool required, std::uint64_t max, std::uint64_t* out);
  bool read_double(std::string_view key, bool required, double min, double max, Upper upper,
                   double* out);
  bool read_enum(std::string_view key, bool required, std::span<const std::string_view> names,
                 std::size_t* index);
  const std::string* read_date(std::string_view key, bool required);
  // Validates the container at key and returns it, or nullptr (absent or failed).
  const nlohmann::json* open_array(std::string_view key, bool required, std::size_t min_items,
                                   std::size_t max_items);
  std::string index_path(std::string_view key, std::size_t index) const;

  template <typename Fn>
  bool read_object(std::string_view key, bool required, Fn& fn) {
    const nlohmann::json* v = lookup(key, required);
    if (v == nullptr) return false;
    FieldReader sub(*v, path(key));
    if (sub.ok()) fn(sub);
    if (!sub.ok()) {
      status_ = sub.status();
      return false;
    }
    return true;
  }

  template <typename Fn>
  bool read_array(std::string_view key, bool required, std::size_t min_items, std::size_t max_items,
                  Fn& fn) {
    const nlohmann::json* array = open_array(key, required, min_items, max_items);
    if (array == nullptr) return false;
    std::size_t index = 0;
    for (const nlohmann::json& element : *array) {
      FieldReader item(element, index_path(key, index));
      if (item.ok()) fn(item, index);
      if (!item.ok()) {
        status_ = item.status();
        return false;
      }
      ++index;
    }
    return true;
  }

  const nlohmann::json* object_ = nullptr;  // Null when the value was not an object.
  std::string prefix_;
  Status status_;
};

// Runs fn(FieldReader& r, T& value) over a fresh reader on j and returns the value, or
// the reader's first failure. Any exception escaping fn (only std::bad_alloc in practice)
// becomes kInternal, so decoders built on it never throw.
template <typename T, typename Fn>
StatusOr<T> decode_with(const nlohmann::json& j, Fn&& fn) {
  try {
    FieldReader r(j);
    T value{};
    if (r.ok()) fn(r, value);
    if (!r.ok()) return r.status();
    return value;
  } catch (const std::exception& e) {
    return internal_error(std::string("decoding failed: ") + e.what());
  }
}

// parse_json(text, max_bytes) followed by decode; the shape of every parse_<type>().
template <typename T>
StatusOr<T> parse_and_decode(std::string_view text, std::size_t max_bytes,
                             StatusOr<T> (*decode)(const nlohmann::json&)) {
  StatusOr<nlohmann::json> j = parse_json(text, max_bytes);
  if (!j.ok()) return j.status();
  return decode(*j);
}

// Sets j[key] only when the optional holds a value (absent fields are omitted on the wire).
template <typename T>
void set_optional(nlohmann::json& j, const char* key, const std::optional<T>& v) {
  if (v.has_value()) j[key] = *v;
}

// Compact JSON text for any wire type with an encode() overload.
template <typename T>
std::string serialize(const T& value) {
  return dump_compact(encode(value));
}

}  // namespace shopeasy::wire
