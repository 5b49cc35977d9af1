// Conformance suite: every test runs against SqliteCloudStore (a file in a TempDir) and
// PostgresCloudStore (a fresh database on a throwaway server shared by the suite).
#include "cloud/storage/cloud_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <limits>
#include <set>
#include <thread>

#include "common/db/database.hpp"
#include "common/geohash/geohash.hpp"
#include "common/wire/sync.hpp"
#include "tests/harness/postgres_server.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::cloud::storage {
namespace {

using shopeasy::testing::PostgresServer;
using shopeasy::testing::TempDir;

constexpr std::int64_t kNow = 1'795'000'000'000;  // 2026-11-18
constexpr std::int64_t kDayMs = 86'400'000;

#define ASSERT_OK(expr)                                                      \
  do {                                                                       \
    const ::shopeasy::Status assert_ok_status_ = (expr);                     \
    ASSERT_TRUE(assert_ok_status_.is_ok()) << assert_ok_status_.to_string(); \
  } while (false)

// The value of a StatusOr, or a default value after recording a failure.
template <typename T>
T value_of(StatusOr<T> result, const char* what) {
  if (!result.ok()) {
    ADD_FAILURE() << what << ": " << result.status().to_string();
    return T{};
  }
  return std::move(result).value();
}
#define VALUE(expr) value_of((expr), #expr)

Change stock_change(std::int64_t seq, const std::string& sku, std::int64_t on_hand,
                    std::int64_t reserved = 0, std::int64_t version = 1,
                    const std::string& kind = "stock.changed") {
  return Change{.seq = seq,
                .kind = kind,
                .body = {{"sku", sku},
                         {"sku_on_hand", on_hand},
                         {"sku_reserved", reserved},
                         {"sku_available", on_hand - reserved},
                         {"version", version}}};
}

Change counted(std::int64_t seq, const std::string& kind = "order.updated") {
  return Change{.seq = seq, .kind = kind, .body = {{"order_id", "o-" + std::to_string(seq)}}};
}

Change unknown_code(std::int64_t seq, const std::string& code) {
  return Change{.seq = seq, .kind = "scan.unknown_code", .body = {{"code", code}}};
}

// Changes first..first+count-1: SKU-(seq % skus) set to on_hand = seq, every fifth an
// order update (counted only).
std::vector<Change> mixed_batch(std::int64_t first, std::int64_t count, int skus = 50) {
  std::vector<Change> out;
  out.reserve(static_cast<std::size_t>(count));
  for (std::int64_t seq = first; seq < first + count; ++seq) {
    if (seq % 5 == 0) {
      out.push_back(counted(seq));
    } else {
      out.push_back(stock_change(seq, "SKU-" + std::to_string(seq % skus), seq, seq % 3, seq));
    }
  }
  return out;
}

StoreRegistration store_reg(const std::string& id, bool active = true) {
  return StoreRegistration{
      .id = id,
      .name = "Store " + id,
      .lat = 12.9716,
      .lon = 77.6412,
      .service_radius_m = 2500,
      .opening_hours = {{"open", "06:00"}, {"close", "01:00"}, {"tz_offset_min", 330}},
      .secret_sha256 = std::string(64, 'a'),
      .active = active};
}

CatalogItem catalog_item(const std::string& sku, std::int64_t price, bool active = true) {
  return CatalogItem{.sku = sku,
                     .name = "Item " + sku,
                     .category = "dairy",
                     .price_cents = price,
                     .unit = "each",
                     .barcodes = {"08901234567890"},
                     .active = active};
}

class CloudStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  static std::optional<PostgresServer>& server() {
    static std::optional<PostgresServer> instance;
    return instance;
  }
  static void TearDownTestSuite() { server().reset(); }

  bool is_postgres() const { return GetParam() == "postgres"; }

  void SetUp() override {
    if (is_postgres()) {
      if (!server()) {
        // fsync off: nothing here outlives the machine, and a killed server loses no
        // committed data without it (the OS still has the pages). Creating a database per
        // test becomes several times faster.
        StatusOr<PostgresServer> started = PostgresServer::start({.settings = {"fsync=off"}});
        ASSERT_TRUE(started.ok()) << started.status().to_string();
        server().emplace(std::move(*started));
      }
      static int databases = 0;
      const std::string name = "conformance_" + std::to_string(++databases);
      ASSERT_OK(server()->create_database(name));
      db_name_ = name;
      dsn_ = server()->dsn(name);
    } else {
      StatusOr<TempDir> dir = TempDir::create("shopeasy-cloud-store");
      ASSERT_TRUE(dir.ok()) << dir.status().to_string();
      dir_.emplace(std::move(*dir));
    }
    store_ = open_instance();
    ASSERT_NE(store_, nullptr);
    ASSERT_OK(store_->migrate());
  }

  // Another handle on the same data: a reopened file, or another cloud instance.
  std::unique_ptr<CloudStore> open_instance() {
    StatusOr<std::unique_ptr<CloudStore>> opened =
        is_postgres() ? open_postgres_store(dsn_, 4)
                      : open_sqlite_store(dir_->file("cloud.db").string());
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Runs SQL on the database behind the store's back.
  Status run_sql(const std::string& sql) {
    if (is_postgres()) return server()->execute(db_name_, sql);
    StatusOr<db::Database> db = db::Database::open(dir_->file("cloud.db").string());
    if (!db.ok()) return db.status();
    return db->exec(sql);
  }

  void register_store(const std::string& id, bool active = true) {
    ASSERT_OK(store_->upsert_store(store_reg(id, active)));
  }

  ApplyResult apply(const std::string& id, const std::vector<Change>& changes,
                    std::int64_t now_ms = kNow) {
    return VALUE(store_->apply_batch(id, changes, now_ms));
  }

  std::optional<TempDir> dir_;
  std::string db_name_;
  std::string dsn_;
  std::unique_ptr<CloudStore> store_;
};

TEST_P(CloudStoreTest, RegistersListsAndGetsStores) {
  register_store("blr-02");
  register_store("blr-01");
  std::vector<StoreRecord> stores = VALUE(store_->list_stores());
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores[0].registration.id, "blr-01");
  EXPECT_EQ(stores[1].registration.id, "blr-02");

  StoreRecord one = VALUE(store_->get_store("blr-01"));
  const StoreRegistration expected = store_reg("blr-01");
  EXPECT_EQ(one.registration.name, expected.name);
  EXPECT_DOUBLE_EQ(one.registration.lat, expected.lat);
  EXPECT_DOUBLE_EQ(one.registration.lon, expected.lon);
  EXPECT_DOUBLE_EQ(one.registration.service_radius_m, 2500);
  EXPECT_EQ(one.registration.opening_hours, expected.opening_hours);
  EXPECT_EQ(one.registration.secret_sha256, expected.secret_sha256);
  EXPECT_TRUE(one.registration.active);
  EXPECT_EQ(one.geohash, VALUE(geohash::encode({expected.lat, expected.lon}, 7)));
  EXPECT_EQ(one.last_applied_seq, 0);
  EXPECT_EQ(one.last_seen_ms, 0);

  StatusOr<StoreRecord> missing = store_->get_store("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_store("bad id/../x").status().code(), StatusCode::kNotFound);
}

TEST_P(CloudStoreTest, ReRegisteringKeepsTheSyncPosition) {
  register_store("s1");
  apply("s1", mixed_batch(1, 10));
  StoreRegistration moved = store_reg("s1");
  moved.name = "Renamed";
  moved.lat = 28.6139;
  moved.lon = 77.2090;
  moved.active = false;
  ASSERT_OK(store_->upsert_store(moved));
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.registration.name, "Renamed");
  EXPECT_FALSE(record.registration.active);
  EXPECT_EQ(record.geohash, VALUE(geohash::encode({28.6139, 77.2090}, 7)));
  EXPECT_EQ(record.last_applied_seq, 10);
  EXPECT_EQ(record.applied_changes, 10);
  EXPECT_EQ(VALUE(store_->apply_batch("s1", mixed_batch(11, 1), kNow)).acked_seq, 11);
}

TEST_P(CloudStoreTest, RefusesBadRegistrations) {
  StoreRegistration bad = store_reg("s/1");
  EXPECT_EQ(store_->upsert_store(bad).field(), "id");
  bad = store_reg("s1");
  bad.lon = 181;
  EXPECT_EQ(store_->upsert_store(bad).field(), "lon");
  bad = store_reg("s1");
  bad.secret_sha256 = "abc";
  EXPECT_EQ(store_->upsert_store(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(VALUE(store_->list_stores()).empty());
}

TEST_P(CloudStoreTest, TouchRecordsLastSeen) {
  register_store("s1");
  ASSERT_OK(store_->touch_store("s1", kNow + 5));
  EXPECT_EQ(VALUE(store_->get_store("s1")).last_seen_ms, kNow + 5);
  EXPECT_EQ(store_->touch_store("nope", kNow).code(), StatusCode::kNotFound);
}

// Instances poll the version and read the registry only when it moved: every saved
// registration moves it; being heard from (touch, a sync batch) does not.
TEST_P(CloudStoreTest, RegistryVersionMovesOnlyWithRegistrations) {
  EXPECT_EQ(VALUE(store_->registry_version()), 0);
  register_store("s1");
  const std::int64_t first = VALUE(store_->registry_version());
  EXPECT_GT(first, 0);
  register_store("s2");
  const std::int64_t second = VALUE(store_->registry_version());
  EXPECT_GT(second, first);
  ASSERT_OK(store_->touch_store("s1", kNow + 5));
  apply("s1", mixed_batch(1, 3));
  EXPECT_EQ(VALUE(store_->registry_version()), second);
  StoreRegistration moved = store_reg("s1");
  moved.lat = 28.6139;
  ASSERT_OK(store_->upsert_store(moved));
  EXPECT_GT(VALUE(store_->registry_version()), second);
  // A refused registration changes nothing.
  const std::int64_t after_move = VALUE(store_->registry_version());
  StoreRegistration bad = store_reg("s1");
  bad.lon = 181;
  EXPECT_FALSE(store_->upsert_store(bad).is_ok());
  EXPECT_EQ(VALUE(store_->registry_version()), after_move);
}

TEST_P(CloudStoreTest, StoresSeenSinceListsOnlyRecentVisits) {
  register_store("s1");
  register_store("s2");
  register_store("s3");
  ASSERT_OK(store_->touch_store("s1", kNow));
  ASSERT_OK(store_->touch_store("s2", kNow + 100));
  const std::vector<StoreSeen> seen = VALUE(store_->stores_seen_since(kNow + 50));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, "s2");
  EXPECT_EQ(seen[0].last_seen_ms, kNow + 100);
  EXPECT_EQ(VALUE(store_->stores_seen_since(kNow)).size(), 2u);  // s3 was never seen
}

TEST_P(CloudStoreTest, AppliesBatchesInOrder) {
  register_store("s1");
  ApplyResult first = apply(
      "s1", {stock_change(1, "A", 10), stock_change(2, "B", 4, 1), stock_change(3, "A", 9, 0, 2)});
  EXPECT_EQ(first.acked_seq, 3);
  EXPECT_EQ(first.applied, 3);
  EXPECT_EQ(first.duplicates, 0);
  EXPECT_FALSE(first.expected_seq.has_value());
  ApplyResult second = apply("s1", {stock_change(4, "B", 3, 1, 2), counted(5)}, kNow + 1000);
  EXPECT_EQ(second.acked_seq, 5);
  EXPECT_EQ(second.applied, 2);

  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, 5);
  EXPECT_EQ(record.applied_changes, 5);
  EXPECT_EQ(record.duplicate_changes, 0);
  EXPECT_EQ(record.last_seen_ms, kNow + 1000);
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].sku, "A");
  EXPECT_EQ(rows[0].on_hand, 9);
  EXPECT_EQ(rows[0].version, 2);
  EXPECT_EQ(rows[0].updated_seq, 3);
  EXPECT_EQ(rows[1].sku, "B");
  EXPECT_EQ(rows[1].on_hand, 3);
  EXPECT_EQ(rows[1].reserved, 1);
  EXPECT_EQ(rows[1].updated_seq, 4);
  EXPECT_EQ(rows[1].store_id, "s1");
}

TEST_P(CloudStoreTest, AnEmptyBatchOnlyRecordsTheVisit) {
  register_store("s1");
  apply("s1", mixed_batch(1, 3));
  ApplyResult result = apply("s1", {}, kNow + 7);
  EXPECT_EQ(result.acked_seq, 3);
  EXPECT_EQ(result.applied, 0);
  EXPECT_EQ(VALUE(store_->get_store("s1")).last_seen_ms, kNow + 7);
}

