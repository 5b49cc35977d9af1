#include "cloud/storage/store_rules.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace shopeasy::cloud::storage {
namespace {

using detail::BatchPlan;
using detail::plan_batch;
using detail::validate_batch;
using detail::validate_change;

// One change checked on its own, as plan_batch does before quarantining it.
Status validate_one(const std::vector<Change>& changes) {
  return validate_change(changes.at(0), 0);
}

// Published FNV-1a 64 test vectors, so the checksum matches any other implementation.
TEST(SkuBucket, IsFnv1a64OfTheSkuModuloBuckets) {
  EXPECT_EQ(sku_bucket("a", 16), static_cast<int>(0xaf63dc4c8601ec8cULL % 16));
  EXPECT_EQ(sku_bucket("foobar", 16), static_cast<int>(0x85944171f73967e8ULL % 16));
  EXPECT_EQ(sku_bucket("foobar", 7), 6);
  EXPECT_EQ(sku_bucket("", 16), 5);
  EXPECT_EQ(sku_bucket("anything", 1), 0);
}

TEST(SkuBucket, NonPositiveBucketCountGivesBucketZero) {
  EXPECT_EQ(sku_bucket("foobar", 0), 0);
  EXPECT_EQ(sku_bucket("foobar", -3), 0);
}

TEST(RowChecksum, HashesSkuOnHandAndReservedJoinedByBars) {
  EXPECT_EQ(row_checksum("SKU-1", 5, 2), 0xbc7a94e2d5de7cd1ULL);
  EXPECT_EQ(row_checksum("SKU-1", -3, 0), 0x84637e3a465e3c70ULL);
  EXPECT_NE(row_checksum("SKU-1", 5, 2), row_checksum("SKU-1", 2, 5));
}

TEST(ChecksumAccumulator, ReportsEveryBucketAndIgnoresRowOrder) {
  detail::ChecksumAccumulator forward(4);
  forward.add("A", 1, 0);
  forward.add("B", 2, 1);
  forward.add("C", 3, 3);
  detail::ChecksumAccumulator backward(4);
  backward.add("C", 3, 3);
  backward.add("B", 2, 1);
  backward.add("A", 1, 0);
  std::vector<RangeChecksum> a = forward.take();
  std::vector<RangeChecksum> b = backward.take();
  ASSERT_EQ(a.size(), 4u);
  std::int64_t rows = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(a[i].bucket, i);
    EXPECT_EQ(a[i].rows, b[i].rows);
    EXPECT_EQ(a[i].checksum, b[i].checksum);
    rows += a[i].rows;
  }
  EXPECT_EQ(rows, 3);
  const auto& bucket_a = a[static_cast<std::size_t>(sku_bucket("A", 4))];
  EXPECT_GE(bucket_a.rows, 1);
}

Change stock(std::int64_t seq, const std::string& sku, std::int64_t on_hand,
             std::int64_t reserved = 0, std::int64_t version = 1) {
  return Change{.seq = seq,
                .kind = "stock.changed",
                .body = {{"sku", sku},
                         {"sku_on_hand", on_hand},
                         {"sku_reserved", reserved},
                         {"version", version}}};
}

TEST(ValidateBatch, AcceptsAnEmptyOrConsecutiveBatch) {
  EXPECT_TRUE(validate_batch({}).is_ok());
  EXPECT_TRUE(validate_batch({stock(3, "A", 1), stock(4, "B", 2),
                              Change{.seq = 5, .kind = "order.updated", .body = 7}})
                  .is_ok());
}

