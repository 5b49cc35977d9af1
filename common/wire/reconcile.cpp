#include "common/wire/reconcile.hpp"

#include <cstdio>
#include <string>

namespace shopeasy::wire {

namespace {
constexpr std::uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view data) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}
}  // namespace

int sku_bucket(std::string_view sku, int buckets) {
  if (buckets < 1) return 0;
  return static_cast<int>(fnv1a(kFnvOffset, sku) % static_cast<std::uint64_t>(buckets));
}

std::uint64_t row_checksum(std::string_view sku, std::int64_t on_hand, std::int64_t reserved) {
  std::uint64_t hash = fnv1a(kFnvOffset, sku);
  hash = fnv1a(hash, "|");
  hash = fnv1a(hash, std::to_string(on_hand));
  hash = fnv1a(hash, "|");
  return fnv1a(hash, std::to_string(reserved));
}

ChecksumBuilder::ChecksumBuilder(int buckets) : buckets_(std::max(1, buckets)) {
  out_.resize(static_cast<std::size_t>(buckets_));
  for (int i = 0; i < buckets_; ++i) out_[static_cast<std::size_t>(i)].bucket = i;
}

void ChecksumBuilder::add(std::string_view sku, std::int64_t on_hand, std::int64_t reserved) {
  auto& b = out_[static_cast<std::size_t>(sku_bucket(sku, buckets_))];
  ++b.rows;
  b.checksum += row_checksum(sku, on_hand, reserved);  // wraps: order-independent
}

nlohmann::json encode_checksums(const std::vector<BucketChecksum>& sums) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : sums) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(s.checksum));
    out.push_back({{"bucket", s.bucket}, {"rows", s.rows}, {"checksum", hex}});
  }
  return out;
}

StatusOr<std::vector<BucketChecksum>> decode_checksums(const nlohmann::json& j, int buckets) {
  if (!j.is_array() || static_cast<int>(j.size()) != buckets) {
    return invalid_argument("must be an array of " + std::to_string(buckets) + " buckets",
                            "checksums");
  }
  std::vector<BucketChecksum> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    const std::string where = "checksums[" + std::to_string(i) + "]";
    if (!e.is_object() || !e.contains("bucket") || !e["bucket"].is_number_integer() ||
        e["bucket"].get<std::int64_t>() != static_cast<std::int64_t>(i) || !e.contains("rows") ||
        !e["rows"].is_number_integer() || !e.contains("checksum") || !e["checksum"].is_string()) {
      return invalid_argument("must be {\"bucket\": " + std::to_string(i) +
                                  ", \"rows\": n, \"checksum\": \"<16 hex>\"}",
                              where);
    }
    const std::string hex = e["checksum"].get<std::string>();
    if (hex.size() != 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return invalid_argument("checksum must be 16 lower-case hex digits", where + ".checksum");
    }
    out.push_back(BucketChecksum{static_cast<int>(i), e["rows"].get<std::int64_t>(),
                                 std::stoull(hex, nullptr, 16)});
  }
  return out;
}

std::vector<int> differing_buckets(const std::vector<BucketChecksum>& a,
                                   const std::vector<BucketChecksum>& b) {
  std::vector<int> out;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!(a[i] == b[i])) out.push_back(a[i].bucket);
  }
  return out;
}

}  // namespace shopeasy::wire
