// Password hashing with Argon2id (RFC 9106), the memory-hard KDF. A hash is stored as
// a self-describing PHC string, "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (salt
// and hash in unpadded Base64), so parameters can be raised later: old hashes keep
// verifying with the parameters written in them, and needs_rehash() tells the caller
// to replace them at the next successful login. Verification compares in constant
// time. Every function here is thread-safe; hashing holds `memory_kib` of memory for
// its duration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::security {

// Passwords longer than this are refused, so a request cannot make the KDF hash
// megabytes.
inline constexpr std::size_t kMaxPasswordBytes = 1024;

struct PasswordParams {
  // The defaults are OWASP's Argon2id baseline; about 50-100 ms per hash on a store
  // box. Tests use weak() to stay fast.
  std::uint32_t time_cost = 2;       // passes over memory, >= 1
  std::uint32_t memory_kib = 19456;  // >= 8 * parallelism, <= kMaxMemoryKib
  std::uint32_t parallelism = 1;     // lanes, 1..16
  std::uint32_t salt_bytes = 16;     // 8..64
  std::uint32_t hash_bytes = 32;     // 16..64

  // The largest memory cost accepted, also when verifying a stored hash (a corrupted
  // or hostile row must not make verification allocate gigabytes).
  static constexpr std::uint32_t kMaxMemoryKib = 1u << 20;  // 1 GiB
  // Parameters fast enough for unit tests; never for real passwords.
  static PasswordParams weak() { return PasswordParams{1, 64, 1, 16, 32}; }
  // kInvalidArgument naming the field when a value is outside the bounds above.
  Status validate() const;
};

// A PHC-format Argon2id hash of `password` with a fresh random salt.
// kInvalidArgument if the password is empty or longer than kMaxPasswordBytes, or the
// parameters are invalid; kUnavailable if the random generator fails; kResourceExhausted
// if the memory cannot be allocated.
StatusOr<std::string> hash_password(std::string_view password, const PasswordParams& params = {});

// Whether `password` matches `encoded` (a string from hash_password()). false for a
// wrong, empty or overlong password. kInvalidArgument if `encoded` is not a well-formed
// Argon2id PHC string within the parameter bounds.
StatusOr<bool> verify_password(std::string_view password, std::string_view encoded);

// True when `encoded` was made with parameters other than `params` (weaker or merely
// different) or cannot be parsed, so it should be replaced by a fresh hash.
bool needs_rehash(std::string_view encoded, const PasswordParams& params);

}  // namespace shopeasy::security
