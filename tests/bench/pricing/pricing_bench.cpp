// pricing_bench: (1) repricing: the engine over 25,000 SKUs x 100 stores on one core,
// each SKU with a model, a competitor feed for a third of them, a price an hour ago for
// half and a stock cover (overstocked or scarce) for about a third;
// (2) quotes: POST /api/quote with 10 lines against the real shopeasy-cloud, next to
// GET /api/inventory (a plain catalog read of 10 items) in the same run, p50/p99 of each
// and their ratio; (3) the kill switch: real shopeasy-edge daemons following the cloud's
// pricing view, the time until each edge's /api/pricing shows the switch flipped.
// Targets: repricing <= 1 s; quote p99 <= 5 ms; kill switch <= 1 s at every edge.
//
// Usage: pricing_bench [--skus=25000] [--stores=100] [--requests=2000] [--edges=10]
//                      [--seed=1]
// Exit status: 0 every target met, 1 one missed, 2 a phase could not run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/pricing/engine.hpp"
#include "common/geohash/geohash.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/bench/pricing/kill_switch.hpp"
#include "tests/harness/wait.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace pricing = cloud::pricing;

constexpr const char* kCustomer = "bench-customer-token";
constexpr const char* kSecret = "bench-store-secret-0123456789";

struct Settings {
  int skus = 25'000;
  int stores = 100;
  int requests = 2'000;
  int edges = 10;
  std::uint64_t seed = 1;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

// Phase 1: seconds to price every SKU at every store once.
double reprice(const Settings& s, std::int64_t* changed) {
  std::mt19937_64 rng(s.seed);
  const std::int64_t now = 1'800'000'000'000;
  std::vector<pricing::PriceModel> models;
  std::vector<pricing::SkuInputs> inputs;
  for (int i = 0; i < s.skus; ++i) {
    pricing::PriceModel m;
    m.sku = "sku-" + std::to_string(i);
    m.mrp_cents = std::uniform_int_distribution<std::int64_t>(1'000, 100'000)(rng);
    m.base_cents = m.mrp_cents * 9 / 10;
    if (i % 10 != 0) m.cost_cents = m.base_cents * 6 / 10;  // one in ten: no floor
    m.min_margin_bp = 1'000;
    models.push_back(std::move(m));
    pricing::SkuInputs in;
    if (i % 3 == 0) {
      for (int k = 0; k < 3; ++k) {
        in.competitor.push_back({models.back().sku, "c" + std::to_string(k),
                                 models.back().base_cents * (85 + k * 5) / 100, now - 3'600'000});
      }
    }
    if (i % 2 == 0) in.hour_ago_cents = models.back().base_cents;
    // A quarter overstocked (60 days of cover), a seventh scarce (one day).
    if (i % 4 == 0) {
      in.cover = pricing::SkuCover{.units = 600, .daily_demand = 10.0};
    } else if (i % 7 == 0) {
      in.cover = pricing::SkuCover{.units = 10, .daily_demand = 10.0};
    }
    inputs.push_back(std::move(in));
  }
  const pricing::PricingConfig config;
  std::int64_t moved = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int store = 0; store < s.stores; ++store) {
    for (std::size_t i = 0; i < models.size(); ++i) {
      const pricing::PriceDecision d = pricing::price_sku(config, models[i], inputs[i], now);
      moved += d.price_cents != models[i].base_cents ? 1 : 0;
    }
  }
  *changed = moved;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int run(const Settings& s) {
  print_lifted_limits("pricing_bench");
  int status = 0;

  std::int64_t changed = 0;
  const double seconds = reprice(s, &changed);
  const double rate = static_cast<double>(s.skus) * s.stores / seconds;
  const bool reprice_met =
      s.skus * static_cast<std::int64_t>(s.stores) < 2'500'000 || seconds <= 1.0;
  std::printf("\n| phase | figure | result | target | verdict |\n|---|---|---|---|---|\n");
  std::printf(
      "| repricing | %d SKUs x %d stores, one core | %.3f s (%.1f M prices/s, %lld moved) "
      "| <= 1 s at 25,000 x 100 | %s |\n",
      s.skus, s.stores, seconds, rate / 1e6, static_cast<long long>(changed),
      seconds <= 1.0 ? "met" : "MISSED");
  char measured[64];
  std::snprintf(measured, sizeof measured, "%.3f s", seconds);
  record_result(
      "pricing",
      "reprice " + std::to_string(s.skus) + " SKUs x " + std::to_string(s.stores) + " stores",
      measured, "-", "-", "<= 1 s", seconds <= 1.0 ? "met" : "MISSED");
  if (!reprice_met) status = 1;

  // Phase 2: the real cloud.
  auto dir = testing::TempDir::create("pricing-bench");
  if (!dir.ok()) return 2;
  std::vector<std::string> args = {
      "--http.port=0", "--state_dir=" + dir->file("cloud").string(),
      "--auth.tokens=" + testing::tokens_json({{"bench", "customer", kCustomer}}),
      "--stores.online_window_s=3600"};
  for (auto& a : lifted_daemon_limits()) args.push_back(a);
  auto cloud = testing::start_daemon("shopeasy-cloud", args, {}, 120s);
  if (!cloud.ok()) {
    std::fprintf(stderr, "pricing_bench: the cloud did not start: %s\n",
                 cloud.status().to_string().c_str());
    return 2;
  }
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token) {
    auto headers = testing::bearer(token);
    if (!body.empty()) headers["Content-Type"] = "application/json";
    return testing::http_request("127.0.0.1", cloud->http_port, method, path, body, headers, 30s)
        .value_or(testing::HttpReply{});
  };
  const int catalog = 200;
  if (call("PUT", "/v1/stores/s1",
           json{{"name", "s1"},
                {"lat", 12.9719},
                {"lon", 77.6412},
                {"service_radius_m", 3000},
                {"secret", kSecret}}
               .dump(),
           testing::kAdminToken)
          .status != 200) {
    return 2;
  }
  json batch = {{"store_id", "s1"},
                {"first_seq", 1},
                {"downstream_cursor", 0},
                {"sent_at_ms", 1'800'000'000'000},
                {"changes", json::array()}};
  for (int i = 0; i < catalog; ++i) {
    const std::string sku = "SKU" + std::to_string(i);
    const int price = 1'000 + i * 10;
    if (call("PUT", "/v1/catalog/" + sku,
             json{{"name", "Item " + sku}, {"price_cents", price}}.dump(), testing::kAdminToken)
                .status != 200 ||
        call("PUT", "/v1/prices/models/" + sku,
             json{{"base_cents", price}, {"mrp_cents", price + 100}, {"cost_cents", price / 2}}
                 .dump(),
             testing::kAdminToken)
                .status != 200) {
      std::fprintf(stderr, "pricing_bench: catalog setup failed\n");
      return 2;
    }
    batch["changes"].push_back(
        {{"seq", i + 1},
         {"kind", "stock.changed"},
         {"body", {{"sku", sku}, {"sku_on_hand", 100}, {"sku_reserved", 0}}}});
  }
  // Every fifth SKU has a lot on its last day: those quotes take the markdown path too.
  const std::int64_t last_day =
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(20))
          .count();
  batch["near_expiry"] = json::array();
  for (int i = 0; i < catalog; i += 5) {
    batch["near_expiry"].push_back({{"sku", "SKU" + std::to_string(i)},
                                    {"lot", "L" + std::to_string(i)},
                                    {"expires_ms", last_day},
                                    {"units", 3}});
  }
  // Every fourth SKU is overstocked (60 days of cover) and every seventh scarce (one
  // day): quotes take the inventory rule's path too.
  batch["stock_cover"] = json::array();
  for (int i = 0; i < catalog; ++i) {
    if (i % 4 == 0) {
      batch["stock_cover"].push_back(
          {{"sku", "SKU" + std::to_string(i)}, {"units", 600}, {"daily_demand", 10.0}});
    } else if (i % 7 == 0) {
      batch["stock_cover"].push_back(
          {{"sku", "SKU" + std::to_string(i)}, {"units", 10}, {"daily_demand", 10.0}});
    }
  }
  auto headers = testing::bearer(std::string("s1:") + kSecret);
  headers["Content-Type"] = "application/json";
  if (testing::http_request("127.0.0.1", cloud->http_port, "POST", "/v1/stores/s1/sync",
                            batch.dump(), headers, 30s)
          .value_or(testing::HttpReply{})
          .status != 200) {
    return 2;
  }
  std::string feed = "sku,price\n";
  for (int i = 0; i < catalog; i += 3) {
    feed +=
        "SKU" + std::to_string(i) + "," + std::to_string((1'000 + i * 10) * 95 / 10'000.0) + "\n";
  }
  auto feed_headers = testing::bearer(testing::kAdminToken);
  feed_headers["Content-Type"] = "text/csv";
  if (testing::http_request("127.0.0.1", cloud->http_port, "POST", "/v1/prices/competitor", feed,
                            feed_headers, 30s)
          .value_or(testing::HttpReply{})
          .status != 200) {
    std::fprintf(stderr, "pricing_bench: feed import failed\n");
    return 2;
  }
  call("PUT", "/v1/pricing/signals/s1", json{{"open_orders", 8}, {"available_runners", 4}}.dump(),
       testing::kAdminToken);
  const std::string cell = *geohash::encode({12.975, 77.645}, 7);
  std::mt19937_64 rng(s.seed);
  auto cart = [&]() {
    json lines = json::array();
    for (int k = 0; k < 10; ++k) {
      lines.push_back({{"sku", "SKU" + std::to_string((rng() % catalog))}, {"qty", 1 + k % 3}});
    }
    return json{{"lines", lines}, {"delivery", {{"lat", 12.975}, {"lon", 77.645}}}}.dump();
  };
  // Warm up (and wait for the store to show as online).
  const bool ready = testing::wait_for(
      [&] { return call("POST", "/api/quote", cart(), kCustomer).status == 200; }, 10s);
  if (!ready) {
    std::fprintf(stderr, "pricing_bench: no quote: %s\n",
                 call("POST", "/api/quote", cart(), kCustomer).body.c_str());
    return 2;
  }
  std::vector<double> quote_ms, read_ms;
  int with_markdown = 0;
  int with_overstock = 0;
  for (int i = 0; i < s.requests; ++i) {
    // Interleaved, so both see the same machine load.
    const std::string body = cart();
    auto t0 = std::chrono::steady_clock::now();
    const testing::HttpReply quoted = call("POST", "/api/quote", body, kCustomer);
    auto t1 = std::chrono::steady_clock::now();
    const int qs = quoted.status;
    if (quoted.body.find("\"markdown\"") != std::string::npos) ++with_markdown;
    if (quoted.body.find("\"overstock\"") != std::string::npos) ++with_overstock;
    const int rs =
        call("GET", "/api/inventory?geo_hash=" + cell + "&limit=10", "", kCustomer).status;
    auto t2 = std::chrono::steady_clock::now();
    if (qs != 200 || rs != 200) {
      std::fprintf(stderr, "pricing_bench: request failed (quote %d, inventory %d)\n", qs, rs);
      return 2;
    }
    quote_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    read_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  const double q50 = percentile(quote_ms, 0.5), q99 = percentile(quote_ms, 0.99);
  const double r50 = percentile(read_ms, 0.5), r99 = percentile(read_ms, 0.99);
  const bool quote_met = q99 <= 5.0;
  std::printf(
      "| quote | POST /api/quote, 10 lines (a fifth with a lot near expiry, a third with a stock "
      "cover), %d requests one at a time | p50 %.2f ms, p99 "
      "%.2f ms | p99 <= 5 ms | %s |\n",
      s.requests, q50, q99, quote_met ? "met" : "MISSED");
  std::printf(
      "| baseline | GET /api/inventory limit=10, same run | p50 %.2f ms, p99 %.2f ms | - | - "
      "|\n",
      r50, r99);
  std::printf("| ratio | quote / catalog read | p50 %.1fx, p99 %.1fx | - | - |\n", q50 / r50,
              q99 / r99);
  std::printf("| markdowns | quotes with a near-expiry markdown | %d of %d | - | - |\n",
              with_markdown, s.requests);
  std::printf("| inventory rule | quotes with an overstocked line | %d of %d | - | - |\n",
              with_overstock, s.requests);
  char q[64], b[64], ratio[32];
  std::snprintf(q, sizeof q, "p99 %.2f ms", q99);
  std::snprintf(b, sizeof b, "p99 %.2f ms inventory", r99);
  std::snprintf(ratio, sizeof ratio, "%.1fx", q99 / r99);
  record_result("pricing", "quote 10 lines", q, b, ratio, "p99 <= 5 ms",
                quote_met ? "met" : "MISSED");
  if (!quote_met) status = 1;

  // Phase 3: the kill switch at the stores.
  const int kill = measure_kill_switch(cloud->http_port, s.edges, *dir);
  if (kill == 2) return 2;
  if (kill != 0) status = 1;
  return status;
}

}  // namespace
}  // namespace shopeasy::bench

int main(int argc, char** argv) {
  shopeasy::bench::Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string("--") + name + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("skus")) {
      s.skus = std::atoi(v);
    } else if (const char* v2 = value("stores")) {
      s.stores = std::atoi(v2);
    } else if (const char* v3 = value("requests")) {
      s.requests = std::atoi(v3);
    } else if (const char* v5 = value("edges")) {
      s.edges = std::atoi(v5);
    } else if (const char* v4 = value("seed")) {
      s.seed = std::strtoull(v4, nullptr, 10);
    } else {
      std::fprintf(stderr, "pricing_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (s.skus <= 0 || s.stores <= 0 || s.requests <= 0 || s.edges <= 0) {
    std::fprintf(stderr,
                 "pricing_bench: --skus, --stores, --requests and --edges must be positive\n");
    return 2;
  }
  return shopeasy::bench::run(s);
}
