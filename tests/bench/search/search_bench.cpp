// search_bench: how fast a real shopeasy-cloud answers product suggestions and searches
// for a 50,000-SKU catalog, against plain /api/inventory reads measured in the same run
// with the same load, and how much memory the search index takes.
//
// Set-up: the catalog (tools/search-eval's generator, seeded) is written straight into
// a fresh cloud database before the daemon starts (50,000 HTTP PUTs would measure the
// catalog route, not search), so the daemon builds its index at start as in
// production; the store is registered and its stock (every other SKU in stock) sent
// through the real sync route. Then each route gets the same open-loop load: `rate`
// requests/s spread over `clients` threads with keep-alive connections, each request
// sent at its scheduled time; latency is measured from that time, so a slow answer
// delays no later measurement. Index memory: the daemon's RSS minus that of a daemon on
// an empty database.
//
// Usage: search_bench [--skus=N] [--rate=N] [--clients=N] [--seconds=N] [--seed=N]
//                     [--noise-words=N]  (a made-up product-line word from a pool of N in
//                                         every name: a vocabulary of realistic size)
// Exit status: 0 measured, 2 a phase could not run.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/storage/cloud_store.hpp"
#include "common/db/database.hpp"
#include "common/geohash/geohash.hpp"
#include "common/http/auth.hpp"
#include "tests/bench/bench_common.hpp"
#include "tests/bench/inventory/bench_stats.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tools/search-eval/generator.hpp"

