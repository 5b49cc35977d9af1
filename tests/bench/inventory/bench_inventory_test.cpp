// Checks the benchmark's own parts, so its figures can be trusted: statistics and
// metrics parsing, the synthetic catalog (accepted by the product's own parsers), the
// raw SQLite baseline writing the same consistent rows as the product, the big-store
// generator's consistency, and refusals of bad input.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/db/database.hpp"
#include "edge/api/catalog_import.hpp"
#include "edge/barcode/barcode.hpp"
#include "tests/bench/inventory/bench_stats.hpp"
#include "tests/bench/inventory/big_store.hpp"
#include "tests/bench/inventory/catalog_gen.hpp"
#include "tests/bench/inventory/http_load.hpp"
#include "tests/bench/inventory/in_process_store.hpp"
#include "tests/bench/inventory/ledger_baseline.hpp"
#include "tests/bench/inventory/raw_sqlite.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SummarizeLatencies, NearestRankPercentilesInMilliseconds) {
  std::vector<double> micros;
  for (int i = 100; i >= 1; --i) micros.push_back(i * 10.0);  // 10 .. 1000 us, unsorted
  const LatencySummary s = summarize_latencies(micros);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50_ms, 0.5);
  EXPECT_DOUBLE_EQ(s.p99_ms, 0.99);
  EXPECT_DOUBLE_EQ(s.max_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.mean_ms, 0.505);
}

TEST(SummarizeLatencies, EmptyAndSingleSample) {
  std::vector<double> none;
  EXPECT_EQ(summarize_latencies(none).count, 0u);
  EXPECT_EQ(summarize_latencies(none).p99_ms, 0.0);
  std::vector<double> one = {2500};
  const LatencySummary s = summarize_latencies(one);
  EXPECT_DOUBLE_EQ(s.p50_ms, 2.5);
  EXPECT_DOUBLE_EQ(s.p99_ms, 2.5);
}

constexpr const char* kPage = R"(# HELP edge_store_batch_writes Writes per group commit
# TYPE edge_store_batch_writes histogram
edge_store_batch_writes_bucket{le="1"} 2
edge_store_batch_writes_bucket{le="4"} 6
edge_store_batch_writes_bucket{le="16"} 10
edge_store_batch_writes_bucket{le="+Inf"} 10
edge_store_batch_writes_sum 50
edge_store_batch_writes_count 10
http_request_duration_seconds_bucket{route="/api/stock",le="0.001"} 90
http_request_duration_seconds_bucket{route="/api/stock",le="0.0025"} 99
http_request_duration_seconds_bucket{route="/api/stock",le="+Inf"} 100
http_request_duration_seconds_sum{route="/api/stock"} 0.07
http_request_duration_seconds_count{route="/api/stock"} 100
edge_scans_total{action="receive",result="ok"} 7
edge_scans_total{action="receive",result="not_found"} 2
edge_scans_total{action="pick",result="ok"} 1
this line is not a sample
edge_store_queue_depth 3
)";

TEST(PromPage, ReadsValuesAndSumsLabelledSeries) {
  const PromPage page = PromPage::parse(kPage);
  EXPECT_EQ(page.value("edge_store_queue_depth"), 3.0);
  EXPECT_EQ(page.value("edge_store_batch_writes_sum"), 50.0);
  EXPECT_EQ(page.value("no_such_metric"), std::nullopt);
  EXPECT_EQ(page.sum_of("edge_scans_total"), 10.0);
  EXPECT_EQ(page.sum_of("edge_scans_total", {"action=\"receive\""}), 9.0);
  EXPECT_EQ(page.sum_of("edge_scans_total", {"action=\"receive\"", "result=\"ok\""}), 7.0);
  EXPECT_EQ(page.sum_of("edge_scans"), 0.0) << "a prefix of a name is not the name";
}

TEST(PromPage, ReadsUnlabelledAndLabelledHistograms) {
  const PromPage page = PromPage::parse(kPage);
  auto batch = page.histogram("edge_store_batch_writes");
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_DOUBLE_EQ(batch->mean(), 5.0);
  EXPECT_THAT(batch->cumulative, ElementsAre(2, 6, 10, 10));
  EXPECT_DOUBLE_EQ(batch->quantile(0.5), 1 + 3 * (5.0 - 2) / 4);  // inside (1, 4]
  EXPECT_DOUBLE_EQ(batch->quantile(1.0), 16.0);

  auto stock = page.histogram("http_request_duration_seconds", "route=\"/api/stock\"");
  ASSERT_TRUE(stock.ok()) << stock.status().to_string();
  EXPECT_DOUBLE_EQ(stock->share_at_most(0.001), 0.9);
  EXPECT_DOUBLE_EQ(stock->share_at_most(0.0025), 0.99);
  EXPECT_NEAR(stock->mean(), 0.0007, 1e-12);

  auto missing = page.histogram("http_request_duration_seconds", "route=\"/api/nope\"");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(page.histogram("http_request_duration_seconds").ok())
      << "the labelled family has no unlabelled series";
}

