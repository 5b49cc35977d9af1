#include "tests/bench/fleet/catalog_reads.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/geohash/geohash.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/bench/inventory/edge_client.hpp"
#include "tests/bench/inventory/http_load.hpp"
#include "tests/harness/harness.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::bench::fleet {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

constexpr const char* kCustomer = "catalog-customer-token";
constexpr const char* kStoreSecret = "catalog-store-secret-0123";
constexpr int kHttpThreads = 16;  // the cloud's default http.threads

std::string figure(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

testing::HttpReply call(int port, const std::string& method, const std::string& path,
                        const std::string& body, const std::string& token) {
  auto headers = testing::bearer(token);
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return testing::http_request("127.0.0.1", port, method, path, body, headers, 30s)
      .value_or(testing::HttpReply{});
}

// A store with `skus` products in stock; false with the reason printed.
bool load_store(int port, int skus) {
  auto r = call(port, "PUT", "/v1/stores/cat",
                json{{"name", "Catalog store"},
                     {"lat", 12.9719},
                     {"lon", 77.6412},
                     {"service_radius_m", 3000},
                     {"secret", kStoreSecret}}
                    .dump(),
                testing::kAdminToken);
  if (r.status != 200) {
    std::printf("  [catalog] registering the store answered %d: %s\n", r.status, r.body.c_str());
    return false;
  }
  json changes = json::array();
  for (int i = 0; i < skus; ++i) {
    char sku[32];
    std::snprintf(sku, sizeof sku, "SKU-%05d", i);
    r = call(port, "PUT", std::string("/v1/catalog/") + sku,
             json{{"name", std::string("Product ") + sku},
                  {"category", "grocery"},
                  {"price_cents", 1000 + i}}
                 .dump(),
             testing::kAdminToken);
    if (r.status != 200) {
      std::printf("  [catalog] adding %s answered %d: %s\n", sku, r.status, r.body.c_str());
      return false;
    }
    changes.push_back({{"seq", i + 1},
                       {"kind", "stock.changed"},
                       {"body", {{"sku", sku}, {"sku_on_hand", 50}, {"sku_reserved", 0}}}});
  }
  const json batch = {{"store_id", "cat"},
                      {"first_seq", 1},
                      {"changes", changes},
                      {"downstream_cursor", 0},
                      {"sent_at_ms", 1'800'000'000'000}};
  r = call(port, "POST", "/v1/stores/cat/sync", batch.dump(), std::string("cat:") + kStoreSecret);
  if (r.status != 200) {
    std::printf("  [catalog] the stock sync answered %d: %s\n", r.status, r.body.c_str());
    return false;
  }
  return true;
}

StatusOr<LoadResult> drive(int port, const std::string& path, const CatalogReadArgs& args,
                           const std::string& token) {
  LoadSpec spec;
  spec.port = port;
  spec.clients = args.clients;
  spec.duration = std::chrono::milliseconds(static_cast<int>(args.seconds * 1000));
  spec.bearer_token = token;
  spec.make_call = [path](int, std::uint64_t, std::mt19937_64&) {
    HttpCall c;
    c.path = path;
    return c;
  };
  return run_load(spec);
}

}  // namespace

bool run_catalog_reads(const CatalogReadArgs& args, bool* measured) {
  *measured = false;
  auto dir = testing::TempDir::create("fleet-catalog");
  if (!dir.ok()) return false;
  std::vector<std::string> flags = {
      "--http.port=0", "--state_dir=" + dir->path().string(),
      "--auth.tokens=" + testing::tokens_json({{"catalog-customer", "customer", kCustomer}})};
  for (auto& l : lifted_daemon_limits()) flags.push_back(std::move(l));
  auto cloud = testing::start_daemon("shopeasy-cloud", flags, {}, 60s);
  if (!cloud.ok()) {
    std::printf("  [catalog] cloud did not start: %s\n", cloud.status().to_string().c_str());
    return false;
  }
  if (!load_store(cloud->http_port, args.skus)) return false;
  auto cell = geohash::encode({12.975, 77.645}, 7);
  if (!cell.ok()) return false;
  const std::string path = "/api/inventory?geo_hash=" + *cell + "&limit=20";
  // The store counts as online once it has synced; the first read proves it.
  if (call(cloud->http_port, "GET", path, "", kCustomer).status != 200) {
    std::printf("  [catalog] the first read failed\n");
    return false;
  }
  // The library's keep-alive and backlog limits lifted: the stronger baseline.
  auto hello = start_hello_server(args.self_exe, kHttpThreads, true);
  if (!hello.ok()) {
    std::printf("  [catalog] %s\n", hello.status().to_string().c_str());
    return false;
  }
  auto base = drive(hello->port, "/hello", args, "");
  auto reads = drive(cloud->http_port, path, args, kCustomer);
  hello->process.kill9();
  if (!base.ok() || !reads.ok() || reads->failed > 0 || base->failed > 0) {
    std::printf("  [catalog] load failed: %s\n",
                reads.ok() ? reads->first_error.c_str() : reads.status().to_string().c_str());
    return false;
  }
  *measured = true;
  const double ratio = reads->rate() / std::max(1.0, base->rate());
  std::printf(
      "[catalog] GET /api/inventory (20 of %d SKUs), %d clients: %.0f reads/s p50 %.2f ms "
      "p99 %.2f ms; hello world %.0f/s p99 %.2f ms (ratio %.2f)\n",
      args.skus, args.clients, reads->rate(), reads->latency.p50_ms, reads->latency.p99_ms,
      base->rate(), base->latency.p99_ms, ratio);
  const bool fast = reads->rate() >= 20000;
  const bool quick = reads->latency.p99_ms < 5;
  record_result("fleet", "catalog reads/s (GET /api/inventory)", figure("%.0f /s", reads->rate()),
                figure("%.0f /s (hello world)", base->rate()), figure("%.2f", ratio), ">= 20000 /s",
                fast ? "met" : "MISSED");
  record_result("fleet", "catalog read p99", figure("%.2f ms", reads->latency.p99_ms),
                figure("%.2f ms (hello world)", base->latency.p99_ms), "", "< 5 ms",
                quick ? "met" : "MISSED");
  return fast && quick;
}

}  // namespace shopeasy::bench::fleet