// The store says what its batch left behind; the fleet dashboard shows it until the next
// applied batch says otherwise. A refused batch (a gap) says nothing new.
TEST_P(CloudStoreTest, KeepsTheOldestUnsyncedChangeTheLastAppliedBatchReported) {
  register_store("s1");
  EXPECT_EQ(VALUE(store_->get_store("s1")).oldest_unsynced_ms, 0);
  const BatchMeta behind{.oldest_unsent_ms = kNow - 90'000};
  ASSERT_TRUE(store_->apply_batch("s1", mixed_batch(1, 3), kNow, behind).ok());
  EXPECT_EQ(VALUE(store_->get_store("s1")).oldest_unsynced_ms, kNow - 90'000);
  ApplyResult gap = VALUE(store_->apply_batch("s1", {stock_change(9, "A", 1)}, kNow, BatchMeta{}));
  ASSERT_TRUE(gap.expected_seq.has_value());
  EXPECT_EQ(VALUE(store_->get_store("s1")).oldest_unsynced_ms, kNow - 90'000);
  ASSERT_TRUE(store_->apply_batch("s1", mixed_batch(4, 2), kNow, BatchMeta{}).ok());
  EXPECT_EQ(VALUE(store_->get_store("s1")).oldest_unsynced_ms, 0);
}

// A store's purchase orders, as its purchase_order.changed changes last said: the
// latest change wins, a replay of an older one does not go back, a malformed one is
// quarantined, and the kind is still counted.
TEST_P(CloudStoreTest, KeepsEachPurchaseOrderAsTheStoresLastChangeSaid) {
  register_store("s1");
  auto po = [](std::int64_t seq, const std::string& id, const std::string& status,
               std::int64_t at) {
    return Change{.seq = seq,
                  .kind = "purchase_order.changed",
                  .body = {{"po_id", id},
                           {"supplier_id", "dairy"},
                           {"status", status},
                           {"updated_at_ms", at},
                           {"lines", {{{"sku", "MILK"}, {"qty", 24}, {"received", 0}}}}}};
  };
  apply("s1", {po(1, "PO-1", "draft", kNow), po(2, "PO-2", "draft", kNow + 1),
               po(3, "PO-1", "sent", kNow + 2)});
  std::vector<StorePurchaseOrder> all = VALUE(store_->purchase_orders("s1", "", 100));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].po_id, "PO-1");  // most recently changed first
  EXPECT_EQ(all[0].status, "sent");
  EXPECT_EQ(all[0].updated_seq, 3);
  EXPECT_EQ(all[0].body["lines"][0]["qty"], 24);
  EXPECT_EQ(all[1].status, "draft");
  EXPECT_EQ(VALUE(store_->purchase_orders("s1", "draft", 100)).size(), 1u);
  EXPECT_EQ(VALUE(store_->purchase_orders("s1", "", 1)).size(), 1u);
  // A replay changes nothing; a malformed change is set aside, the rest applies.
  apply("s1", {po(1, "PO-1", "draft", kNow)});
  ApplyResult more = apply("s1", {Change{.seq = 4,
                                         .kind = "purchase_order.changed",
                                         .body = {{"po_id", ""}, {"supplier_id", "d"}}},
                                  po(5, "PO-2", "cancelled", kNow + 5)});
  ASSERT_EQ(more.quarantined.size(), 1u);
  EXPECT_EQ(more.quarantined[0].field, "changes[0].body.po_id");
  all = VALUE(store_->purchase_orders("s1", "", 100));
  EXPECT_EQ(all[0].po_id, "PO-2");
  EXPECT_EQ(all[0].status, "cancelled");
  EXPECT_EQ(all[1].status, "sent");
  EXPECT_EQ(VALUE(store_->change_counts("s1")).at("purchase_order.changed"), 4);
  EXPECT_EQ(store_->purchase_orders("nope", "", 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->purchase_orders("s1", "", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(CloudStoreTest, ReplayIsANoOpCountedAsDuplicates) {
  register_store("s1");
  apply("s1", {stock_change(1, "A", 10), counted(2)});
  // The replay carries different content for the same seqs: it must not be applied.
  ApplyResult replay = apply("s1", {stock_change(1, "A", 999), counted(2)});
  EXPECT_EQ(replay.acked_seq, 2);
  EXPECT_EQ(replay.applied, 0);
  EXPECT_EQ(replay.duplicates, 2);
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.applied_changes, 2);
  EXPECT_EQ(record.duplicate_changes, 2);
  EXPECT_EQ(VALUE(store_->availability("s1", {"A"}))[0].on_hand, 10);
  EXPECT_EQ(VALUE(store_->change_counts("s1")).at("order.updated"), 1);
}

TEST_P(CloudStoreTest, AGapIsRefusedWithTheExpectedSeqAndNothingApplied) {
  register_store("s1");
  apply("s1", mixed_batch(1, 4));
  ApplyResult gap = apply("s1", {stock_change(7, "A", 1), stock_change(8, "Z", 1)});
  EXPECT_EQ(gap.acked_seq, 4);
  ASSERT_TRUE(gap.expected_seq.has_value());
  EXPECT_EQ(*gap.expected_seq, 5);
  EXPECT_EQ(gap.applied, 0);
  EXPECT_EQ(gap.duplicates, 0);
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, 4);
  EXPECT_EQ(record.applied_changes, 4);
  EXPECT_TRUE(VALUE(store_->availability("s1", {"Z"})).empty());
}

TEST_P(CloudStoreTest, OutOfOrderBatchesApplyOnceTheGapIsFilled) {
  register_store("s1");
  std::vector<Change> later = {stock_change(4, "A", 40), stock_change(5, "A", 50)};
  std::vector<Change> earlier = {stock_change(1, "A", 10), stock_change(2, "B", 20),
                                 stock_change(3, "A", 30)};
  EXPECT_EQ(apply("s1", later).expected_seq, 1);
  EXPECT_EQ(apply("s1", earlier).acked_seq, 3);
  ApplyResult filled = apply("s1", later);
  EXPECT_EQ(filled.acked_seq, 5);
  EXPECT_EQ(filled.applied, 2);
  EXPECT_EQ(apply("s1", earlier).duplicates, 3);
  EXPECT_EQ(VALUE(store_->availability("s1", {"A"}))[0].on_hand, 50);
}

TEST_P(CloudStoreTest, APartiallyOverlappingBatchAppliesOnlyTheNewChanges) {
  register_store("s1");
  apply("s1", {stock_change(1, "A", 1), stock_change(2, "A", 2), stock_change(3, "A", 3)});
  ApplyResult overlap = apply("s1", {stock_change(2, "B", 222), stock_change(3, "A", 333),
                                     stock_change(4, "C", 4), counted(5)});
  EXPECT_EQ(overlap.acked_seq, 5);
  EXPECT_EQ(overlap.duplicates, 2);
  EXPECT_EQ(overlap.applied, 2);
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 2u);  // A and C; B came only in a replayed change
  EXPECT_EQ(rows[0].sku, "A");
  EXPECT_EQ(rows[0].on_hand, 3);
  EXPECT_EQ(rows[1].sku, "C");
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.applied_changes, 5);
  EXPECT_EQ(record.duplicate_changes, 2);
}

TEST_P(CloudStoreTest, UnknownStoresAreNotFound) {
  register_store("s1");
  auto code = [](const auto& result) { return result.status().code(); };
  EXPECT_EQ(code(store_->apply_batch("s2", mixed_batch(1, 3), kNow)), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->availability("s2", {})), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->store_catalog("s2", "", 10, "")), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->enqueue_downstream("s2", "order", {{"id", 1}})), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->downstream("s2", 0, 10)), StatusCode::kNotFound);
  EXPECT_EQ(store_->trim_downstream("s2", 0).code(), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->checksums("s2", 4)), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->unknown_codes("s2", 10)), StatusCode::kNotFound);
  EXPECT_EQ(code(store_->change_counts("s2")), StatusCode::kNotFound);
}

TEST_P(CloudStoreTest, NonConsecutiveSeqsAreInvalidAndApplyNothing) {
  register_store("s1");
  StatusOr<ApplyResult> result =
      store_->apply_batch("s1", {stock_change(1, "A", 1), stock_change(3, "A", 3)}, kNow);
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().field(), "changes[1].seq");
  StatusOr<ApplyResult> backwards =
      store_->apply_batch("s1", {stock_change(2, "A", 1), stock_change(1, "A", 3)}, kNow);
  EXPECT_EQ(backwards.status().code(), StatusCode::kInvalidArgument);
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, 0);
  EXPECT_EQ(record.last_seen_ms, 0);
  EXPECT_TRUE(VALUE(store_->availability("s1", {})).empty());
}

// One malformed change used to refuse its whole batch, and the store resent that batch
// for ever: now it is set aside with its reason and the rest applies in order.
TEST_P(CloudStoreTest, AMalformedChangeIsQuarantinedAndTheRestApplies) {
  register_store("s1");
  Change bad = stock_change(2, "B", 1);
  bad.body["sku_on_hand"] = "lots";
  Change not_object{.seq = 4, .kind = "stock.changed", .body = nlohmann::json::array()};
  Change bad_kind{.seq = 5, .kind = std::string("Bad\x01Kind"), .body = {{"x", 1}}};
  StatusOr<ApplyResult> result =
      store_->apply_batch("s1",
                          {stock_change(1, "A", 1), bad, stock_change(3, "B", 7), not_object,
                           bad_kind, stock_change(6, "A", 9)},
                          kNow);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  EXPECT_EQ(result->acked_seq, 6);
  EXPECT_EQ(result->applied, 6);
  ASSERT_EQ(result->quarantined.size(), 3u);
  EXPECT_EQ(result->quarantined[0].seq, 2);
  EXPECT_EQ(result->quarantined[0].field, "changes[1].body.sku_on_hand");
  EXPECT_EQ(result->quarantined[1].field, "changes[3].body");
  EXPECT_EQ(result->quarantined[2].field, "changes[4].kind");
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].on_hand, 9);  // A: the change after the bad ones applied
  EXPECT_EQ(rows[1].on_hand, 7);  // B
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, 6);
  EXPECT_EQ(record.quarantined_changes, 3);
  std::vector<QuarantinedChange> kept = VALUE(store_->quarantined("s1", 10));
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[0].seq, 5);  // newest first
  EXPECT_EQ(kept[0].kind, "Bad?Kind");
  EXPECT_EQ(kept[2].seq, 2);
  EXPECT_EQ(kept[2].body["sku_on_hand"], "lots");
  EXPECT_EQ(kept[2].reason, "must be an integer between -1000000000000 and 1000000000000");
  EXPECT_EQ(kept[2].at_ms, kNow);
  // A replay quarantines nothing twice.
  ASSERT_TRUE(store_->apply_batch("s1", {bad, stock_change(3, "B", 7)}, kNow).ok());
  EXPECT_EQ(VALUE(store_->get_store("s1")).quarantined_changes, 3);
  EXPECT_EQ(store_->quarantined("s1", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->quarantined("nope", 10).status().code(), StatusCode::kNotFound);
}

// A SKU the store removed must leave the replica once the store says its listing is
// complete; rows outside the listed buckets and rows re-sent stay.
TEST_P(CloudStoreTest, SnapshotEndRemovesRowsTheStoreNoLongerHas) {
  register_store("s1");
  apply("s1", {stock_change(1, "KEEP", 5), stock_change(2, "GONE", 3), stock_change(3, "LATE", 1)});
  const int buckets = 4;
  const int gone_bucket = sku_bucket("GONE", buckets);
  // A bucket resend: KEEP re-sent if it shares GONE's bucket, then the end marker.
  std::vector<Change> resend;
  std::int64_t seq = 4;
  if (sku_bucket("KEEP", buckets) == gone_bucket) {
    resend.push_back(stock_change(seq++, "KEEP", 5, 0, 1, "stock.snapshot"));
  }
  const std::int64_t from = resend.empty() ? seq : 4;
  resend.push_back(
      Change{.seq = seq,
             .kind = "stock.snapshot_end",
             .body = {{"from_seq", from}, {"buckets", buckets}, {"bucket_list", {gone_bucket}}}});
  StatusOr<ApplyResult> result = store_->apply_batch("s1", resend, kNow);
  ASSERT_TRUE(result.ok()) << result.status().to_string();
  std::int64_t expected_pruned = 1;
  if (sku_bucket("LATE", buckets) == gone_bucket) ++expected_pruned;
  EXPECT_EQ(result->pruned, expected_pruned);
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  std::vector<std::string> skus;
  for (const auto& r : rows) skus.push_back(r.sku);
  EXPECT_EQ(std::count(skus.begin(), skus.end(), "GONE"), 0);
  EXPECT_EQ(std::count(skus.begin(), skus.end(), "KEEP"), 1);
  // A full listing (no bucket list) removes every row not re-sent since from_seq.
  apply("s1",
        {stock_change(seq + 1, "KEEP", 6, 0, 2, "stock.snapshot"),
         Change{.seq = seq + 2, .kind = "stock.snapshot_end", .body = {{"from_seq", seq + 1}}}});
  rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].sku, "KEEP");
  EXPECT_EQ(rows[0].on_hand, 6);
  // A malformed marker is quarantined, removing nothing.
  ApplyResult bad = VALUE(store_->apply_batch(
      "s1", {Change{.seq = seq + 3, .kind = "stock.snapshot_end", .body = {{"bucket_list", {1}}}}},
      kNow));
  EXPECT_EQ(bad.quarantined.size(), 1u);
  EXPECT_EQ(VALUE(store_->availability("s1", {})).size(), 1u);
}

