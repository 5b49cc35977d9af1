// Status and StatusOr: the result of every call that can fail because of the world
// (I/O, SQLite, network, parsing, configuration). Codes are chosen by what the caller
// should do next: kUnavailable means retry later, kInvalidArgument means the request
// is wrong and retrying it unchanged will fail again, kFailedPrecondition means the
// system is not in a state that allows it until something else changes.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace shopeasy {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // The caller's input is wrong; names the field where known.
  kNotFound,            // The thing named does not exist.
  kAlreadyExists,       // A create collided with an existing thing.
  kConflict,            // A concurrent change won (stale version, lost race); re-read and retry.
  kFailedPrecondition,  // Not allowed in the current state (e.g. picking more than on hand).
  kOutOfRange,          // A cursor, sequence or index beyond what exists (e.g. a sync gap).
  kPayloadTooLarge,     // The input exceeds a configured size bound.
  kUnsupportedMediaType,
  kUnauthenticated,    // No or bad credentials.
  kPermissionDenied,   // Credentials are fine, the role does not allow it.
  kResourceExhausted,  // A rate limit or capacity bound; retry after a while.
  kUnavailable,        // A dependency is down (broker, cloud, disk); retry with backoff.
  kDeadlineExceeded,
  kInternal,  // A bug or a corrupt state; alert someone.
};

// Stable lower-case name of a code, used in logs and in the HTTP error shape.
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status ok() { return Status(); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The input field the error is about ("lines[2].qty", "http.port"), or empty.
  const std::string& field() const { return field_; }

  // Prefixes the field path, so nested decoders can report "order.lines[2].qty".
  Status with_field_prefix(std::string_view prefix) const;

  // "invalid_argument: qty must be positive (field lines[0].qty)"
  std::string to_string() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_ && a.field_ == b.field_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
};

inline Status invalid_argument(std::string message, std::string field = {}) {
  return Status(StatusCode::kInvalidArgument, std::move(message), std::move(field));
}
inline Status not_found(std::string message) {
  return Status(StatusCode::kNotFound, std::move(message));
}
inline Status conflict(std::string message) {
  return Status(StatusCode::kConflict, std::move(message));
}
inline Status failed_precondition(std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message));
}
inline Status unavailable(std::string message) {
  return Status(StatusCode::kUnavailable, std::move(message));
}
inline Status internal_error(std::string message) {
  return Status(StatusCode::kInternal, std::move(message));
}

// Either a value or a non-OK Status. Accessing the value of an error is a bug and
// asserts; callers check ok() first.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!status_.is_ok() && "StatusOr built from an OK Status");
  }

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  Status status_;  // OK exactly when value_ holds a value.
  std::optional<T> value_;
};

}  // namespace shopeasy

// Returns early with the status of `expr` if it is not OK.
#define SHOPEASY_RETURN_IF_ERROR(expr)                      \
  do {                                                      \
    ::shopeasy::Status shopeasy_status_ = (expr);           \
    if (!shopeasy_status_.is_ok()) return shopeasy_status_; \
  } while (false)

// Evaluates `expr` (a StatusOr<T>) once; returns its status early if it is an error,
// else sets `lhs` from its value, moved out. `lhs` may declare a variable
// (`SHOPEASY_ASSIGN_OR_RETURN(auto rows, load());`) or name an existing one
// (`SHOPEASY_ASSIGN_OR_RETURN(out.id, next_id());`). It expands to more than one
// statement, so use it inside braces, never as the body of an unbraced if or loop; a
// `lhs` with a top-level comma (`std::pair<A, B> p`) needs an alias or `auto` (the
// expression may have them: it is the macro's variadic tail).
#define SHOPEASY_ASSIGN_OR_RETURN(lhs, ...)                                                    \
  SHOPEASY_ASSIGN_OR_RETURN_IMPL_(SHOPEASY_STATUS_CONCAT_(shopeasy_status_or_, __LINE__), lhs, \
                                  (__VA_ARGS__))

#define SHOPEASY_ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = expr;                                      \
  if (!result.ok()) return result.status();                \
  lhs = std::move(result).value()

#define SHOPEASY_STATUS_CONCAT_(a, b) SHOPEASY_STATUS_CONCAT_INNER_(a, b)
#define SHOPEASY_STATUS_CONCAT_INNER_(a, b) a##b