TEST(PromHistogram, MinusGivesWhatHappenedInBetween) {
  PromHistogram before{{1, 4, std::numeric_limits<double>::infinity()}, {1, 2, 2}, 3, 2};
  PromHistogram after{{1, 4, std::numeric_limits<double>::infinity()}, {1, 5, 6}, 20, 6};
  const PromHistogram d = after.minus(before);
  EXPECT_THAT(d.cumulative, ElementsAre(0, 3, 4));
  EXPECT_DOUBLE_EQ(d.count, 4);
  EXPECT_DOUBLE_EQ(d.mean(), 17.0 / 4);
  EXPECT_DOUBLE_EQ(d.quantile(0.99), 4.0) << "in the +Inf bucket: the highest finite bound";
  EXPECT_EQ(PromHistogram{}.mean(), 0.0);
  EXPECT_EQ(PromHistogram{}.quantile(0.5), 0.0);
}

TEST(CatalogGen, BarcodesAreValidEan13s) {
  std::set<std::string> seen;
  for (std::uint64_t serial : {0ULL, 1ULL, 100042ULL, 999999999ULL}) {
    const std::string code = make_ean13(serial);
    ASSERT_EQ(code.size(), 13u);
    auto parsed = edge::barcode::parse_scan(code);
    ASSERT_TRUE(parsed.ok()) << code << ": " << parsed.status().to_string();
    EXPECT_EQ(parsed->gtin14, "0" + code);
    seen.insert(code);
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(CatalogGen, CatalogIsDeterministicAndAcceptedByTheImporter) {
  const auto a = make_catalog(300, 7);
  const auto b = make_catalog(300, 7);
  ASSERT_EQ(a.size(), 300u);
  EXPECT_EQ(a[123].ean13, b[123].ean13);
  EXPECT_EQ(a[8].home_bin, "B-001");
  auto rows = edge::api::parse_catalog_csv(catalog_csv(a));
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  ASSERT_EQ(rows->size(), 300u);
  for (std::size_t i = 0; i < rows->size(); ++i) {
    ASSERT_TRUE((*rows)[i].ok()) << "row " << i << ": " << (*rows)[i].status().to_string();
    EXPECT_EQ((*rows)[i]->sku, a[i].sku);
    EXPECT_EQ((*rows)[i]->home_bin, a[i].home_bin);
  }
  EXPECT_THAT(bins_json(make_bins(2)), HasSubstr(R"("code":"B-001")"));
}

TEST(UtcDate, FormatsCivilDates) {
  EXPECT_EQ(utc_date_of(0), "1970-01-01");
  EXPECT_EQ(utc_date_of(1767225600000), "2026-01-01");
  EXPECT_EQ(utc_date_of(1709164800000 + 86399999), "2024-02-29");
  EXPECT_EQ(utc_date_of(1709251200000), "2024-03-01");
}

TEST(Table, AlignsColumnsAndPadsShortRows) {
  Table t({"a", "long header"});
  t.add({"wide cell", "x"});
  t.add({"y"});
  EXPECT_EQ(t.render(),
            "a          long header\n"
            "----------------------\n"
            "wide cell  x\n"
            "y\n");
}

// Sums of the ledger per (sku, bin, lot) against stock, and per SKU against sku_totals.
void expect_books_balance(const std::string& path) {
  auto db = db::Database::open(path, {.read_only = true});
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  auto mismatched = db->query_one<std::int64_t>(
      "SELECT COUNT(*) FROM stock s LEFT JOIN (SELECT sku, bin, lot_id, SUM(delta) AS d "
      "FROM ledger GROUP BY sku, bin, lot_id) g USING (sku, bin, lot_id) "
      "WHERE s.on_hand <> COALESCE(g.d, 0)");
  ASSERT_TRUE(mismatched.ok()) << mismatched.status().to_string();
  EXPECT_EQ(mismatched->value_or(-1), 0) << "stock rows that differ from their ledger sum";
  auto totals = db->query_one<std::int64_t>(
      "SELECT COUNT(*) FROM sku_totals t JOIN (SELECT sku, SUM(delta) AS d, COUNT(*) AS n "
      "FROM ledger GROUP BY sku) g USING (sku) WHERE t.on_hand <> g.d OR t.version <> g.n");
  ASSERT_TRUE(totals.ok()) << totals.status().to_string();
  EXPECT_EQ(totals->value_or(-1), 0) << "sku_totals rows that differ from the ledger";
  auto negative = db->query_one<std::int64_t>("SELECT COUNT(*) FROM stock WHERE on_hand < 0");
  ASSERT_TRUE(negative.ok());
  EXPECT_EQ(negative->value_or(-1), 0);
}

StatusOr<std::int64_t> count_rows(const std::string& path, const std::string& table) {
  auto db = db::Database::open(path, {.read_only = true});
  if (!db.ok()) return db.status();
  auto n = db->query_one<std::int64_t>("SELECT COUNT(*) FROM " + table);
  if (!n.ok()) return n.status();
  return n->value_or(-1);
}

TEST(LedgerBaseline, WritesTheSameRowsAsTheStorePerScan) {
  auto dir = testing::TempDir::create("bench-baseline");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->file("raw.db").string();
  const auto catalog = make_catalog(20, 3);
  {
    auto store = InProcessStore::open(path, false);
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    ASSERT_TRUE((*store)->load_catalog(make_bins(3), catalog).is_ok());
  }
  BaselineSpec spec;
  spec.path = path;
  spec.durable = false;
  spec.scans = 203;
  spec.scans_per_transaction = 10;
  auto r = run_ledger_baseline(spec, catalog);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->scans, 203u);
  EXPECT_EQ(r->transactions, 21u);
  EXPECT_GT(r->rate(), 0);
  EXPECT_EQ(count_rows(path, "ledger").value_or(-1), 203);
  EXPECT_EQ(count_rows(path, "applied_scans").value_or(-1), 203);
  // The catalog import and bins emit their own events first.
  auto events = db::Database::open(path, {.read_only = true});
  ASSERT_TRUE(events.ok());
  auto changed =
      events->query_one<std::int64_t>("SELECT COUNT(*) FROM events WHERE type = 'stock.changed'");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->value_or(-1), 203);
  expect_books_balance(path);
}