constexpr const char* kOutboxA = "0123456789abcdef0123456789abcdef";
constexpr const char* kOutboxB = "fedcba9876543210fedcba9876543210";

// An edge restored from an old backup numbers new, different changes with seqs the
// cloud already applied: acknowledging them as duplicates would lose them.
TEST_P(CloudStoreTest, ARestoredEdgeIsToldToResyncInsteadOfLosingChanges) {
  register_store("s1");
  const BatchMeta a{.outbox_id = kOutboxA, .head_seq = 4, .resync_from_seq = std::nullopt};
  ASSERT_TRUE(store_->apply_batch("s1", mixed_batch(1, 4), kNow, a).ok());
  EXPECT_EQ(VALUE(store_->get_store("s1")).outbox_id, kOutboxA);
  // A plain replay (the acknowledgement was lost) is still a duplicate.
  ApplyResult replay = VALUE(store_->apply_batch("s1", mixed_batch(3, 2), kNow, a));
  EXPECT_EQ(replay.conflict, HistoryConflict::kNone);
  EXPECT_EQ(replay.duplicates, 2);
  EXPECT_EQ(replay.acked_seq, 4);
  // A replay ending before last_applied is acknowledged up to its end only.
  EXPECT_EQ(VALUE(store_->apply_batch("s1", mixed_batch(1, 2), kNow, a)).acked_seq, 2);
  // Restored to after change 2: its head is behind what was applied.
  ApplyResult behind = VALUE(store_->apply_batch(
      "s1", {stock_change(3, "X", 1)}, kNow,
      BatchMeta{.outbox_id = kOutboxA, .head_seq = 3, .resync_from_seq = std::nullopt}));
  EXPECT_EQ(behind.conflict, HistoryConflict::kEdgeBehind);
  EXPECT_EQ(behind.acked_seq, 4);
  // Restored, then more traffic past 4: the change at 4 differs from the applied one.
  ApplyResult diverged = VALUE(store_->apply_batch(
      "s1", {stock_change(3, "X", 1), stock_change(4, "X", 2), stock_change(5, "X", 3)}, kNow,
      BatchMeta{.outbox_id = kOutboxA, .head_seq = 5, .resync_from_seq = std::nullopt}));
  EXPECT_EQ(diverged.conflict, HistoryConflict::kHistoryDiverged);
  // A new database altogether.
  ApplyResult other = VALUE(store_->apply_batch(
      "s1", {stock_change(1, "X", 1)}, kNow,
      BatchMeta{.outbox_id = kOutboxB, .head_seq = 9, .resync_from_seq = std::nullopt}));
  EXPECT_EQ(other.conflict, HistoryConflict::kOutboxChanged);
  // Nothing of the refused batches was applied.
  EXPECT_TRUE(VALUE(store_->availability("s1", {"X"})).empty());
  EXPECT_EQ(VALUE(store_->get_store("s1")).last_applied_seq, 4);
  // The full snapshot, numbered past 4 (here from 7), replaces the replica.
  const BatchMeta resync{.outbox_id = kOutboxB, .head_seq = 9, .resync_from_seq = 7};
  ApplyResult started = VALUE(store_->apply_batch(
      "s1",
      {stock_change(7, "X", 3, 0, 1, "stock.snapshot"),
       Change{.seq = 8, .kind = "stock.snapshot_end", .body = {{"from_seq", 7}}}},
      kNow, resync));
  EXPECT_EQ(started.conflict, HistoryConflict::kNone);
  EXPECT_TRUE(started.resynced);
  EXPECT_EQ(started.acked_seq, 8);
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].sku, "X");
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.outbox_id, kOutboxB);
  EXPECT_EQ(record.resyncs, 1);
  // Replayed, the snapshot's first batch is a duplicate, not a second resync.
  ApplyResult again = VALUE(
      store_->apply_batch("s1", {stock_change(7, "X", 3, 0, 1, "stock.snapshot")}, kNow, resync));
  EXPECT_FALSE(again.resynced);
  EXPECT_EQ(again.duplicates, 1);
  EXPECT_EQ(VALUE(store_->get_store("s1")).resyncs, 1);
}

TEST_P(CloudStoreTest, ReplicaFollowsStockChangedAndSnapshots) {
  register_store("s1");
  apply("s1", {stock_change(1, "MILK", 10, 2, 5), stock_change(2, "BREAD", 3, 0, 1),
               stock_change(3, "MILK", 0, 0, 6, "stock.snapshot"),
               stock_change(4, "EGGS", 12, 12, 1, "stock.snapshot")});
  std::vector<Availability> some = VALUE(store_->availability("s1", {"MILK", "EGGS", "NONE"}));
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0].sku, "EGGS");
  EXPECT_EQ(some[0].on_hand, 12);
  EXPECT_EQ(some[0].reserved, 12);
  EXPECT_EQ(some[1].sku, "MILK");
  EXPECT_EQ(some[1].on_hand, 0);
  EXPECT_EQ(some[1].version, 6);
  EXPECT_EQ(some[1].updated_seq, 3);
  EXPECT_EQ(VALUE(store_->availability("s1", {})).size(), 3u);
  // A change without a version records version 0.
  Change unversioned = stock_change(5, "BREAD", 2);
  unversioned.body.erase("version");
  apply("s1", {unversioned});
  EXPECT_EQ(VALUE(store_->availability("s1", {"BREAD"}))[0].version, 0);
  // Replicas are per store.
  register_store("s2");
  EXPECT_TRUE(VALUE(store_->availability("s2", {"MILK"})).empty());
}

TEST_P(CloudStoreTest, UnknownCodesAndOtherKindsAreCounted) {
  register_store("s1");
  apply("s1",
        {unknown_code(1, "0000000000017"), unknown_code(2, "4006381333931"),
         unknown_code(3, "0000000000017"), counted(4), counted(5, "product.upserted"), counted(6)},
        kNow);
  apply("s1",
        {unknown_code(7, "4006381333931"), unknown_code(8, "4006381333931"),
         unknown_code(9,
                      "]C1\x1d"
                      "01")},
        kNow + 50);
  nlohmann::json codes = VALUE(store_->unknown_codes("s1", 10));
  ASSERT_EQ(codes.size(), 3u);
  EXPECT_EQ(codes[0]["code"], "4006381333931");
  EXPECT_EQ(codes[0]["count"], 3);
  EXPECT_EQ(codes[0]["last_seen_ms"], kNow + 50);
  EXPECT_EQ(codes[1]["code"], "0000000000017");
  EXPECT_EQ(codes[1]["count"], 2);
  EXPECT_EQ(codes[1]["last_seen_ms"], kNow);
  EXPECT_EQ(codes[2]["code"],
            "]C1\x1d"
            "01");
  EXPECT_EQ(VALUE(store_->unknown_codes("s1", 1)).size(), 1u);
  std::map<std::string, std::int64_t> counts = VALUE(store_->change_counts("s1"));
  EXPECT_EQ(counts,
            (std::map<std::string, std::int64_t>{{"order.updated", 2}, {"product.upserted", 1}}));
  EXPECT_EQ(store_->unknown_codes("s1", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(CloudStoreTest, CatalogUpsertVersionsAndFansOutToEveryActiveStoreOnce) {
  register_store("s1");
  register_store("s2");
  register_store("closed", /*active=*/false);
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(catalog_item("MILK", 6500))), 1);
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(catalog_item("MILK", 6900))), 2);
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(catalog_item("EGGS", 9000))), 1);

  std::optional<CatalogItem> milk = VALUE(store_->get_catalog_item("MILK"));
  ASSERT_TRUE(milk.has_value());
  EXPECT_EQ(milk->price_cents, 6900);
  EXPECT_EQ(milk->version, 2);
  EXPECT_EQ(milk->category, "dairy");
  EXPECT_EQ(milk->barcodes, std::vector<std::string>{"08901234567890"});
  EXPECT_FALSE(VALUE(store_->get_catalog_item("NONE")).has_value());

  for (const std::string id : {"s1", "s2"}) {
    std::vector<DownstreamItem> items = VALUE(store_->downstream(id, 0, 100));
    ASSERT_EQ(items.size(), 3u) << id;
    EXPECT_EQ(items[0].cursor, 1);
    EXPECT_EQ(items[2].cursor, 3);
    EXPECT_EQ(items[0].kind, "catalog_item");
    EXPECT_EQ(items[0].body["sku"], "MILK");
    EXPECT_EQ(items[0].body["version"], 1);
    EXPECT_EQ(items[1].body["price_cents"], 6900);
    EXPECT_EQ(items[1].body["version"], 2);
    EXPECT_EQ(items[2].body["sku"], "EGGS");
  }
  EXPECT_TRUE(VALUE(store_->downstream("closed", 0, 100)).empty());

  CatalogItem bad = catalog_item("MILK", -1);
  EXPECT_EQ(store_->upsert_catalog_item(bad).status().field(), "price_cents");
  EXPECT_EQ(VALUE(store_->get_catalog_item("MILK"))->version, 2);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 100)).size(), 3u);
}

TEST_P(CloudStoreTest, CatalogPagesListEveryItemInSkuOrder) {
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("B", 100)).status());
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("A", 100)).status());
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("C", 100, /*active=*/false)).status());
  // No store is registered: the catalog is listed all the same.
  std::vector<CatalogItem> first = VALUE(store_->catalog_page("", 2));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].sku, "A");
  EXPECT_EQ(first[1].sku, "B");
  std::vector<CatalogItem> rest = VALUE(store_->catalog_page("B", 2));
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].sku, "C");
  EXPECT_FALSE(rest[0].active);
  EXPECT_EQ(store_->catalog_page("", 0).status().field(), "limit");
}

TEST_P(CloudStoreTest, SettingsAreSharedJsonDocuments) {
  EXPECT_FALSE(VALUE(store_->get_setting("search.synonyms")).has_value());
  const nlohmann::json doc = {{"groups", {{"doodh", "milk"}}}};
  ASSERT_OK(store_->put_setting("search.synonyms", doc, kNow));
  ASSERT_OK(store_->put_setting("search.synonyms", doc, kNow + 1));  // unchanged: no-op
  EXPECT_EQ(VALUE(store_->get_setting("search.synonyms")), std::optional<nlohmann::json>(doc));
  // Another instance sees it.
  std::unique_ptr<CloudStore> other = open_instance();
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(VALUE(other->get_setting("search.synonyms")), std::optional<nlohmann::json>(doc));
  ASSERT_OK(other->put_setting("search.synonyms", nlohmann::json::object(), kNow + 2));
  EXPECT_EQ(VALUE(store_->get_setting("search.synonyms")),
            std::optional<nlohmann::json>(nlohmann::json::object()));

  EXPECT_EQ(store_->put_setting("Bad Key", doc, kNow).field(), "key");
  EXPECT_EQ(store_->get_setting("").status().field(), "key");
  EXPECT_EQ(store_->put_setting("big", std::string(2 << 20, 'x'), kNow).field(), "value");
}

