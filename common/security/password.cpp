#include "common/security/password.hpp"

#include <argon2.h>
#include <openssl/crypto.h>

#include <charconv>
#include <vector>

#include "common/security/encoding.hpp"

namespace shopeasy::security {

namespace {

constexpr std::string_view kPrefix = "$argon2id$v=19$";

struct Parsed {
  PasswordParams params;
  std::string salt;
  std::string hash;
};

// Reads "<name>=<decimal>" with no sign and no leading zeros, as the PHC format demands.
bool parse_param(std::string_view field, char name, std::uint32_t& out) {
  if (field.size() < 3 || field[0] != name || field[1] != '=') return false;
  const std::string_view digits = field.substr(2);
  if (digits.size() > 1 && digits[0] == '0') return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

StatusOr<Parsed> parse(std::string_view encoded) {
  const Status bad = invalid_argument("not an Argon2id PHC hash string");
  if (encoded.size() > 512 || encoded.substr(0, kPrefix.size()) != kPrefix) return bad;
  std::string_view rest = encoded.substr(kPrefix.size());
  std::vector<std::string_view> parts;
  for (std::size_t pos; (pos = rest.find('$')) != std::string_view::npos;) {
    parts.push_back(rest.substr(0, pos));
    rest = rest.substr(pos + 1);
  }
  parts.push_back(rest);
  if (parts.size() != 3) return bad;

  std::vector<std::string_view> fields;
  std::string_view list = parts[0];
  for (std::size_t pos; (pos = list.find(',')) != std::string_view::npos;) {
    fields.push_back(list.substr(0, pos));
    list = list.substr(pos + 1);
  }
  fields.push_back(list);
  Parsed p;
  if (fields.size() != 3 || !parse_param(fields[0], 'm', p.params.memory_kib) ||
      !parse_param(fields[1], 't', p.params.time_cost) ||
      !parse_param(fields[2], 'p', p.params.parallelism)) {
    return bad;
  }
  auto salt = base64_decode_unpadded(parts[1]);
  auto hash = base64_decode_unpadded(parts[2]);
  if (!salt.ok() || !hash.ok()) return bad;
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  p.params.salt_bytes = static_cast<std::uint32_t>(p.salt.size());
  p.params.hash_bytes = static_cast<std::uint32_t>(p.hash.size());
  Status valid = p.params.validate();
  if (!valid.is_ok()) return invalid_argument("Argon2id hash string: " + valid.message());
  return p;
}

StatusOr<std::string> derive(std::string_view password, const PasswordParams& params,
                             std::string_view salt) {
  std::string out(params.hash_bytes, '\0');
  const int rc =
      argon2id_hash_raw(params.time_cost, params.memory_kib, params.parallelism, password.data(),
                        password.size(), salt.data(), salt.size(), out.data(), out.size());
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return Status(StatusCode::kResourceExhausted, "not enough memory for the password hash");
  }
  if (rc != ARGON2_OK) return internal_error(std::string("argon2id: ") + argon2_error_message(rc));
  return out;
}

bool password_length_ok(std::string_view password) {
  return !password.empty() && password.size() <= kMaxPasswordBytes;
}

}  // namespace

Status PasswordParams::validate() const {
  if (time_cost < 1 || time_cost > 64) {
    return invalid_argument("time cost must be 1..64", "time_cost");
  }
  if (parallelism < 1 || parallelism > 16) {
    return invalid_argument("parallelism must be 1..16", "parallelism");
  }
  if (memory_kib < 8 * parallelism || memory_kib > kMaxMemoryKib) {
    return invalid_argument("memory must be 8*parallelism..1048576 KiB", "memory_kib");
  }
  if (salt_bytes < 8 || salt_bytes > 64) {
    return invalid_argument("salt must be 8..64 bytes", "salt_bytes");
  }
  if (hash_bytes < 16 || hash_bytes > 64) {
    return invalid_argument("hash must be 16..64 bytes", "hash_bytes");
  }
  return Status::ok();
}

StatusOr<std::string> hash_password(std::string_view password, const PasswordParams& params) {
  if (password.empty()) return invalid_argument("password must not be empty", "password");
  if (password.size() > kMaxPasswordBytes) {
    return invalid_argument(
        "password must be at most " + std::to_string(kMaxPasswordBytes) + " bytes", "password");
  }
  SHOPEASY_RETURN_IF_ERROR(params.validate());
  auto salt = random_bytes(params.salt_bytes);
  if (!salt.ok()) return salt.status();
  auto hash = derive(password, params, *salt);
  if (!hash.ok()) return hash.status();
  return std::string(kPrefix) + "m=" + std::to_string(params.memory_kib) +
         ",t=" + std::to_string(params.time_cost) + ",p=" + std::to_string(params.parallelism) +
         "$" + base64_encode_unpadded(*salt) + "$" + base64_encode_unpadded(*hash);
}

StatusOr<bool> verify_password(std::string_view password, std::string_view encoded) {
  auto parsed = parse(encoded);
  if (!parsed.ok()) return parsed.status();
  if (!password_length_ok(password)) return false;
  auto computed = derive(password, parsed->params, parsed->salt);
  if (!computed.ok()) return computed.status();
  return CRYPTO_memcmp(computed->data(), parsed->hash.data(), parsed->hash.size()) == 0;
}

bool needs_rehash(std::string_view encoded, const PasswordParams& params) {
  auto parsed = parse(encoded);
  if (!parsed.ok()) return true;
  const PasswordParams& have = parsed->params;
  return have.time_cost != params.time_cost || have.memory_kib != params.memory_kib ||
         have.parallelism != params.parallelism || have.salt_bytes != params.salt_bytes ||
         have.hash_bytes != params.hash_bytes;
}

}  // namespace shopeasy::security