TEST(LedgerBaseline, RefusesBadSpecs) {
  const auto catalog = make_catalog(5, 1);
  BaselineSpec spec;
  spec.path = "/nonexistent-dir/raw.db";
  spec.scans_per_transaction = 0;
  auto zero = run_ledger_baseline(spec, catalog);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  auto empty = run_ledger_baseline(BaselineSpec{}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  spec.scans_per_transaction = 1;
  auto unopenable = run_ledger_baseline(spec, catalog);
  ASSERT_FALSE(unopenable.ok());
  EXPECT_EQ(unopenable.status().code(), StatusCode::kUnavailable);
}

TEST(BigStore, GeneratesConsistentBooksThatTheStoreOpens) {
  auto dir = testing::TempDir::create("bench-big");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->file("edge.db").string();
  {
    auto store = InProcessStore::open(path, false);  // creates the schema
    ASSERT_TRUE(store.ok()) << store.status().to_string();
  }
  const auto catalog = make_catalog(50, 4);
  BigStoreSpec spec;
  spec.db_path = path;
  spec.bins = make_bins(4);
  spec.lots_per_sku = 3;
  spec.ledger_rows = 5000;
  spec.now_ms = 1767225600000;
  auto built = build_big_store(spec, catalog);
  ASSERT_TRUE(built.ok()) << built.status().to_string();
  EXPECT_EQ(built->products, 50u);
  EXPECT_EQ(built->lots, 150u);
  EXPECT_EQ(count_rows(path, "ledger").value_or(-1), 5000);
  EXPECT_EQ(count_rows(path, "lots").value_or(-1), 151) << "plus the schema's 'no lot' row";
  EXPECT_EQ(count_rows(path, "stock").value_or(-1), static_cast<std::int64_t>(built->stock_rows));
  expect_books_balance(path);

  // The store reads it back: a SKU with its lots, FEFO-ordered, and a full stock page.
  auto store = InProcessStore::open(path, false);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  auto item = (*store)->inventory().get_sku("SKU-00007");
  ASSERT_TRUE(item.ok()) << item.status().to_string();
  EXPECT_EQ((*item)["home_bin"], "B-003");
  EXPECT_LE((*item)["stock"].size(), 3u);
  EXPECT_GT((*item)["version"].get<std::int64_t>(), 0);
  edge::inventory::StockQuery q;
  q.limit = 20;
  auto page = (*store)->inventory().list_stock(q);
  ASSERT_TRUE(page.ok()) << page.status().to_string();
  EXPECT_EQ((*page)["items"].size(), 20u);
}

TEST(BigStore, RefusesBadSpecs) {
  BigStoreSpec spec;
  spec.db_path = "/nonexistent-dir/edge.db";
  auto empty = build_big_store(spec, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  spec.lots_per_sku = 0;
  auto no_lots = build_big_store(spec, make_catalog(3, 1));
  ASSERT_FALSE(no_lots.ok());
  EXPECT_EQ(no_lots.status().code(), StatusCode::kInvalidArgument);
}

TEST(RawDb, ReportsSqlErrorsAsStatus) {
  auto dir = testing::TempDir::create("bench-raw");
  ASSERT_TRUE(dir.ok());
  auto db = RawDb::open(dir->file("x.db").string());
  ASSERT_TRUE(db.ok()) << db.status().to_string();
  EXPECT_TRUE(db->exec("CREATE TABLE t (a INTEGER PRIMARY KEY)").is_ok());
  Status bad = db->exec("INSERT INTO nope VALUES (1)");
  EXPECT_EQ(bad.code(), StatusCode::kInternal);
  EXPECT_THAT(bad.message(), HasSubstr("no such table"));
  auto stmt = db->prepare("SELEC 1");
  ASSERT_FALSE(stmt.ok());
  EXPECT_EQ(stmt.status().code(), StatusCode::kInternal);
  auto dup = db->prepare("INSERT INTO t (a) VALUES (?1)");
  ASSERT_TRUE(dup.ok());
  dup->bind(1, std::int64_t{1});
  EXPECT_TRUE(dup->run_to_end().is_ok());
  dup->bind(1, std::int64_t{1});
  EXPECT_EQ(dup->run_to_end().code(), StatusCode::kInternal) << "a primary key collision";
  auto unopenable = RawDb::open(dir->file("missing/dir/x.db").string());
  ASSERT_FALSE(unopenable.ok());
  EXPECT_EQ(unopenable.status().code(), StatusCode::kUnavailable);
}

TEST(RunLoad, RefusesIncompleteSpecs) {
  LoadSpec spec;
  spec.make_call = [](int, std::uint64_t, std::mt19937_64&) { return HttpCall{}; };
  auto no_port = run_load(spec);
  ASSERT_FALSE(no_port.ok());
  EXPECT_EQ(no_port.status().field(), "port");
  spec.port = 1;
  spec.clients = 0;
  auto no_clients = run_load(spec);
  ASSERT_FALSE(no_clients.ok());
  EXPECT_EQ(no_clients.status().field(), "clients");
  spec.clients = 1;
  spec.make_call = nullptr;
  auto no_maker = run_load(spec);
  ASSERT_FALSE(no_maker.ok());
  EXPECT_EQ(no_maker.status().field(), "make_call");
}

TEST(ProcessFigures, ReadsThisProcessAndRefusesMissingOnes) {
  auto cpu = process_cpu_seconds(0);
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  EXPECT_GE(*cpu, 0.0);
  auto mem = process_memory(0);
  ASSERT_TRUE(mem.ok()) << mem.status().to_string();
  EXPECT_GT(mem->vm_rss_kib, 0);
  EXPECT_GE(mem->vm_hwm_kib, mem->vm_rss_kib);
  // Pids above pid_max never exist.
  EXPECT_EQ(process_memory(1 << 30).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(process_cpu_seconds(1 << 30).status().code(), StatusCode::kNotFound);
}

TEST(ProbeFdatasync, MeasuresBothModesAndRefusesAMissingDirectory) {
  auto dir = testing::TempDir::create("bench-fsync");
  ASSERT_TRUE(dir.ok());
  for (bool overwrite : {false, true}) {
    auto s = probe_fdatasync(dir->path().string(), 5, overwrite);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(s->count, 5u);
    EXPECT_GT(s->max_ms, 0.0);
  }
  EXPECT_EQ(probe_fdatasync(dir->file("missing").string(), 5, false).status().code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shopeasy::bench