TEST_P(CloudStoreTest, PriceModelsHistoryAndQuotes) {
  EXPECT_TRUE(VALUE(store_->price_model_rows("milk")).empty());
  ASSERT_OK(store_->put_price_model({.sku = "milk",
                                     .store_id = "",
                                     .base_cents = 6'000,
                                     .mrp_cents = 6'800,
                                     .cost_cents = 4'500,
                                     .min_margin_bp = 1'000,
                                     .updated_at_ms = kNow}));
  ASSERT_OK(store_->put_price_model({.sku = "milk",
                                     .store_id = "s1",
                                     .base_cents = 5'900,
                                     .mrp_cents = 6'800,
                                     .cost_cents = std::nullopt,
                                     .min_margin_bp = 0,
                                     .updated_at_ms = kNow}));
  // Replaced, not added.
  ASSERT_OK(store_->put_price_model({.sku = "milk",
                                     .store_id = "",
                                     .base_cents = 6'100,
                                     .mrp_cents = 6'800,
                                     .cost_cents = 4'500,
                                     .min_margin_bp = 1'000,
                                     .updated_at_ms = kNow + 1}));
  std::vector<PriceModelRow> rows = VALUE(store_->price_model_rows("milk"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].store_id, "");
  EXPECT_EQ(rows[0].base_cents, 6'100);
  EXPECT_EQ(rows[0].cost_cents, std::optional<std::int64_t>(4'500));
  EXPECT_EQ(rows[1].store_id, "s1");
  EXPECT_FALSE(rows[1].cost_cents.has_value());

  ASSERT_OK(store_->add_price_changes({{.at_ms = kNow,
                                        .store_id = "s1",
                                        .sku = "milk",
                                        .kind = "price",
                                        .rule = "competitor",
                                        .old_cents = 6'000,
                                        .new_cents = 5'800,
                                        .inputs = {{"median", 5'900}}},
                                       {.at_ms = kNow + 10,
                                        .store_id = "s1",
                                        .sku = "",
                                        .kind = "fee",
                                        .rule = "surge",
                                        .old_cents = 2'500,
                                        .new_cents = 3'500},
                                       {.at_ms = kNow + 20,
                                        .store_id = "s1",
                                        .sku = "milk",
                                        .kind = "price",
                                        .rule = "base",
                                        .old_cents = 5'800,
                                        .new_cents = 6'000}}));
  std::vector<PriceChange> all = VALUE(store_->price_history("", "", 0, 100));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_LT(all[0].id, all[1].id);
  EXPECT_EQ(all[0].inputs, nlohmann::json({{"median", 5'900}}));
  EXPECT_EQ(VALUE(store_->price_history("milk", "s1", 0, 100)).size(), 2u);
  EXPECT_EQ(VALUE(store_->price_history("", "", all[1].id, 100)).size(), 1u);
  EXPECT_EQ(VALUE(store_->last_price_change("s1", "milk", "price", kNow + 15))->new_cents, 5'800);
  EXPECT_EQ(VALUE(store_->last_price_change("s1", "milk", "price", kNow + 20))->new_cents, 6'000);
  EXPECT_FALSE(VALUE(store_->last_price_change("s1", "milk", "price", kNow - 1)).has_value());
  EXPECT_EQ(store_->price_history("", "", 0, 0).status().field(), "limit");

  // The newest price per SKU at a store (what its view shows), and its overrides.
  ASSERT_OK(store_->add_price_changes({{.at_ms = kNow + 5,
                                        .store_id = "s1",
                                        .sku = "bread",
                                        .kind = "price",
                                        .rule = "competitor",
                                        .old_cents = 4'000,
                                        .new_cents = 3'900},
                                       {.at_ms = kNow + 30,
                                        .store_id = "s2",
                                        .sku = "milk",
                                        .kind = "price",
                                        .rule = "competitor",
                                        .old_cents = 6'000,
                                        .new_cents = 5'700}}));
  std::vector<PriceChange> latest = VALUE(store_->latest_price_changes("s1", "price", 100));
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0].sku, "bread");
  EXPECT_EQ(latest[0].new_cents, 3'900);
  EXPECT_EQ(latest[1].sku, "milk");
  EXPECT_EQ(latest[1].new_cents, 6'000);  // the newer of its two entries
  EXPECT_EQ(VALUE(store_->latest_price_changes("s1", "price", 1)).size(), 1u);
  EXPECT_TRUE(VALUE(store_->latest_price_changes("s3", "price", 100)).empty());
  EXPECT_EQ(store_->latest_price_changes("s1", "price", 0).status().field(), "limit");
  std::vector<PriceModelRow> overrides = VALUE(store_->store_price_models("s1", 100));
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0].sku, "milk");
  EXPECT_EQ(overrides[0].base_cents, 5'900);
  EXPECT_TRUE(VALUE(store_->store_price_models("s2", 100)).empty());

  EXPECT_FALSE(VALUE(store_->get_quote("q1")).has_value());
  const nlohmann::json body = {{"total_cents", 12'500}};
  ASSERT_OK(store_->put_quote(
      {.quote_id = "q1", .created_at_ms = kNow, .expires_at_ms = kNow + 600'000, .body = body}));
  std::unique_ptr<CloudStore> other = open_instance();
  ASSERT_NE(other, nullptr);
  const std::optional<StoredQuote> q = VALUE(other->get_quote("q1"));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->expires_at_ms, kNow + 600'000);
  EXPECT_EQ(q->body, body);
  EXPECT_EQ(VALUE(store_->purge_quotes(kNow + 600'000, 100)), 0);
  EXPECT_EQ(VALUE(store_->purge_quotes(kNow + 600'001, 100)), 1);
  EXPECT_FALSE(VALUE(store_->get_quote("q1")).has_value());
}

// A write repeated after its reply was lost (as PostgresCloudStore does after a lost
// COMMIT) must not bump the version or queue the item again.
TEST_P(CloudStoreTest, CatalogUpsertOfWhatIsStoredChangesNothing) {
  register_store("s1");
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(catalog_item("MILK", 6500))), 1);
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(catalog_item("MILK", 6500))), 1);
  EXPECT_EQ(VALUE(store_->get_catalog_item("MILK"))->version, 1);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 100)).size(), 1u);
  // Any one field that differs is a change.
  CatalogItem renamed = catalog_item("MILK", 6500);
  renamed.name = "Whole milk";
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(renamed)), 2);
  CatalogItem retired = renamed;
  retired.active = false;
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(retired)), 3);
  CatalogItem recoded = retired;
  recoded.barcodes = {};
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(recoded)), 4);
  EXPECT_EQ(VALUE(store_->upsert_catalog_item(recoded)), 4);
  const std::vector<DownstreamItem> items = VALUE(store_->downstream("s1", 0, 100));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[3].body["version"], 4);
  EXPECT_EQ(items[3].body["barcodes"], nlohmann::json::array());
}

TEST_P(CloudStoreTest, DownstreamPagesAndTrims) {
  register_store("s1");
  register_store("s2");
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(VALUE(store_->enqueue_downstream("s1", "order", {{"n", i}})), i);
  }
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s2", "order", {{"n", 100}})), 1);

  std::vector<DownstreamItem> page = VALUE(store_->downstream("s1", 0, 2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].cursor, 1);
  EXPECT_EQ(page[1].cursor, 2);
  EXPECT_EQ(page[1].body["n"], 2);
  page = VALUE(store_->downstream("s1", 2, 2));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].cursor, 3);
  EXPECT_TRUE(VALUE(store_->downstream("s1", 5, 10)).empty());

  ASSERT_OK(store_->trim_downstream("s1", 3));
  page = VALUE(store_->downstream("s1", 0, 10));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].cursor, 4);
  ASSERT_OK(store_->trim_downstream("s1", 3));  // trimming again is harmless
  EXPECT_EQ(store_->trim_downstream("s1", 6).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 10)).size(), 2u);
  // Cursors keep increasing after a trim and are per store.
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s1", "order", {{"n", 6}})), 6);
  EXPECT_EQ(VALUE(store_->downstream("s2", 0, 10)).size(), 1u);

  EXPECT_EQ(store_->downstream("s1", 0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->downstream("s1", -1, 10).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->trim_downstream("s1", -1).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->enqueue_downstream("s1", "Order!", {{"n", 1}}).status().field(), "kind");
  EXPECT_EQ(store_->enqueue_downstream("s1", "order", 5).status().field(), "body");
}

TEST_P(CloudStoreTest, StoreCatalogJoinsPriceAndAvailability) {
  register_store("s1");
  register_store("s2");
  for (const auto& [sku, price] : std::vector<std::pair<std::string, std::int64_t>>{
           {"A-MILK", 6500}, {"B-BREAD", 4000}, {"C-EGGS", 9000}, {"D-RICE", 12000}}) {
    VALUE(store_->upsert_catalog_item(catalog_item(sku, price)));
  }
  VALUE(store_->upsert_catalog_item(catalog_item("C-EGGS", 9000, /*active=*/false)));
  apply("s1", {stock_change(1, "A-MILK", 5, 7),  // oversold: shows 0, never negative
               stock_change(2, "D-RICE", 10, 3), stock_change(3, "C-EGGS", 50, 0),
               stock_change(4, "Z-UNLISTED", 9, 0)});
  apply("s2", {stock_change(1, "B-BREAD", 8, 0)});

  std::vector<StoreCatalogRow> rows = VALUE(store_->store_catalog("s1", "", 10, ""));
  ASSERT_EQ(rows.size(), 3u);  // C-EGGS is inactive, Z-UNLISTED not in the catalog
  EXPECT_EQ(rows[0].item.sku, "A-MILK");
  EXPECT_EQ(rows[0].item.price_cents, 6500);
  EXPECT_EQ(rows[0].available, 0);
  EXPECT_EQ(rows[1].item.sku, "B-BREAD");
  EXPECT_EQ(rows[1].available, 0);  // s2's bread is not s1's
  EXPECT_EQ(rows[2].item.sku, "D-RICE");
  EXPECT_EQ(rows[2].available, 7);
  EXPECT_EQ(rows[2].item.version, 1);

  std::vector<StoreCatalogRow> page = VALUE(store_->store_catalog("s1", "A-MILK", 1, ""));
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].item.sku, "B-BREAD");
  EXPECT_EQ(VALUE(store_->store_catalog("s2", "", 10, ""))[1].available, 8);
  EXPECT_EQ(store_->store_catalog("s1", "", 0, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->store_catalog("s1", "", 10001, "").status().code(),
            StatusCode::kInvalidArgument);
  // One category, paged in SKU order like the whole catalog.
  CatalogItem rice = catalog_item("D-RICE", 12000);
  rice.category = "staples";
  VALUE(store_->upsert_catalog_item(rice));
  CatalogItem atta = catalog_item("E-ATTA", 30000);
  atta.category = "staples";
  VALUE(store_->upsert_catalog_item(atta));
  std::vector<StoreCatalogRow> staples = VALUE(store_->store_catalog("s1", "", 1, "staples"));
  ASSERT_EQ(staples.size(), 1u);
  EXPECT_EQ(staples[0].item.sku, "D-RICE");
  EXPECT_EQ(staples[0].available, 7);
  staples = VALUE(store_->store_catalog("s1", "D-RICE", 10, "staples"));
  ASSERT_EQ(staples.size(), 1u);
  EXPECT_EQ(staples[0].item.sku, "E-ATTA");
  EXPECT_EQ(VALUE(store_->store_catalog("s1", "", 10, "dairy")).size(), 2u);
  EXPECT_TRUE(VALUE(store_->store_catalog("s1", "", 10, "toys")).empty());
}

TEST_P(CloudStoreTest, StoreCatalogPagesInByteOrder) {
  register_store("s1");
  // Mixed case and punctuation: byte order puts 'Z' before 'a' and '-' before '0'.
  for (const std::string sku : {"a-1", "Z-9", "a-10", "A_2", "a-2", "b"}) {
    VALUE(store_->upsert_catalog_item(catalog_item(sku, 100)));
  }
  std::vector<std::string> seen;
  std::string after;
  for (int guard = 0; guard < 10; ++guard) {
    std::vector<StoreCatalogRow> page = VALUE(store_->store_catalog("s1", after, 2, ""));
    if (page.empty()) break;
    for (const StoreCatalogRow& row : page) seen.push_back(row.item.sku);
    after = page.back().item.sku;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"A_2", "Z-9", "a-1", "a-10", "a-2", "b"}));
}

TEST_P(CloudStoreTest, ChecksumsMatchARecomputationFromAvailability) {
  register_store("s1");
  register_store("s2");
  apply("s1", mixed_batch(1, 500, 37));
  apply("s2", {stock_change(1, "SKU-1", 1)});
  constexpr int kBuckets = 8;
  std::vector<RangeChecksum> sums = VALUE(store_->checksums("s1", kBuckets));
  ASSERT_EQ(sums.size(), static_cast<std::size_t>(kBuckets));
  std::vector<RangeChecksum> expected(kBuckets);
  for (int i = 0; i < kBuckets; ++i) expected[static_cast<std::size_t>(i)].bucket = i;
  std::vector<Availability> rows = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(rows.size(), 37u);
  for (const Availability& a : rows) {
    RangeChecksum& range = expected[static_cast<std::size_t>(sku_bucket(a.sku, kBuckets))];
    ++range.rows;
    range.checksum += row_checksum(a.sku, a.on_hand, a.reserved);
  }
  for (int i = 0; i < kBuckets; ++i) {
    EXPECT_EQ(sums[static_cast<std::size_t>(i)].bucket, i);
    EXPECT_EQ(sums[static_cast<std::size_t>(i)].rows, expected[static_cast<std::size_t>(i)].rows);
    EXPECT_EQ(sums[static_cast<std::size_t>(i)].checksum,
              expected[static_cast<std::size_t>(i)].checksum);
  }
  // One changed row changes exactly its bucket.
  apply("s1", {stock_change(501, "SKU-5", 1234)});
  std::vector<RangeChecksum> after = VALUE(store_->checksums("s1", kBuckets));
  for (int i = 0; i < kBuckets; ++i) {
    const bool changed =
        sums[static_cast<std::size_t>(i)].checksum != after[static_cast<std::size_t>(i)].checksum;
    EXPECT_EQ(changed, i == sku_bucket("SKU-5", kBuckets)) << "bucket " << i;
  }
  EXPECT_EQ(store_->checksums("s1", 0).status().code(), StatusCode::kInvalidArgument);
  std::vector<RangeChecksum> empty = VALUE(store_->checksums("s2", 1));
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].rows, 1);
}

TEST_P(CloudStoreTest, AnEdgeClockOffByADayChangesNothingAboutWhatIsApplied) {
  register_store("on-time");
  register_store("skewed");
  const std::vector<std::vector<Change>> batches = {mixed_batch(1, 40), mixed_batch(41, 40),
                                                    mixed_batch(81, 40)};
  const std::int64_t skewed_now[] = {kNow + kDayMs, kNow - kDayMs, 0};
  for (std::size_t i = 0; i < batches.size(); ++i) {
    ApplyResult a = apply("on-time", batches[i], kNow + static_cast<std::int64_t>(i));
    ApplyResult b = apply("skewed", batches[i], skewed_now[i]);
    EXPECT_EQ(a.acked_seq, b.acked_seq);
    EXPECT_EQ(a.applied, b.applied);
  }
  // Replays with clocks jumping around are still replays.
  EXPECT_EQ(apply("skewed", batches[0], kNow + 30 * kDayMs).duplicates, 40);
  std::vector<Availability> on_time = VALUE(store_->availability("on-time", {}));
  std::vector<Availability> skewed = VALUE(store_->availability("skewed", {}));
  ASSERT_EQ(on_time.size(), skewed.size());
  for (std::size_t i = 0; i < on_time.size(); ++i) {
    EXPECT_EQ(on_time[i].sku, skewed[i].sku);
    EXPECT_EQ(on_time[i].on_hand, skewed[i].on_hand);
    EXPECT_EQ(on_time[i].version, skewed[i].version);
    EXPECT_EQ(on_time[i].updated_seq, skewed[i].updated_seq);
  }
  // The time is recorded as given, not compared.
  EXPECT_EQ(VALUE(store_->get_store("skewed")).last_seen_ms, kNow + 30 * kDayMs);
}

// Two appliers run the same sequence of batches for one store at once, as two cloud
// instances receiving the same retried sync would. Every change must land exactly once.
void race_appliers(CloudStore& first, CloudStore& second) {
  constexpr std::int64_t kBatches = 30;
  constexpr std::int64_t kBatchSize = 100;
  std::atomic<std::int64_t> applied{0};
  std::atomic<std::int64_t> duplicates{0};
  std::atomic<int> failures{0};
  auto run = [&](CloudStore& store) {
    for (std::int64_t b = 0; b < kBatches; ++b) {
      const std::vector<Change> batch = mixed_batch(b * kBatchSize + 1, kBatchSize);
      for (int attempt = 0;; ++attempt) {
        StatusOr<ApplyResult> result = store.apply_batch("s1", batch, kNow);
        if (result.ok()) {
          EXPECT_FALSE(result->expected_seq.has_value());
          applied += result->applied;
          duplicates += result->duplicates;
          break;
        }
        // Busy is a legitimate answer under contention; anything else is a failure.
        if (result.status().code() != StatusCode::kUnavailable || attempt > 50) {
          ADD_FAILURE() << result.status().to_string();
          ++failures;
          return;
        }
      }
    }
  };
  std::thread a(run, std::ref(first));
  std::thread b(run, std::ref(second));
  a.join();
  b.join();
  ASSERT_EQ(failures.load(), 0);
  const std::int64_t total = kBatches * kBatchSize;
  EXPECT_EQ(applied.load(), total);
  EXPECT_EQ(duplicates.load(), total);
  StoreRecord record = VALUE(first.get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, total);
  EXPECT_EQ(record.applied_changes, total);
  EXPECT_EQ(record.duplicate_changes, total);
  EXPECT_EQ(VALUE(second.change_counts("s1")).at("order.updated"), total / 5);
  for (const Availability& a_row : VALUE(first.availability("s1", {}))) {
    EXPECT_GT(a_row.on_hand, total - 50) << a_row.sku;  // each SKU's last change
    EXPECT_EQ(a_row.on_hand, a_row.updated_seq);
  }
}

TEST_P(CloudStoreTest, TwoThreadsApplyingTheSameBatchesApplyEachChangeOnce) {
  register_store("s1");
  race_appliers(*store_, *store_);
}

TEST_P(CloudStoreTest, TwoInstancesApplyingTheSameBatchesApplyEachChangeOnce) {
  register_store("s1");
  std::unique_ptr<CloudStore> other = open_instance();
  ASSERT_NE(other, nullptr);
  race_appliers(*store_, *other);
}

TEST_P(CloudStoreTest, ConcurrentMigrationsFromSeveralInstancesAreSafe) {
  std::vector<std::unique_ptr<CloudStore>> instances;
  for (int i = 0; i < 3; ++i) instances.push_back(open_instance());
  std::vector<Status> results(instances.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = instances[i]->migrate(); });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.is_ok()) << s.to_string();
  register_store("s1");
  EXPECT_EQ(VALUE(instances[2]->get_store("s1")).registration.id, "s1");
}

TEST_P(CloudStoreTest, EverythingSurvivesReopening) {
  register_store("s1");
  apply("s1", mixed_batch(1, 200));
  apply("s1", {unknown_code(201, "123")});
  VALUE(store_->upsert_catalog_item(catalog_item("SKU-1", 100)));
  VALUE(store_->enqueue_downstream("s1", "order", {{"id", "o-1"}}));
  const std::vector<Availability> before = VALUE(store_->availability("s1", {}));

  store_.reset();
  store_ = open_instance();
  ASSERT_NE(store_, nullptr);
  ASSERT_OK(store_->migrate());  // a no-op on an up-to-date schema
  StoreRecord record = VALUE(store_->get_store("s1"));
  EXPECT_EQ(record.last_applied_seq, 201);
  EXPECT_EQ(record.applied_changes, 201);
  const std::vector<Availability> after = VALUE(store_->availability("s1", {}));
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].sku, before[i].sku);
    EXPECT_EQ(after[i].on_hand, before[i].on_hand);
  }
  EXPECT_EQ(VALUE(store_->unknown_codes("s1", 5)).size(), 1u);
  EXPECT_EQ(VALUE(store_->get_catalog_item("SKU-1"))->version, 1);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 10)).size(), 2u);
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s1", "order", {{"id", "o-2"}})), 3);
  EXPECT_EQ(apply("s1", mixed_batch(150, 60)).applied, 8);
}

