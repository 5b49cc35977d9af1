// Reconciliation checksums, shared by the edge (which computes them over its stock)
// and the cloud (over its replica of that stock): per-bucket, order-independent sums,
// so a divergence is found by comparing a few numbers and repaired by re-sending only
// the SKUs of the buckets that differ.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::wire {

inline constexpr int kDefaultChecksumBuckets = 64;

// FNV-1a 64 of the SKU, modulo `buckets` (>= 1).
int sku_bucket(std::string_view sku, int buckets);
// FNV-1a 64 of "sku|on_hand|reserved".
std::uint64_t row_checksum(std::string_view sku, std::int64_t on_hand, std::int64_t reserved);

struct BucketChecksum {
  int bucket = 0;
  std::int64_t rows = 0;
  std::uint64_t checksum = 0;  // wrapping sum of row_checksum over the bucket's rows
  friend bool operator==(const BucketChecksum&, const BucketChecksum&) = default;
};

// Accumulates rows into `buckets` buckets.
class ChecksumBuilder {
 public:
  explicit ChecksumBuilder(int buckets);
  void add(std::string_view sku, std::int64_t on_hand, std::int64_t reserved);
  const std::vector<BucketChecksum>& result() const { return out_; }

 private:
  int buckets_;
  std::vector<BucketChecksum> out_;
};

// JSON form: [{"bucket":0,"rows":12,"checksum":"<16 hex>"}, ...] (hex keeps 64-bit
// values exact in every JSON reader).
nlohmann::json encode_checksums(const std::vector<BucketChecksum>& sums);
[[nodiscard]] StatusOr<std::vector<BucketChecksum>> decode_checksums(const nlohmann::json& j,
                                                                     int buckets);

// Buckets whose checksums differ between the two lists (same bucket count).
std::vector<int> differing_buckets(const std::vector<BucketChecksum>& a,
                                   const std::vector<BucketChecksum>& b);

}  // namespace shopeasy::wire