TEST(ValidateBatch, RefusesGapsRepeatsAndSeqsBelowOne) {
  Status gap = validate_batch({stock(1, "A", 1), stock(3, "A", 2)});
  EXPECT_EQ(gap.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(gap.field(), "changes[1].seq");
  EXPECT_EQ(validate_batch({stock(2, "A", 1), stock(2, "A", 2)}).field(), "changes[1].seq");
  EXPECT_EQ(validate_batch({stock(0, "A", 1)}).field(), "changes[0].seq");
  EXPECT_EQ(validate_batch({stock(-5, "A", 1)}).code(), StatusCode::kInvalidArgument);
  const std::int64_t max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(validate_batch({stock(max, "A", 1), stock(max, "A", 2)}).field(), "changes[1].seq");
}

TEST(ValidateChange, RefusesBadKindsAndMalformedStockBodies) {
  EXPECT_EQ(validate_one({Change{.seq = 1, .kind = "Stock Changed", .body = {}}}).field(),
            "changes[0].kind");
  EXPECT_EQ(validate_one({Change{.seq = 1, .kind = "", .body = {}}}).field(), "changes[0].kind");

  Change no_sku = stock(1, "A", 1);
  no_sku.body.erase("sku");
  EXPECT_EQ(validate_one({no_sku}).field(), "changes[0].body.sku");
  Change text_qty = stock(1, "A", 1);
  text_qty.body["sku_on_hand"] = "5";
  EXPECT_EQ(validate_one({text_qty}).field(), "changes[0].body.sku_on_hand");
  Change fractional = stock(1, "A", 1);
  fractional.body["sku_reserved"] = 1.5;
  EXPECT_EQ(validate_one({fractional}).field(), "changes[0].body.sku_reserved");
  Change huge = stock(1, "A", 1);
  huge.body["sku_on_hand"] = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(validate_one({huge}).field(), "changes[0].body.sku_on_hand");
  Change negative_version = stock(1, "A", 1, 0, -1);
  EXPECT_EQ(validate_one({negative_version}).field(), "changes[0].body.version");
  Change control = stock(1, "A\nB", 1);
  EXPECT_EQ(validate_one({control}).field(), "changes[0].body.sku");
  Change not_object{.seq = 1, .kind = "stock.snapshot", .body = nlohmann::json::array()};
  EXPECT_EQ(validate_one({not_object}).code(), StatusCode::kInvalidArgument);

  Change no_version = stock(1, "A", 1);
  no_version.body.erase("version");
  EXPECT_TRUE(validate_one({no_version}).is_ok());
}

TEST(ValidateChange, RefusesUnknownCodeWithoutUsableCode) {
  EXPECT_TRUE(
      validate_one({Change{.seq = 1, .kind = "scan.unknown_code", .body = {{"code", "0123\x1d"}}}})
          .is_ok());
  EXPECT_EQ(
      validate_one({Change{.seq = 1, .kind = "scan.unknown_code", .body = {{"code", ""}}}}).field(),
      "changes[0].body.code");
  EXPECT_EQ(
      validate_one({Change{.seq = 1, .kind = "scan.unknown_code", .body = {{"code", 5}}}}).field(),
      "changes[0].body.code");
  EXPECT_EQ(validate_one({Change{.seq = 1,
                                 .kind = "scan.unknown_code",
                                 .body = {{"code", std::string("ab\0cd", 5)}}}})
                .field(),
            "changes[0].body.code");
  EXPECT_EQ(validate_one({Change{.seq = 1,
                                 .kind = "scan.unknown_code",
                                 .body = {{"code", std::string(257, '7')}}}})
                .field(),
            "changes[0].body.code");
}

TEST(ValidateChange, ChecksSnapshotEndMarkers) {
  auto end = [](nlohmann::json body) {
    return std::vector<Change>{Change{.seq = 9, .kind = "stock.snapshot_end", .body = body}};
  };
  EXPECT_TRUE(validate_one(end(nlohmann::json::object())).is_ok());
  EXPECT_TRUE(
      validate_one(end({{"from_seq", 3}, {"buckets", 4}, {"bucket_list", {0, 3}}})).is_ok());
  EXPECT_EQ(validate_one(end({{"from_seq", 0}})).field(), "changes[0].body.from_seq");
  EXPECT_EQ(validate_one(end({{"bucket_list", {1, 2}}})).field(), "changes[0].body.bucket_list");
  EXPECT_EQ(validate_one(end({{"buckets", 4}, {"bucket_list", {4, 1}}})).field(),
            "changes[0].body.bucket_list");
  EXPECT_EQ(validate_one(end({{"buckets", 0}})).field(), "changes[0].body.buckets");
}

TEST(PlanBatch, QuarantinesMalformedChangesAndAppliesTheRest) {
  Change bad = stock(2, "A", 1);
  bad.body["sku_on_hand"] = "many";
  BatchPlan plan = plan_batch({stock(1, "A", 1), bad, stock(3, "A", 4)}, 0, 77);
  EXPECT_EQ(plan.applied, 3);
  EXPECT_EQ(plan.new_last_applied, 3);
  ASSERT_EQ(plan.stock.size(), 1u);
  EXPECT_EQ(plan.stock[0].on_hand, 4);
  ASSERT_EQ(plan.quarantined.size(), 1u);
  EXPECT_EQ(plan.quarantined[0].seq, 2);
  EXPECT_EQ(plan.quarantined[0].field, "changes[1].body.sku_on_hand");
  EXPECT_EQ(plan.quarantined[0].at_ms, 77);
}

TEST(PlanBatch, FoldsChangesPerSkuKeepingTheLast) {
  BatchPlan plan =
      plan_batch({stock(1, "B", 5), stock(2, "A", 3), stock(3, "B", 4, 1, 9),
                  Change{.seq = 4, .kind = "scan.unknown_code", .body = {{"code", "x"}}},
                  Change{.seq = 5, .kind = "scan.unknown_code", .body = {{"code", "x"}}},
                  Change{.seq = 6, .kind = "order.updated", .body = {}},
                  Change{.seq = 7, .kind = "product.upserted", .body = {}},
                  Change{.seq = 8, .kind = "order.updated", .body = {}}},
                 0);
  EXPECT_EQ(plan.applied, 8);
  EXPECT_EQ(plan.duplicates, 0);
  EXPECT_EQ(plan.new_last_applied, 8);
  EXPECT_FALSE(plan.expected_seq.has_value());
  ASSERT_EQ(plan.stock.size(), 2u);
  EXPECT_EQ(plan.stock[0].sku, "A");
  EXPECT_EQ(plan.stock[1].sku, "B");
  EXPECT_EQ(plan.stock[1].on_hand, 4);
  EXPECT_EQ(plan.stock[1].reserved, 1);
  EXPECT_EQ(plan.stock[1].version, 9);
  EXPECT_EQ(plan.stock[1].seq, 3);
  ASSERT_EQ(plan.unknown_codes.size(), 1u);
  EXPECT_EQ(plan.unknown_codes[0], (std::pair<std::string, std::int64_t>("x", 2)));
  ASSERT_EQ(plan.kind_counts.size(), 2u);
  EXPECT_EQ(plan.kind_counts[0], (std::pair<std::string, std::int64_t>("order.updated", 2)));
  EXPECT_EQ(plan.kind_counts[1], (std::pair<std::string, std::int64_t>("product.upserted", 1)));
}

TEST(PlanBatch, SkipsReplaysAndAppliesOnlyTheNewTail) {
  BatchPlan plan = plan_batch({stock(4, "A", 1), stock(5, "A", 2), stock(6, "A", 3)}, 5);
  EXPECT_EQ(plan.duplicates, 2);
  EXPECT_EQ(plan.applied, 1);
  EXPECT_EQ(plan.new_last_applied, 6);
  ASSERT_EQ(plan.stock.size(), 1u);
  EXPECT_EQ(plan.stock[0].on_hand, 3);

  BatchPlan replay = plan_batch({stock(1, "A", 1), stock(2, "A", 2)}, 5);
  EXPECT_EQ(replay.duplicates, 2);
  EXPECT_EQ(replay.applied, 0);
  EXPECT_EQ(replay.new_last_applied, 5);
  EXPECT_TRUE(replay.stock.empty());
}

TEST(PlanBatch, AGapAppliesNothingAndNamesTheExpectedSeq) {
  BatchPlan plan = plan_batch({stock(8, "A", 1)}, 5);
  EXPECT_EQ(plan.expected_seq, 6);
  EXPECT_EQ(plan.applied, 0);
  EXPECT_EQ(plan.duplicates, 0);
  EXPECT_EQ(plan.new_last_applied, 5);
  EXPECT_TRUE(plan.stock.empty());
}

TEST(ValidateRegistration, DerivesAPrecision7GeohashAndChecksFields) {
  StoreRegistration store;
  store.id = "blr-01";
  store.name = "Indiranagar";
  store.lat = 12.9716;
  store.lon = 77.6412;
  StatusOr<std::string> hash = detail::validate_registration(store);
  ASSERT_TRUE(hash.ok()) << hash.status().to_string();
  EXPECT_EQ(hash->size(), 7u);
  EXPECT_EQ(hash->substr(0, 4), "tdr1");

  auto field_of = [](StoreRegistration s) {
    return detail::validate_registration(s).status().field();
  };
  StoreRegistration bad = store;
  bad.id = "blr/01";
  EXPECT_EQ(field_of(bad), "id");
  bad = store;
  bad.id = std::string(65, 'a');
  EXPECT_EQ(field_of(bad), "id");
  bad = store;
  bad.name = "";
  EXPECT_EQ(field_of(bad), "name");
  bad = store;
  bad.lat = 91;
  EXPECT_EQ(field_of(bad), "lat");
  bad = store;
  bad.service_radius_m = 0;
  EXPECT_EQ(field_of(bad), "service_radius_m");
  bad = store;
  bad.opening_hours = "9-5";
  EXPECT_EQ(field_of(bad), "opening_hours");
  bad = store;
  bad.secret_sha256 = std::string(64, 'A');
  EXPECT_EQ(field_of(bad), "secret_sha256");
  bad = store;
  bad.secret_sha256 = std::string(64, 'a');
  EXPECT_TRUE(detail::validate_registration(bad).ok());
}

TEST(ValidateCatalogItem, ChecksEveryField) {
  CatalogItem item;
  item.sku = "SKU-1";
  item.name = "Milk 1L";
  item.price_cents = 6500;
  item.barcodes = {"08901234567890"};
  EXPECT_TRUE(detail::validate_catalog_item(item).is_ok());
  auto field_of = [](CatalogItem i) { return detail::validate_catalog_item(i).field(); };
  CatalogItem bad = item;
  bad.sku = "";
  EXPECT_EQ(field_of(bad), "sku");
  bad = item;
  bad.name = "\xff\xfe";
  EXPECT_EQ(field_of(bad), "name");
  bad = item;
  bad.price_cents = -1;
  EXPECT_EQ(field_of(bad), "price_cents");
  bad = item;
  bad.unit = "";
  EXPECT_EQ(field_of(bad), "unit");
  bad = item;
  bad.barcodes = {"08901234567890", "890123"};
  EXPECT_EQ(field_of(bad), "barcodes[1]");
  bad = item;
  bad.name = "Dahi \xe0\xa4\xa6\xe0\xa4\xb9\xe0\xa5\x80";  // Devanagari is fine
  EXPECT_TRUE(detail::validate_catalog_item(bad).is_ok());
}

// The stored cover column reads back through the wire's validating decoder; a row that
// no longer decodes is the database's fault, not the caller's.
TEST(StoreCoverColumn, RoundTripsAndACorruptRowIsInternal) {
  const std::vector<wire::StockCover> cover = {{"RICE", 90, 1.5}, {"TEA", 3, 0.0}};
  EXPECT_EQ(detail::decode_store_cover(detail::encode_store_cover(cover)).value(), cover);
  EXPECT_EQ(detail::decode_store_cover("not json").status().code(), StatusCode::kInternal);
  EXPECT_EQ(
      detail::decode_store_cover(R"([{"sku":"A","units":-1,"daily_demand":1}])").status().code(),
      StatusCode::kInternal);
  EXPECT_TRUE(detail::validate_store_cover({.store_id = "s1", .cover = cover, .at_ms = 1}).is_ok());
}

}  // namespace
}  // namespace shopeasy::cloud::storage
