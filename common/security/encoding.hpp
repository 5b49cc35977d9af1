// Byte encodings and randomness shared by the security module: hex, standard Base64
// without padding (the PHC password-hash format) and Base64url without padding (JWS),
// and cryptographically strong random bytes. Decoders are strict: they refuse
// characters outside the alphabet, padding, and non-canonical trailing bits, so one
// value has exactly one accepted spelling.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::security {

// Lower-case hex of `bytes`.
std::string hex_encode(std::string_view bytes);
// Bytes of lower- or upper-case hex; kInvalidArgument for odd length or a non-hex digit.
StatusOr<std::string> hex_decode(std::string_view text);

// Base64 (RFC 4648 section 4 alphabet) without '=' padding.
std::string base64_encode_unpadded(std::string_view bytes);
// Inverse of base64_encode_unpadded; kInvalidArgument for padding, a character outside
// the alphabet, an impossible length or non-zero trailing bits.
StatusOr<std::string> base64_decode_unpadded(std::string_view text);

// Base64url (RFC 4648 section 5 alphabet) without padding, as JWS uses.
std::string base64url_encode(std::string_view bytes);
// Inverse of base64url_encode; errors as base64_decode_unpadded.
StatusOr<std::string> base64url_decode(std::string_view text);

// `count` bytes from the operating system's CSPRNG (OpenSSL RAND_bytes).
// kUnavailable if the generator cannot produce them. Thread-safe.
StatusOr<std::string> random_bytes(std::size_t count);
// Lower-case hex of `count` random bytes (2 * count characters).
StatusOr<std::string> random_hex(std::size_t count);

}  // namespace shopeasy::security