TEST_P(CloudStoreTest, MigrateRefusesASchemaFromANewerBuild) {
  ASSERT_OK(store_->migrate());  // up to date: a no-op
  ASSERT_OK(run_sql(is_postgres()
                        ? "INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)"
                        : "INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0); "
                          "PRAGMA user_version = 99"));
  Status status = store_->migrate();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.to_string();
}

TEST_P(CloudStoreTest, CorruptRowsAreInternalErrors) {
  register_store("s1");
  VALUE(store_->upsert_catalog_item(catalog_item("SKU-1", 100)));
  ASSERT_OK(run_sql("UPDATE stores SET opening_hours = '{not json'"));
  ASSERT_OK(run_sql("UPDATE catalog SET barcodes = '\"not an array\"'"));
  EXPECT_EQ(store_->get_store("s1").status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->list_stores().status().code(), StatusCode::kInternal);
  EXPECT_EQ(store_->get_catalog_item("SKU-1").status().code(), StatusCode::kInternal);
  // Whatever does not read the broken columns carries on.
  EXPECT_EQ(VALUE(store_->apply_batch("s1", mixed_batch(1, 3), kNow)).acked_seq, 3);
}

TEST_P(CloudStoreTest, ReconnectsWhenTheServerDropsItsConnections) {
  if (!is_postgres()) GTEST_SKIP() << "PostgreSQL only";
  register_store("s1");
  // Use several pooled connections at once so the pool holds more than one.
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) readers.emplace_back([&] { VALUE(store_->list_stores()); });
  for (std::thread& t : readers) t.join();
  // The timeout makes each termination wait until the backend has really exited.
  const std::string terminate =
      "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
      "WHERE datname = '" +
      db_name_ + "' AND pid <> pg_backend_pid()";
  ASSERT_OK(run_sql(terminate));
  // Each call finds its pooled connection dead before anything was sent, and retries.
  for (int i = 0; i < 6; ++i) {
    StatusOr<ApplyResult> result = store_->apply_batch("s1", mixed_batch(i * 10 + 1, 10), kNow);
    ASSERT_TRUE(result.ok()) << "call " << i << ": " << result.status().to_string();
    EXPECT_EQ(result->applied, 10);
  }
}

// Prints rather than asserts: machines differ. The drain target (a million changes in
// well under 30 s) needs tens of thousands of changes per second.
TEST_P(CloudStoreTest, ReportsApplyThroughputFor10000ChangeBatches) {
  register_store("s1");
  constexpr std::int64_t kBatches = 5;
  constexpr std::int64_t kBatchSize = 10000;
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t b = 0; b < kBatches; ++b) {
    ApplyResult result = apply("s1", mixed_batch(b * kBatchSize + 1, kBatchSize, 2000));
    ASSERT_EQ(result.applied, kBatchSize);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ %-8s ] %lld changes in %lld batches: %.3f s, %.0f changes/s\n", GetParam().c_str(),
              static_cast<long long>(kBatches * kBatchSize), static_cast<long long>(kBatches),
              seconds, static_cast<double>(kBatches * kBatchSize) / seconds);
  EXPECT_EQ(VALUE(store_->get_store("s1")).last_applied_seq, kBatches * kBatchSize);
}

NewOrder new_order(const std::string& id, std::int64_t qty, std::vector<std::string> candidates,
                   const std::string& key = "") {
  wire::Order o;
  o.order_id = id;
  o.customer_id = "alice";
  o.lines = {wire::OrderLine{.sku = "SKU-1", .qty = qty, .unit_price_cents = 100}};
  o.delivery = {.lat = 12.97, .lon = 77.64, .geohash = std::nullopt};
  o.promised_at_ms = kNow;
  o.created_at_ms = kNow;
  o.updated_at_ms = kNow;
  o.total_cents = qty * 100;
  return NewOrder{.order = o,
                  .candidates = std::move(candidates),
                  .promised_at_ms = {},
                  .payment_due_ms = kNow + 60'000,
                  .idempotency_key = key,
                  .request_hash = "h"};
}