namespace shopeasy::bench {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace se = tools::search_eval;

constexpr const char* kCustomer = "bench-customer-token";
constexpr const char* kSecret = "bench-store-secret-0123";
constexpr double kLat = 12.975;
constexpr double kLon = 77.645;

struct Settings {
  std::size_t skus = 50000;
  int rate = 200;
  int clients = 8;
  int seconds = 20;
  std::uint64_t seed = 1;
  std::size_t noise_words = 0;  // see search-eval --noise-words
};

struct Phase {
  LatencySummary latency;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::string first_error;
};

std::string percent_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

// Open-loop load: request i of client c is due at start + (i * clients + c) / rate.
Phase run_paced(int port, const Settings& s, const std::vector<std::string>& paths) {
  Phase phase;
  std::vector<std::vector<double>> micros(static_cast<std::size_t>(s.clients));
  std::atomic<std::uint64_t> ok{0}, failed{0};
  std::mutex error_mu;  // guards phase.first_error
  const auto start = std::chrono::steady_clock::now() + 200ms;
  const auto interval = std::chrono::duration<double>(1.0 / s.rate);
  const std::uint64_t per_client = static_cast<std::uint64_t>(s.rate) * s.seconds / s.clients;
  std::vector<std::thread> threads;
  for (int c = 0; c < s.clients; ++c) {
    threads.emplace_back([&, c] {
      httplib::Client http("127.0.0.1", port);
      http.set_keep_alive(true);
      http.set_read_timeout(10, 0);
      const httplib::Headers headers = {{"Authorization", std::string("Bearer ") + kCustomer}};
      std::mt19937_64 rng(s.seed * 31 + static_cast<std::uint64_t>(c));
      for (std::uint64_t i = 0; i < per_client; ++i) {
        const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     interval * static_cast<double>(i * s.clients + c));
        std::this_thread::sleep_until(due);
        const std::string& path = paths[rng() % paths.size()];
        auto res = http.Get(path, headers);
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - due)
                .count();
        if (res && res->status == 200) {
          micros[static_cast<std::size_t>(c)].push_back(us);
          ++ok;
        } else {
          ++failed;
          std::lock_guard lock(error_mu);
          if (phase.first_error.empty()) {
            phase.first_error = res ? "HTTP " + std::to_string(res->status) + " " + res->body
                                    : "transport: " + httplib::to_string(res.error());
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& m : micros) all.insert(all.end(), m.begin(), m.end());
  phase.latency = summarize_latencies(all);
  phase.ok = ok;
  phase.failed = failed;
  return phase;
}

// The store is registered before the catalog rows exist, so nothing is queued
// downstream for it (the catalog route would queue every item for every store).
Status load_catalog(const std::string& db_path, const std::vector<se::Product>& catalog) {
  {
    auto store = cloud::storage::open_sqlite_store(db_path);
    if (!store.ok()) return store.status();
    SHOPEASY_RETURN_IF_ERROR((*store)->migrate());
    cloud::storage::StoreRegistration reg;
    reg.id = "s1";
    reg.name = "Bench store";
    reg.lat = kLat;
    reg.lon = kLon;
    reg.service_radius_m = 3000;
    reg.secret_sha256 = http::sha256_hex(kSecret);
    SHOPEASY_RETURN_IF_ERROR((*store)->upsert_store(reg));
  }
  auto db = db::Database::open(db_path);
  if (!db.ok()) return db.status();
  SHOPEASY_RETURN_IF_ERROR(db->exec("BEGIN"));
  for (const auto& p : catalog) {
    SHOPEASY_RETURN_IF_ERROR(db->run(
        "INSERT INTO catalog (sku, name, category, price_cents, unit, barcodes, active, version) "
        "VALUES (?, ?, ?, ?, 'each', '[]', 1, 1)",
        p.item.sku, p.item.name, p.item.category, p.item.price_cents));
  }
  return db->exec("COMMIT");
}

int run(const Settings& s) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  print_lifted_limits("search_bench");
  std::printf("search_bench: the store's online window is 3600 s (it syncs once)\n");
  auto dir = testing::TempDir::create("search-bench");
  if (!dir.ok()) return 2;
  const std::vector<se::Product> catalog = se::generate_catalog(s.seed, s.skus, s.noise_words);
  const std::string state = dir->file("cloud").string();
  std::filesystem::create_directories(state);
  const auto load_start = std::chrono::steady_clock::now();
  if (Status st = load_catalog(state + "/cloud.db", catalog); !st.is_ok()) {
    std::fprintf(stderr, "search_bench: loading the catalog failed: %s\n", st.to_string().c_str());
    return 2;
  }
  std::printf("search_bench: %zu SKUs (%zu made-up line words) written in %.1f s\n", catalog.size(),
              s.noise_words,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());

  auto start_cloud = [&](const std::string& state_dir) {
    std::vector<std::string> args = {
        "--http.port=0", "--state_dir=" + state_dir,
        "--auth.tokens=" + testing::tokens_json({{"bench", "customer", kCustomer}})};
    for (auto& a : lifted_daemon_limits()) args.push_back(a);
    // The store syncs once, before the phases: it must stay "online" through all three.
    args.push_back("--stores.online_window_s=3600");
    return testing::start_daemon("shopeasy-cloud", args, {}, 120s);
  };
  auto empty = start_cloud(dir->file("empty").string());
  auto cloud = start_cloud(state);
  if (!empty.ok() || !cloud.ok()) {
    std::fprintf(stderr, "search_bench: the cloud did not start: %s\n",
                 (!cloud.ok() ? cloud.status() : empty.status()).to_string().c_str());
    return 2;
  }
  const auto mem_empty = process_memory(empty->process.pid());
  const auto mem_full = process_memory(cloud->process.pid());
  const double index_mib =
      mem_empty.ok() && mem_full.ok()
          ? static_cast<double>(mem_full->vm_rss_kib - mem_empty->vm_rss_kib) / 1024.0
          : -1;
  empty = Status(StatusCode::kUnavailable, "stopped");  // only its memory was needed

  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& token) {
    auto headers = testing::bearer(token);
    headers["Content-Type"] = "application/json";
    return testing::http_request("127.0.0.1", cloud->http_port, method, path, body, headers, 300s);
  };
  const auto sync_start = std::chrono::steady_clock::now();
  // Every other SKU in stock, sent as the store's sync would.
  std::int64_t seq = 0;
  for (std::size_t from = 0; from < catalog.size(); from += 5000) {
    json batch = {{"store_id", "s1"},
                  {"first_seq", seq + 1},
                  {"changes", json::array()},
                  {"downstream_cursor", 0},
                  {"sent_at_ms", 1'800'000'000'000}};
    for (std::size_t i = from; i < std::min(catalog.size(), from + 5000); ++i) {
      json body = {{"sku", catalog[i].item.sku}, {"sku_reserved", 0}};
      body["sku_on_hand"] = i % 2 == 0 ? 10 : 0;
      json change = {{"kind", "stock.changed"}, {"body", body}};
      change["seq"] = ++seq;
      batch["changes"].push_back(std::move(change));
    }
    auto r = call("POST", "/v1/stores/s1/sync", batch.dump(), std::string("s1:") + kSecret);
    if (!r || r->status != 200) {
      std::fprintf(stderr, "search_bench: sync failed: %s\n", r ? r->body.c_str() : "no answer");
      return 2;
    }
  }

  std::printf("search_bench: stock of %zu SKUs synced in %.1f s\n", catalog.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_start).count());

  const std::string cell = *geohash::encode({kLat, kLon}, 7);
  // What customers type: the labelled queries of every class, cut where a customer
  // might still be typing (2 characters at least).
  std::vector<std::string> suggest_paths, search_paths;
  std::mt19937_64 rng(s.seed);
  for (const auto& q : se::generate_queries(s.seed + 100, catalog, 100)) {
    const std::size_t cut = 2 + rng() % std::max<std::size_t>(1, q.text.size() - 1);
    const std::string typed = q.text.substr(0, std::min(cut, q.text.size()));
    if (typed.find_first_not_of(' ') == std::string::npos) continue;
    suggest_paths.push_back("/api/suggest?q=" + percent_encode(typed) + "&geo_hash=" + cell);
    search_paths.push_back("/api/search?q=" + percent_encode(q.text) + "&geo_hash=" + cell);
  }
  const std::vector<std::string> inventory_paths = {"/api/inventory?geo_hash=" + cell +
                                                    "&limit=20"};

  std::printf("search_bench: %d requests/s from %d clients for %d s per route\n", s.rate, s.clients,
              s.seconds);
  const Phase inventory = run_paced(cloud->http_port, s, inventory_paths);
  const Phase suggest = run_paced(cloud->http_port, s, suggest_paths);
  const Phase search = run_paced(cloud->http_port, s, search_paths);

  std::printf("\n%-28s %8s %8s %9s %9s %9s\n", "route", "ok", "failed", "p50 ms", "p99 ms",
              "p99/inv");
  auto row = [&](const char* name, const Phase& p) {
    std::printf("%-28s %8llu %8llu %9.2f %9.2f %9.2f\n", name,
                static_cast<unsigned long long>(p.ok), static_cast<unsigned long long>(p.failed),
                p.latency.p50_ms, p.latency.p99_ms,
                inventory.latency.p99_ms > 0 ? p.latency.p99_ms / inventory.latency.p99_ms : 0);
    if (!p.first_error.empty()) std::printf("  first failure: %.200s\n", p.first_error.c_str());
  };
  row("/api/inventory (baseline)", inventory);
  row("/api/suggest", suggest);
  row("/api/search", search);
  std::printf("\nindex memory: %.1f MiB (daemon RSS %.1f MiB with %zu SKUs, %.1f MiB empty)\n",
              index_mib, mem_full.ok() ? mem_full->vm_rss_kib / 1024.0 : -1, catalog.size(),
              mem_empty.ok() ? mem_empty->vm_rss_kib / 1024.0 : -1);

  char buf[6][64];
  std::snprintf(buf[0], sizeof buf[0], "%.2f / %.2f ms", suggest.latency.p50_ms,
                suggest.latency.p99_ms);
  std::snprintf(buf[1], sizeof buf[1], "%.2f / %.2f ms", inventory.latency.p50_ms,
                inventory.latency.p99_ms);
  std::snprintf(
      buf[2], sizeof buf[2], "%.2f / %.2f",
      inventory.latency.p50_ms > 0 ? suggest.latency.p50_ms / inventory.latency.p50_ms : 0,
      inventory.latency.p99_ms > 0 ? suggest.latency.p99_ms / inventory.latency.p99_ms : 0);
  std::snprintf(buf[3], sizeof buf[3], "%.2f / %.2f ms", search.latency.p50_ms,
                search.latency.p99_ms);
  std::snprintf(
      buf[4], sizeof buf[4], "%.2f / %.2f",
      inventory.latency.p50_ms > 0 ? search.latency.p50_ms / inventory.latency.p50_ms : 0,
      inventory.latency.p99_ms > 0 ? search.latency.p99_ms / inventory.latency.p99_ms : 0);
  std::snprintf(buf[5], sizeof buf[5], "%.1f MiB", index_mib);
  const std::string load = std::to_string(s.rate) + "/s, " + std::to_string(s.clients) + " clients";
  record_result("search", "suggest p50/p99 at " + load, buf[0], buf[1] + std::string(" inventory"),
                buf[2], "-", suggest.failed == 0 ? "measured" : "FAILED requests");
  record_result("search", "search p50/p99 at " + load, buf[3], buf[1] + std::string(" inventory"),
                buf[4], "-", search.failed == 0 ? "measured" : "FAILED requests");
  record_result("search", "index memory, " + std::to_string(catalog.size()) + " SKUs", buf[5], "-",
                "-", "<= 100 MiB", index_mib >= 0 && index_mib <= 100 ? "met" : "MISSED");
  const bool failed = inventory.failed + suggest.failed + search.failed > 0;
  return failed ? 2 : 0;
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
      s.skus = std::strtoul(v, nullptr, 10);
    } else if (const char* v2 = value("rate")) {
      s.rate = std::atoi(v2);
    } else if (const char* v3 = value("clients")) {
      s.clients = std::atoi(v3);
    } else if (const char* v4 = value("seconds")) {
      s.seconds = std::atoi(v4);
    } else if (const char* v5 = value("seed")) {
      s.seed = std::strtoull(v5, nullptr, 10);
    } else if (const char* v6 = value("noise-words")) {
      s.noise_words = std::strtoul(v6, nullptr, 10);
    } else {
      std::fprintf(stderr, "search_bench: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (s.skus == 0 || s.rate <= 0 || s.clients <= 0 || s.seconds <= 0) {
    std::fprintf(stderr,
                 "search_bench: --skus, --rate, --clients and --seconds must be positive\n");
    return 2;
  }
  return shopeasy::bench::run(s);
}
