// The cloud's HTTP API:
//   stores (role store, own id only): POST /v1/stores/{id}/sync
//   operators (admin): PUT/GET /v1/stores/{id}, GET /v1/stores, PUT /v1/catalog/{sku},
//     GET /v1/stores/{id}/sync-status, /replica and /quarantine (also the store itself)
//   customer apps (customer, admin): GET /api/stores?geo_hash=, GET /api/inventory?geo_hash=
#pragma once

#include <functional>

#include "cloud/api/catalog_page_cache.hpp"
#include "cloud/routing/store_index.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"

namespace shopeasy::cloud::api {

struct CloudRouteOptions {
  std::int64_t online_window_ms = 30000;  // a store heard from within this is online
  int downstream_page = 1000;             // downstream items per sync reply
};

// The routing index's view of a stored store.
routing::IndexedStore indexed_store(const storage::StoreRecord& record);

class CloudRoutes {
 public:
  // A registration saved here is placed in `index` at once; other instances' changes
  // reach it through the daemon's periodic reconcile.
  CloudRoutes(storage::CloudStore& store, routing::StoreIndex& index, const Clock& clock,
              CloudRouteOptions options, log::Logger logger, metrics::Registry& metrics);
  void register_routes(http::HttpServer& server);
  // Called with each catalog item written through PUT /v1/catalog/{sku}, after the
  // write and before the reply (the search index applies it there).
  void set_catalog_listener(std::function<void(const storage::CatalogItem&)> listener) {
    catalog_listener_ = std::move(listener);
  }

 private:
  http::Response sync(const http::Request& req);
  http::Response put_store(const http::Request& req);
  http::Response sync_status(const http::Request& req);
  http::Response replica(const http::Request& req);
  // GET /v1/stores/{id}/purchase-orders?status=&limit=: the store's purchase orders as
  // its outbox last reported them.
  http::Response purchase_orders(const http::Request& req);
  http::Response quarantine(const http::Request& req);
  http::Response list_stores(const http::Request& req);
  http::Response put_catalog_item(const http::Request& req);
  http::Response serving_stores(const http::Request& req);
  http::Response inventory(const http::Request& req);
  http::Response served_area(const http::Request& req);
  // Buckets where the store's checksums differ from the replica's; empty when they
  // agree or are not comparable yet.
  StatusOr<std::vector<int>> reconcile(const std::string& store_id, const nlohmann::json& request,
                                       std::int64_t acked_seq);
  nlohmann::json store_summary(const storage::StoreRecord& s, std::int64_t now_ms) const;

  storage::CloudStore& store_;
  routing::StoreIndex& index_;
  std::function<void(const storage::CatalogItem&)> catalog_listener_;
  const Clock& clock_;
  CloudRouteOptions options_;
  log::Logger logger_;
  metrics::Counter& applied_;
  metrics::Counter& duplicates_;
  metrics::CounterFamily& refused_;
  metrics::Histogram& batch_seconds_;
  metrics::Counter& reconcile_checks_;
  metrics::Counter& reconcile_mismatches_;
  metrics::Counter& quarantined_;
  metrics::CounterFamily& resyncs_;
  metrics::CounterFamily& realigned_;
  metrics::Counter& pruned_;
  // Rendered customer catalog pages, kept for a moment (see catalog_page_cache.hpp).
  CatalogPageCache pages_;
};

}  // namespace shopeasy::cloud::api