TEST_P(CloudStoreTest, StoreLoadsAreOneRowPerStoreAndReadByAge) {
  register_store("s1");
  register_store("s2");
  ASSERT_OK(store_->put_store_load({.store_id = "s1",
                                    .open_orders = 3,
                                    .available_runners = 1,
                                    .pick_queue = 2,
                                    .at_ms = kNow}));
  ASSERT_OK(store_->put_store_load({.store_id = "s1",
                                    .open_orders = 9,
                                    .available_runners = 0,
                                    .pick_queue = 4,
                                    .at_ms = kNow + 5}));
  ASSERT_OK(store_->put_store_load({.store_id = "s2",
                                    .open_orders = 1,
                                    .available_runners = 2,
                                    .pick_queue = 0,
                                    .at_ms = kNow - 100}));
  std::vector<StoreLoad> loads = VALUE(store_->store_loads(kNow));
  ASSERT_EQ(loads.size(), 1u);  // s2's is older than asked for
  EXPECT_EQ(loads[0].store_id, "s1");
  EXPECT_EQ(loads[0].open_orders, 9);
  EXPECT_EQ(loads[0].pick_queue, 4);
  EXPECT_EQ(loads[0].at_ms, kNow + 5);
  EXPECT_EQ(VALUE(store_->store_loads(0)).size(), 2u);
  EXPECT_EQ(store_->put_store_load({.store_id = "nope", .open_orders = 1, .at_ms = kNow}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->put_store_load({.store_id = "s1", .open_orders = -1, .at_ms = kNow}).field(),
            "open_orders");
  EXPECT_EQ(store_->put_store_load({.store_id = "s1", .at_ms = 0}).field(), "at_ms");
}

TEST_P(CloudStoreTest, StoreLotsAreReplacedWholeByTheLastReport) {
  register_store("s1");
  EXPECT_FALSE(VALUE(store_->store_lots("s1")).has_value());
  ASSERT_OK(store_->put_store_lots(
      {.store_id = "s1",
       .lots = {{"CURD", "L1", kNow + 1'000, 4}, {"MILK", "exp:2027-01-02", kNow + 2'000, 1}},
       .at_ms = kNow}));
  std::optional<StoreLots> lots = VALUE(store_->store_lots("s1"));
  ASSERT_TRUE(lots.has_value());
  ASSERT_EQ(lots->lots.size(), 2u);
  EXPECT_EQ(lots->lots[0], (wire::NearExpiryLot{"CURD", "L1", kNow + 1'000, 4}));
  EXPECT_EQ(lots->lots[1].lot, "exp:2027-01-02");
  EXPECT_EQ(lots->at_ms, kNow);
  // An empty report clears the list; the time moves.
  ASSERT_OK(store_->put_store_lots({.store_id = "s1", .lots = {}, .at_ms = kNow + 5}));
  lots = VALUE(store_->store_lots("s1"));
  ASSERT_TRUE(lots.has_value());
  EXPECT_TRUE(lots->lots.empty());
  EXPECT_EQ(lots->at_ms, kNow + 5);
  EXPECT_EQ(store_->put_store_lots({.store_id = "nope", .lots = {}, .at_ms = kNow}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(store_->put_store_lots({.store_id = "s1", .lots = {{"", "L1", kNow, 1}}, .at_ms = kNow})
                .field(),
            "lots[0].sku");
  EXPECT_EQ(store_->put_store_lots({.store_id = "s1", .lots = {}, .at_ms = 0}).field(), "at_ms");
}

TEST_P(CloudStoreTest, StoreCoverIsReplacedWholeByTheLastReport) {
  register_store("s1");
  register_store("s2");
  EXPECT_FALSE(VALUE(store_->store_cover("s1")).has_value());
  ASSERT_OK(
      store_->put_store_cover({.store_id = "s1",
                               .cover = {{"RICE", 40, 0.0}, {"MILK", 0, 12.5}, {"TEA", 300, 1.25}},
                               .at_ms = kNow}));
  std::optional<StoreCover> cover = VALUE(store_->store_cover("s1"));
  ASSERT_TRUE(cover.has_value());
  ASSERT_EQ(cover->cover.size(), 3u);
  EXPECT_EQ(cover->cover[0], (wire::StockCover{"RICE", 40, 0.0}));
  EXPECT_EQ(cover->cover[1], (wire::StockCover{"MILK", 0, 12.5}));
  EXPECT_EQ(cover->cover[2].daily_demand, 1.25);
  EXPECT_EQ(cover->at_ms, kNow);
  // One list per store: another store's report leaves it alone.
  ASSERT_OK(store_->put_store_cover({.store_id = "s2", .cover = {}, .at_ms = kNow + 1}));
  EXPECT_EQ(VALUE(store_->store_cover("s1"))->cover.size(), 3u);
  // An empty report clears the list; the time moves.
  ASSERT_OK(store_->put_store_cover({.store_id = "s1", .cover = {}, .at_ms = kNow + 5}));
  cover = VALUE(store_->store_cover("s1"));
  ASSERT_TRUE(cover.has_value());
  EXPECT_TRUE(cover->cover.empty());
  EXPECT_EQ(cover->at_ms, kNow + 5);
}

TEST_P(CloudStoreTest, StoreCoverRefusesBadReportsNamingTheField) {
  register_store("s1");
  EXPECT_EQ(store_->put_store_cover({.store_id = "nope", .cover = {}, .at_ms = kNow}).code(),
            StatusCode::kNotFound);
  const auto field_of = [&](std::vector<wire::StockCover> cover, std::int64_t at_ms = kNow) {
    return store_->put_store_cover({.store_id = "s1", .cover = std::move(cover), .at_ms = at_ms})
        .field();
  };
  EXPECT_EQ(field_of({{"", 1, 1.0}}), "cover[0].sku");
  EXPECT_EQ(field_of({{"A", 1, 1.0}, {"A", 2, 1.0}}), "cover[1].sku");
  EXPECT_EQ(field_of({{"A", -1, 1.0}}), "cover[0].units");
  EXPECT_EQ(field_of({{"A", 1'000'001, 1.0}}), "cover[0].units");
  EXPECT_EQ(field_of({{"A", 1, -0.5}}), "cover[0].daily_demand");
  EXPECT_EQ(field_of({{"A", 1, std::numeric_limits<double>::quiet_NaN()}}),
            "cover[0].daily_demand");
  EXPECT_EQ(field_of({{"A", 1, std::numeric_limits<double>::infinity()}}), "cover[0].daily_demand");
  EXPECT_EQ(field_of({}, 0), "at_ms");
  std::vector<wire::StockCover> many;
  for (std::size_t i = 0; i <= wire::kMaxStockCover; ++i) {
    many.push_back({"SKU-" + std::to_string(i), 1, 0.0});
  }
  EXPECT_EQ(field_of(many), "cover");
  // Nothing bad was kept.
  EXPECT_FALSE(VALUE(store_->store_cover("s1")).has_value());
}

TEST_P(CloudStoreTest, ANewStoreHasItsCatalogQueuedOnce) {
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("A", 100)).status());
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("B", 200, /*active=*/false)).status());
  register_store("s1");
  EXPECT_EQ(VALUE(store_->queue_initial_catalog("s1")), 2);
  std::vector<DownstreamItem> items = VALUE(store_->downstream("s1", 0, 100));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, "catalog_item");
  EXPECT_EQ(items[0].body["sku"], "A");
  EXPECT_EQ(items[1].body["active"], false);
  // Registered again (the first reply was lost): nothing twice.
  EXPECT_EQ(VALUE(store_->queue_initial_catalog("s1")), 0);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 100)).size(), 2u);
  EXPECT_EQ(store_->queue_initial_catalog("nope").status().code(), StatusCode::kNotFound);
}

// A store restored from a backup reports a cursor from before items it applied and then
// lost; those were trimmed, so they are queued again from what the cloud knows now.
TEST_P(CloudStoreTest, AStoreBehindTheTrimmedQueueGetsItsCatalogAndOrdersAgain) {
  register_store("s1");
  register_store("s2");
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("SKU-1", 100)).status());
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("OLD", 50, /*active=*/false)).status());
  apply("s1", {stock_change(1, "SKU-1", 50)});
  // One order routed to s1, one cancelled there, one still unpaid (not the store's yet).
  for (const char* id : {"o-open", "o-cancelled", "o-unpaid"}) {
    ASSERT_TRUE(VALUE(store_->place_order(new_order(id, 1, {"s1"}), kNow)).placed);
  }
  for (const char* id : {"o-open", "o-cancelled"}) {
    ASSERT_OK(store_
                  ->act_on_order(id,
                                 {.action = OrderAction::kPaymentSucceeded,
                                  .reason = "",
                                  .accept_window_ms = 60'000},
                                 kNow + 1)
                  .status());
  }
  ASSERT_OK(store_
                ->act_on_order(
                    "o-cancelled",
                    {.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0}, kNow + 2)
                .status());
  // The store applied everything queued so far (2 catalog items, 2 routings and a
  // cancel) and confirmed it.
  const std::vector<DownstreamItem> before = VALUE(store_->downstream("s1", 0, 100));
  ASSERT_EQ(before.size(), 5u);
  const std::int64_t confirmed = before.back().cursor;
  EXPECT_EQ(VALUE(store_->align_downstream("s1", confirmed, "", kNow)).gap, DownstreamGap::kNone);
  ASSERT_OK(store_->trim_downstream("s1", confirmed));
  // Restored: it stands at cursor 1 again.
  DownstreamAlignment aligned = VALUE(store_->align_downstream("s1", 1, "", kNow + 3));
  EXPECT_EQ(aligned.gap, DownstreamGap::kStoreBehind);
  EXPECT_EQ(aligned.requeued, 4);  // 2 catalog items, the open order, the cancellation
  const std::vector<DownstreamItem> again = VALUE(store_->downstream("s1", 1, 100));
  ASSERT_EQ(again.size(), 4u);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].cursor, 2 + static_cast<std::int64_t>(i)) << "no hole after its cursor";
  }
  EXPECT_EQ(again[0].kind, "catalog_item");
  EXPECT_EQ(again[0].body["sku"], "OLD");
  EXPECT_EQ(again[0].body["active"], false);
  EXPECT_EQ(again[1].body["sku"], "SKU-1");
  std::map<std::string, std::string> orders;
  for (std::size_t i = 2; i < again.size(); ++i) {
    orders[again[i].body["order_id"].get<std::string>()] = again[i].kind;
  }
  EXPECT_EQ(orders, (std::map<std::string, std::string>{{"o-open", "order"},
                                                        {"o-cancelled", "order.cancel"}}));
  for (const DownstreamItem& item : again) {
    if (item.kind == "order") {
      EXPECT_EQ(item.body["status"], "routed");
    }
  }
  // The same cursor reported again (the reply was lost) queues nothing twice.
  EXPECT_EQ(VALUE(store_->align_downstream("s1", 1, "", kNow + 4)).gap, DownstreamGap::kNone);
  EXPECT_EQ(VALUE(store_->downstream("s1", 1, 100)).size(), 4u);
  // New items follow on; the other store's queue is untouched.
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s1", "order", {{"n", 1}})), 6);
  EXPECT_EQ(VALUE(store_->align_downstream("s2", 0, "", kNow)).gap, DownstreamGap::kNone);
}

// A cloud restored from a backup would hand out cursors the store already applied (and
// skips); the queue moves past the store's cursor instead.
TEST_P(CloudStoreTest, AStoreAheadOfTheQueueHasTheQueueRenumberedPastIt) {
  register_store("s1");
  for (int i = 1; i <= 3; ++i)
    ASSERT_OK(store_->enqueue_downstream("s1", "order", {{"n", i}}).status());
  ASSERT_OK(store_->trim_downstream("s1", 1));
  DownstreamAlignment aligned = VALUE(store_->align_downstream("s1", 10, "", kNow));
  EXPECT_EQ(aligned.gap, DownstreamGap::kStoreAhead);
  EXPECT_EQ(aligned.requeued, 2);
  std::vector<DownstreamItem> items = VALUE(store_->downstream("s1", 10, 100));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].cursor, 11);
  EXPECT_EQ(items[0].body["n"], 2);
  EXPECT_EQ(items[1].cursor, 12);
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s1", "order", {{"n", 4}})), 13);
  EXPECT_EQ(VALUE(store_->align_downstream("s1", 10, "", kNow)).gap, DownstreamGap::kNone);
  // An empty queue: the next item is the one after the store's cursor.
  register_store("s2");
  EXPECT_EQ(VALUE(store_->align_downstream("s2", 7, "", kNow)).gap, DownstreamGap::kStoreAhead);
  EXPECT_EQ(VALUE(store_->enqueue_downstream("s2", "order", {{"n", 1}})), 8);

  // Restored with items queued before the store's first contact: the cursor the store
  // stands at is taken, by something other than what it applied there.
  register_store("s3");
  for (int i = 1; i <= 3; ++i) {
    ASSERT_OK(store_->enqueue_downstream("s3", "order", {{"n", i}}).status());
  }
  const std::string applied = wire::downstream_item_hash("order", {{"n", 99}});
  const std::string same = wire::downstream_item_hash("order", {{"n", 2}});
  EXPECT_EQ(VALUE(store_->align_downstream("s3", 2, same, kNow)).gap, DownstreamGap::kNone);
  aligned = VALUE(store_->align_downstream("s3", 2, applied, kNow));
  EXPECT_EQ(aligned.gap, DownstreamGap::kStoreAhead);
  items = VALUE(store_->downstream("s3", 2, 100));
  ASSERT_EQ(items.size(), 3u);  // all three: which ones the store has is unknown
  EXPECT_EQ(items[0].cursor, 3);
  EXPECT_EQ(items[0].body["n"], 1);

  EXPECT_EQ(store_->align_downstream("s1", -1, "", kNow).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->align_downstream("nope", 0, "", kNow).status().code(), StatusCode::kNotFound);
}

TEST_P(CloudStoreTest, CustomerOrdersPageNewestFirst) {
  register_store("s1");
  apply("s1", {stock_change(1, "SKU-1", 50)});
  // Five of alice's orders, two of them created in the same millisecond, and one of bob's.
  for (int i = 0; i < 5; ++i) {
    NewOrder o = new_order("o-" + std::to_string(i), 1, {"s1"});
    o.order.created_at_ms = kNow + (i < 2 ? 0 : i);
    ASSERT_TRUE(VALUE(store_->place_order(o, kNow)).placed);
  }
  NewOrder bobs = new_order("o-bob", 1, {"s1"});
  bobs.order.customer_id = "bob";
  ASSERT_TRUE(VALUE(store_->place_order(bobs, kNow)).placed);

  std::vector<std::string> seen;
  std::int64_t before_ms = INT64_MAX;
  std::string before_id;
  for (;;) {
    const std::vector<OrderRecord> page =
        VALUE(store_->customer_orders("alice", before_ms, before_id, 2));
    for (const OrderRecord& r : page) seen.push_back(r.order.order_id);
    if (page.size() < 2) break;
    before_ms = page.back().order.created_at_ms;
    before_id = page.back().order.order_id;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"o-4", "o-3", "o-2", "o-1", "o-0"}));
  EXPECT_EQ(VALUE(store_->customer_orders("bob", INT64_MAX, "", 10)).size(), 1u);
  EXPECT_TRUE(VALUE(store_->customer_orders("carol", INT64_MAX, "", 10)).empty());
}

