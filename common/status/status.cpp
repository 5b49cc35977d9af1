#include "common/status/status.hpp"

namespace shopeasy {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kOutOfRange:
      return "out_of_range";
    case StatusCode::kPayloadTooLarge:
      return "payload_too_large";
    case StatusCode::kUnsupportedMediaType:
      return "unsupported_media_type";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Status Status::with_field_prefix(std::string_view prefix) const {
  if (is_ok() || prefix.empty()) return *this;
  std::string path(prefix);
  if (!field_.empty()) {
    if (field_.front() != '[') path += '.';
    path += field_;
  }
  return Status(code_, message_, std::move(path));
}

std::string Status::to_string() const {
  std::string out(status_code_name(code_));
  if (!message_.empty()) out += ": " + message_;
  if (!field_.empty()) out += " (field " + field_ + ")";
  return out;
}

}  // namespace shopeasy