TEST_P(CloudStoreTest, HoldsNeverOversellAcrossInstancesAndThreads) {
  register_store("s1");
  apply("s1", {stock_change(1, "SKU-1", 25, 5)});  // 20 free
  std::unique_ptr<CloudStore> other = open_instance();
  ASSERT_NE(other, nullptr);
  std::atomic<int> placed{0}, short_of_stock{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      CloudStore& instance = t % 2 == 0 ? *store_ : *other;
      for (int i = 0; i < 10; ++i) {
        StatusOr<PlaceResult> r = instance.place_order(
            new_order("o-" + std::to_string(t) + "-" + std::to_string(i), 1, {"s1"}), kNow);
        if (!r.ok()) {
          ++failed;
        } else if (r->placed) {
          ++placed;
        } else {
          ++short_of_stock;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(placed.load(), 20);
  EXPECT_EQ(short_of_stock.load(), 40);
  EXPECT_EQ(VALUE(store_->availability("s1", {"SKU-1"})).at(0).held, 20);
  EXPECT_EQ(VALUE(store_->store_catalog("s1", "", 10, "")).size(), 0u);  // no catalog item
  // A new stock report from the store keeps the cloud's holds.
  apply("s1", {stock_change(2, "SKU-1", 26, 5)});
  const PlaceResult one_more = VALUE(store_->place_order(new_order("o-x", 2, {"s1"}), kNow));
  EXPECT_FALSE(one_more.placed);
  ASSERT_EQ(one_more.shortages.size(), 1u);
  EXPECT_EQ(one_more.shortages[0].available, 1);
}

TEST_P(CloudStoreTest, OrdersMoveByStoreEventsAndIdempotencyKeysAreKept) {
  register_store("s1");
  register_store("s2");
  apply("s1", {stock_change(1, "SKU-1", 5)});
  apply("s2", {stock_change(1, "SKU-1", 5)});
  const PlaceResult first =
      VALUE(store_->place_order(new_order("o-1", 2, {"s1", "s2"}, "key-1"), kNow));
  ASSERT_TRUE(first.placed);
  EXPECT_EQ(first.placed->order.store_id, "s1");
  const PlaceResult again =
      VALUE(store_->place_order(new_order("o-2", 2, {"s1", "s2"}, "key-1"), kNow));
  ASSERT_TRUE(again.earlier);
  EXPECT_EQ(again.earlier->order_id, "o-1");
  EXPECT_FALSE(again.placed);
  const OrderRecord routed = VALUE(store_->act_on_order(
      "o-1", {.action = OrderAction::kPaymentSucceeded, .reason = "", .accept_window_ms = 1000},
      kNow + 1));
  EXPECT_EQ(routed.order.status, wire::OrderStatus::kRouted);
  EXPECT_EQ(VALUE(store_->downstream("s1", 0, 10)).back().kind, "order");
  // s1 refuses: the order and its hold move to s2.
  apply("s1", {Change{.seq = 2,
                      .kind = "order.status",
                      .body = {{"order_id", "o-1"},
                               {"status", "cancelled"},
                               {"reason", "refused: busy"},
                               {"at_ms", kNow}}}});
  OrderRecord moved = VALUE(store_->get_order("o-1"));
  EXPECT_EQ(moved.order.status, wire::OrderStatus::kRouted);
  EXPECT_EQ(moved.order.store_id, "s2");
  EXPECT_EQ(VALUE(store_->availability("s1", {"SKU-1"})).at(0).held, 0);
  EXPECT_EQ(VALUE(store_->availability("s2", {"SKU-1"})).at(0).held, 2);
  // s2 accepts (its reservation arrives with it), then sends a status out of order.
  apply("s2", {stock_change(2, "SKU-1", 5, 2),
               Change{.seq = 3,
                      .kind = "order.status",
                      .body = {{"order_id", "o-1"}, {"status", "accepted"}}},
               Change{.seq = 4,
                      .kind = "order.status",
                      .body = {{"order_id", "o-1"}, {"status", "delivered"}}},
               Change{.seq = 5, .kind = "order.status", .body = {{"no_order", true}}}});
  moved = VALUE(store_->get_order("o-1"));
  EXPECT_EQ(moved.order.status, wire::OrderStatus::kAccepted);
  EXPECT_EQ(VALUE(store_->availability("s2", {"SKU-1"})).at(0).held, 0);
  const auto counts = VALUE(store_->change_counts("s2"));
  EXPECT_EQ(counts.at("order.status.ignored"), 1);
  EXPECT_EQ(counts.at("order.malformed"), 1);
  const std::vector<OrderEvent> events = VALUE(store_->order_events("o-1", 0, 100));
  ASSERT_EQ(events.size(), 5u);  // pending_payment, confirmed, routed, routed, accepted
  EXPECT_EQ(events.back().body["status"], "accepted");
  EXPECT_EQ(VALUE(store_->order_events("o-1", 4, 100)).size(), 1u);
  // The heads a stream watcher polls: the order's latest seq, from events at or after
  // the time asked for.
  std::int64_t first_at = events.front().at_ms;
  std::int64_t last_at = events.front().at_ms;
  for (const OrderEvent& e : events) {
    first_at = std::min(first_at, e.at_ms);
    last_at = std::max(last_at, e.at_ms);
  }
  const auto heads = VALUE(store_->recent_order_event_heads(first_at, 100));
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].order_id, "o-1");
  EXPECT_EQ(heads[0].seq, events.back().seq);
  EXPECT_TRUE(VALUE(store_->recent_order_event_heads(last_at + 1, 100)).empty());
  EXPECT_EQ(store_->recent_order_event_heads(0, 0).status().code(), StatusCode::kInvalidArgument);
  // Cancelling an accepted order tells the store; paid, so a refund is due.
  const OrderRecord cancelled = VALUE(store_->act_on_order(
      "o-1", {.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0}, kNow + 2));
  EXPECT_TRUE(cancelled.refund_due);
  EXPECT_EQ(VALUE(store_->downstream("s2", 0, 10)).back().kind, "order.cancel");
  EXPECT_EQ(VALUE(store_->due_orders(kNow + 3, 10)), std::vector<std::string>{"o-1"});
  EXPECT_EQ(store_
                ->act_on_order(
                    "o-1", {.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0},
                    kNow + 4)
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

TEST_P(CloudStoreTest, IdempotencyKeysAreForgottenAfterTheirWindowOldestFirst) {
  register_store("s1");
  apply("s1", {stock_change(1, "SKU-1", 50)});
  // Three keys recorded by placements at kNow, kNow+10 and kNow+20, one by a saved
  // shortage answer at kNow+5.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(VALUE(store_->place_order(
                          new_order("o-" + std::to_string(i), 1, {"s1"}, "k-" + std::to_string(i)),
                          kNow + 10 * i))
                    .placed);
  }
  ASSERT_OK(store_->save_idempotent_reply(IdempotentReply{.customer_id = "alice",
                                                          .key = "k-short",
                                                          .request_hash = "h",
                                                          .order_id = "",
                                                          .status_code = 409,
                                                          .body = {{"error", "short"}},
                                                          .created_at_ms = kNow + 5}));
  EXPECT_EQ(store_->purge_idempotent_replies(kNow + 100, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VALUE(store_->purge_idempotent_replies(kNow, 10)), 0);  // strictly before
  // A page of two takes the two oldest: k-0 (kNow) and k-short (kNow+5).
  EXPECT_EQ(VALUE(store_->purge_idempotent_replies(kNow + 15, 2)), 2);
  EXPECT_FALSE(VALUE(store_->idempotent_reply("alice", "k-0")).has_value());
  EXPECT_FALSE(VALUE(store_->idempotent_reply("alice", "k-short")).has_value());
  EXPECT_TRUE(VALUE(store_->idempotent_reply("alice", "k-1")).has_value());
  EXPECT_TRUE(VALUE(store_->idempotent_reply("alice", "k-2")).has_value());
  // The forgotten key places a new order; a remembered one still replays.
  const PlaceResult reused = VALUE(store_->place_order(new_order("o-new", 1, {"s1"}, "k-0"), kNow));
  ASSERT_TRUE(reused.placed);
  EXPECT_EQ(reused.placed->order.order_id, "o-new");
  EXPECT_TRUE(VALUE(store_->place_order(new_order("o-dup", 1, {"s1"}, "k-1"), kNow + 30)).earlier);
  // Completing a record keeps its first time: k-2 stays until its own window ends.
  ASSERT_OK(store_->save_idempotent_reply(IdempotentReply{.customer_id = "alice",
                                                          .key = "k-2",
                                                          .request_hash = "h",
                                                          .order_id = "o-2",
                                                          .status_code = 201,
                                                          .body = {{"order_id", "o-2"}},
                                                          .created_at_ms = kNow + 1000}));
  // Before kNow+25: the reused k-0 (kNow), k-1 (kNow+10) and k-2 (kNow+20, not +1000).
  EXPECT_EQ(VALUE(store_->purge_idempotent_replies(kNow + 25, 100)), 3);
  EXPECT_FALSE(VALUE(store_->idempotent_reply("alice", "k-2")).has_value());
}

// Each order change a customer hears about queues one row per channel in the transaction
// that records it; a replayed store batch queues nothing twice; a lease keeps a second
// instance off rows the first is sending until it ends.
TEST_P(CloudStoreTest, NotificationsAreQueuedWithTheOrderChangeOnceAndLeased) {
  store_->set_notification_channels({"sms", "webhook"});
  register_store("s1");
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("SKU-1", 100)).status());
  apply("s1", {stock_change(1, "SKU-1", 50)});
  ASSERT_TRUE(VALUE(store_->place_order(new_order("o-1", 1, {"s1"}), kNow)).placed);
  // Waiting for payment: nothing to tell yet.
  EXPECT_TRUE(VALUE(store_->claim_notifications("a", kNow, 1000, 100)).empty());
  ASSERT_OK(
      store_
          ->act_on_order(
              "o-1",
              {.action = OrderAction::kPaymentSucceeded, .reason = "", .accept_window_ms = 60'000},
              kNow + 1)
          .status());
  const auto status = [](std::int64_t seq, const std::string& to) {
    return Change{.seq = seq,
                  .kind = "order.status",
                  .body = {{"order_id", "o-1"}, {"status", to}, {"eta_ms", kNow + 600'000}}};
  };
  apply("s1", {status(2, "accepted"), status(3, "picking"), status(4, "packed")}, kNow + 2);
  // The same batch again (a store that did not see the reply) changes nothing.
  apply("s1", {status(2, "accepted"), status(3, "picking"), status(4, "packed")}, kNow + 3);
  std::vector<NotificationRow> rows = VALUE(store_->claim_notifications("a", kNow + 10, 5000, 100));
  ASSERT_EQ(rows.size(), 4u);  // confirmed and packed, on two channels each
  std::set<std::string> keys;
  for (const NotificationRow& r : rows) {
    keys.insert(r.dedupe_key);
    EXPECT_EQ(r.customer_id, "alice");
    EXPECT_EQ(r.state, "pending");
    EXPECT_EQ(r.dedupe_key, notification_key("o-1", r.event_seq, r.channel, "alice"));
  }
  EXPECT_EQ(keys.size(), 4u);
  EXPECT_EQ(rows[0].kind, "confirmed");
  EXPECT_EQ(rows[3].kind, "packed");
  EXPECT_EQ(rows[3].body["eta_ms"], kNow + 600'000);
  // Leased to "a": another instance gets none of them until the lease ends.
  EXPECT_TRUE(VALUE(store_->claim_notifications("b", kNow + 20, 5000, 100)).empty());
  std::vector<NotificationBacklog> backlog = VALUE(store_->notification_backlog());
  ASSERT_EQ(backlog.size(), 2u);
  EXPECT_EQ(backlog[0].pending, 2);
  EXPECT_EQ(backlog[0].oldest_created_at_ms, kNow + 1);
  // "a" finishes three; one fails and waits. Outcomes for rows it does not hold are ignored.
  std::vector<NotificationOutcome> outcomes;
  for (std::size_t i = 0; i < 3; ++i) {
    outcomes.push_back(
        {.id = rows[i].id, .state = "sent", .attempts = 1, .next_at_ms = 0, .error = ""});
  }
  outcomes.push_back({.id = rows[3].id,
                      .state = "pending",
                      .attempts = 1,
                      .next_at_ms = kNow + 2000,
                      .error = "HTTP 503"});
  EXPECT_EQ(VALUE(store_->finish_notifications("b", outcomes, kNow + 30)), 0);
  EXPECT_EQ(VALUE(store_->finish_notifications("a", outcomes, kNow + 30)), 4);
  EXPECT_TRUE(VALUE(store_->claim_notifications("b", kNow + 1999, 5000, 100)).empty());
  rows = VALUE(store_->claim_notifications("b", kNow + 2000, 5000, 100));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_error, "HTTP 503");
  // "b" dies holding it; once the lease ends "a" takes it over.
  EXPECT_TRUE(VALUE(store_->claim_notifications("a", kNow + 6999, 5000, 100)).empty());
  ASSERT_EQ(VALUE(store_->claim_notifications("a", kNow + 7000, 5000, 100)).size(), 1u);
  // The customer's list, newest first, paged by id.
  std::vector<NotificationRow> mine = VALUE(store_->customer_notifications("alice", INT64_MAX, 3));
  ASSERT_EQ(mine.size(), 3u);
  EXPECT_GT(mine[0].id, mine[1].id);
  EXPECT_EQ(VALUE(store_->customer_notifications("alice", mine[2].id, 10)).size(), 1u);
  EXPECT_TRUE(VALUE(store_->customer_notifications("bob", INT64_MAX, 10)).empty());
  // Finished rows go after their purge age; pending ones stay.
  EXPECT_EQ(VALUE(store_->purge_notifications(kNow + 31, 100)), 3);
  EXPECT_EQ(VALUE(store_->customer_notifications("alice", INT64_MAX, 10)).size(), 1u);
  // Preferences round-trip.
  EXPECT_FALSE(VALUE(store_->notification_prefs("alice")).has_value());
  ASSERT_OK(store_->put_notification_prefs("alice", {{"channels", {{"sms", false}}}}, kNow));
  EXPECT_EQ((*VALUE(store_->notification_prefs("alice")))["channels"]["sms"], false);
}

TEST_P(CloudStoreTest, NoNotificationChannelsQueueNothing) {
  register_store("s1");
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("SKU-1", 100)).status());
  apply("s1", {stock_change(1, "SKU-1", 50)});
  ASSERT_TRUE(VALUE(store_->place_order(new_order("o-1", 1, {"s1"}), kNow)).placed);
  ASSERT_OK(store_
                ->act_on_order(
                    "o-1", {.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0},
                    kNow + 1)
                .status());
  EXPECT_TRUE(VALUE(store_->claim_notifications("a", kNow + 10, 5000, 100)).empty());
}

// A customer who deletes their account: the orders stay, for accounting, under a
// tombstone id with a coarse delivery point; what identifies the customer goes, and the
// store that served them is told. An open order refuses it with nothing changed.
TEST_P(CloudStoreTest, AForgottenCustomersOrdersKeepOnlyWhatAccountingNeeds) {
  store_->set_notification_channels({"sms"});
  register_store("s1");
  ASSERT_OK(store_->upsert_catalog_item(catalog_item("SKU-1", 100)).status());
  apply("s1", {stock_change(1, "SKU-1", 50)});
  NewOrder first = new_order("o-1", 1, {"s1"}, "key-1");
  first.order.delivery = {.lat = 12.971234, .lon = 77.641234, .geohash = "tdr1yc2rk"};
  ASSERT_TRUE(VALUE(store_->place_order(first, kNow)).placed);
  ASSERT_TRUE(VALUE(store_->place_order(new_order("o-2", 1, {"s1"}, "key-2"), kNow)).placed);
  NewOrder bobs = new_order("o-bob", 1, {"s1"}, "key-b");
  bobs.order.customer_id = "bob";
  ASSERT_TRUE(VALUE(store_->place_order(bobs, kNow)).placed);
  for (const char* id : {"o-1", "o-bob"}) {
    ASSERT_OK(store_
                  ->act_on_order(id,
                                 {.action = OrderAction::kPaymentSucceeded,
                                  .reason = "",
                                  .accept_window_ms = 60'000},
                                 kNow + 1)
                  .status());
  }
  ASSERT_OK(store_->put_notification_prefs("alice", {{"sms", true}}, kNow));
  const auto status = [](std::int64_t seq, const std::string& id, const std::string& to) {
    return Change{.seq = seq,
                  .kind = "order.status",
                  .body = {{"order_id", id}, {"status", to}, {"runner_id", "r-1"}}};
  };
  apply("s1",
        {status(2, "o-1", "accepted"), status(3, "o-1", "picking"), status(4, "o-1", "packed"),
         status(5, "o-1", "out_for_delivery"),
         Change{.seq = 6,
                .kind = "order.position",
                .body = {{"order_id", "o-1"}, {"lat", 12.9713}, {"lon", 77.6413}}}},
        kNow + 2);
  // o-1 is on its way and o-2 waits for payment: nothing is forgotten yet.
  ForgetResult refused = VALUE(store_->forget_customer("alice", "forgotten-1", kNow + 3));
  EXPECT_EQ(refused.open_orders, 2);
  EXPECT_EQ(refused.orders_forgotten, 0);
  EXPECT_EQ(VALUE(store_->get_order("o-1")).order.customer_id, "alice");
  EXPECT_EQ(VALUE(store_->customer_orders("alice", INT64_MAX, "", 10)).size(), 2u);

  EXPECT_EQ(VALUE(store_->get_order("o-1")).order.status, wire::OrderStatus::kOutForDelivery);
  apply("s1", {status(7, "o-1", "delivered")}, kNow + 4);
  ASSERT_OK(store_
                ->act_on_order(
                    "o-2", {.action = OrderAction::kCancel, .reason = "", .accept_window_ms = 0},
                    kNow + 4)
                .status());
  const std::int64_t queued_before = VALUE(store_->downstream("s1", 0, 1000)).size();
  ForgetResult done = VALUE(store_->forget_customer("alice", "forgotten-1", kNow + 5));
  EXPECT_EQ(done.open_orders, 0);
  EXPECT_EQ(done.orders_forgotten, 2);
  EXPECT_EQ(done.stores_told, 1);
  // The orders stay, amounts and all, under the tombstone with a coarse delivery point.
  const OrderRecord kept = VALUE(store_->get_order("o-1"));
  EXPECT_EQ(kept.order.customer_id, "forgotten-1");
  EXPECT_EQ(kept.order.status, wire::OrderStatus::kDelivered);
  EXPECT_EQ(kept.order.total_cents, 100);
  EXPECT_DOUBLE_EQ(kept.order.delivery.lat, 12.97);
  EXPECT_DOUBLE_EQ(kept.order.delivery.lon, 77.64);
  EXPECT_EQ(kept.order.delivery.geohash, "tdr1y");
  EXPECT_TRUE(VALUE(store_->customer_orders("alice", INT64_MAX, "", 10)).empty());
  EXPECT_EQ(VALUE(store_->customer_orders("forgotten-1", INT64_MAX, "", 10)).size(), 2u);
  // The runner's way to the door is gone; the status history stays.
  for (const OrderEvent& e : VALUE(store_->order_events("o-1", 0, 100))) {
    EXPECT_NE(e.kind, "position") << e.body.dump();
    EXPECT_FALSE(e.body.contains("lat")) << e.body.dump();
  }
  EXPECT_FALSE(VALUE(store_->order_events("o-1", 0, 100)).empty());
  EXPECT_FALSE(VALUE(store_->idempotent_reply("alice", "key-1")).has_value());
  EXPECT_TRUE(VALUE(store_->customer_notifications("alice", INT64_MAX, 100)).empty());
  EXPECT_FALSE(VALUE(store_->notification_prefs("alice")).has_value());
  // The store hears it once.
  const std::vector<DownstreamItem> queued = VALUE(store_->downstream("s1", 0, 1000));
  ASSERT_EQ(static_cast<std::int64_t>(queued.size()), queued_before + 1);
  EXPECT_EQ(queued.back().kind, "customer.forget");
  EXPECT_EQ(queued.back().body["customer_id"], "alice");
  EXPECT_EQ(queued.back().body["tombstone"], "forgotten-1");
  // Bob is untouched, and asking again finds nothing left.
  EXPECT_EQ(VALUE(store_->get_order("o-bob")).order.customer_id, "bob");
  EXPECT_TRUE(VALUE(store_->idempotent_reply("bob", "key-b")).has_value());
  ForgetResult again = VALUE(store_->forget_customer("alice", "forgotten-2", kNow + 6));
  EXPECT_EQ(again.orders_forgotten, 0);
  EXPECT_EQ(again.stores_told, 0);
  EXPECT_EQ(store_->forget_customer("alice", "alice", kNow).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(CloudStoreTest, SkuSalesAddUpByDayAndOldDaysArePurged) {
  EXPECT_TRUE(VALUE(store_->sku_popularity(0)).empty());
  ASSERT_OK(store_->add_sku_sales(100, {{"SKU-1", 2}, {"SKU-2", 1}}));
  ASSERT_OK(store_->add_sku_sales(100, {{"SKU-1", 3}}));  // another instance's flush
  ASSERT_OK(store_->add_sku_sales(101, {{"SKU-1", 1}}));
  ASSERT_OK(store_->add_sku_sales(101, {}));
  auto all = VALUE(store_->sku_popularity(100));
  EXPECT_EQ(all.at("SKU-1"), 6);
  EXPECT_EQ(all.at("SKU-2"), 1);
  EXPECT_EQ(VALUE(store_->sku_popularity(101)).at("SKU-1"), 1);
  EXPECT_EQ(VALUE(store_->sku_popularity(101)).count("SKU-2"), 0u);
  EXPECT_EQ(VALUE(store_->purge_sku_sales(101)), 2);
  EXPECT_EQ(VALUE(store_->sku_popularity(0)).at("SKU-1"), 1);
  // Bad counts are refused whole, naming the SKU.
  Status bad = store_->add_sku_sales(101, {{"SKU-3", 4}, {"SKU-4", 0}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.field(), "units[SKU-4]");
  EXPECT_EQ(VALUE(store_->sku_popularity(0)).count("SKU-3"), 0u);
  EXPECT_EQ(store_->add_sku_sales(101, {{"", 1}}).field(), "units[]");
}

INSTANTIATE_TEST_SUITE_P(Backends, CloudStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

// Backend-specific behaviour: opening errors and riding out a PostgreSQL outage.

TEST(SqliteCloudStore, RefusesAPathItCannotOpen) {
  StatusOr<TempDir> dir = TempDir::create("shopeasy-cloud-store");
  ASSERT_TRUE(dir.ok());
  StatusOr<std::unique_ptr<CloudStore>> opened =
      open_sqlite_store((dir->path() / "missing" / "cloud.db").string());
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
}

TEST(SqliteCloudStore, WorksInMemoryWithOneConnection) {
  StatusOr<std::unique_ptr<CloudStore>> opened = open_sqlite_store(":memory:");
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  CloudStore& store = **opened;
  ASSERT_OK(store.migrate());
  ASSERT_OK(store.upsert_store(store_reg("s1")));
  EXPECT_EQ(VALUE(store.apply_batch("s1", mixed_batch(1, 10), kNow)).acked_seq, 10);
  EXPECT_EQ(VALUE(store.availability("s1", {})).size(), 8u);
}

TEST(PostgresCloudStore, RefusesBadConnectionSettings) {
  EXPECT_EQ(open_postgres_store("host=127.0.0.1 port=1", 0).status().field(), "pool_size");
  EXPECT_EQ(open_postgres_store("host=127.0.0.1 = nonsense", 2).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(open_postgres_store("definitely_not_an_option=1", 2).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PostgresCloudStore, UnreachableServerIsUnavailable) {
  StatusOr<std::unique_ptr<CloudStore>> opened =
      open_postgres_store("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", 2);
  EXPECT_EQ(opened.status().code(), StatusCode::kUnavailable);
}

TEST(PostgresCloudStore, RidesOutAServerCrashAndRestart) {
  StatusOr<PostgresServer> server = PostgresServer::start();
  ASSERT_TRUE(server.ok()) << server.status().to_string();
  ASSERT_OK(server->create_database("outage"));
  StatusOr<std::unique_ptr<CloudStore>> opened = open_postgres_store(server->dsn("outage"), 2);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  CloudStore& store = **opened;
  ASSERT_OK(store.migrate());
  ASSERT_OK(store.upsert_store(store_reg("s1")));
  ASSERT_EQ(VALUE(store.apply_batch("s1", mixed_batch(1, 100), kNow)).acked_seq, 100);

  ASSERT_OK(server->kill9());
  StatusOr<ApplyResult> down = store.apply_batch("s1", mixed_batch(101, 100), kNow);
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable) << down.status().to_string();

  ASSERT_OK(server->restart());
  // Every pooled connection died with the server; the next calls reconnect.
  StatusOr<ApplyResult> again = store.apply_batch("s1", mixed_batch(101, 100), kNow);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->acked_seq, 200);
  EXPECT_EQ(again->applied, 100);
  EXPECT_EQ(VALUE(store.get_store("s1")).applied_changes, 200);

  // A graceful restart too: pooled connections are closed by the server.
  ASSERT_OK(server->restart());
  EXPECT_EQ(VALUE(store.get_store("s1")).last_applied_seq, 200);
  EXPECT_EQ(server->create_database("outage").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(server->create_database("Bad-Name").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace shopeasy::cloud::storage
