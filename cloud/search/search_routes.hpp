// The search API:
//   customer apps (customer, admin): GET /api/search?q=&geo_hash=[&cursor=&limit=
//     &category=&brand=], GET /api/suggest?q=&geo_hash=[&limit=]: products of the store
//     that delivers to the geohash (the one /api/inventory chooses), in the shape of
//     /api/inventory
//   operators (admin): GET/PUT /v1/search/synonyms
#pragma once

#include <cstdint>

#include "cloud/routing/store_index.hpp"
#include "cloud/search/search_service.hpp"
#include "common/clock/clock.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"

namespace shopeasy::cloud::search {

class SearchRoutes {
 public:
  SearchRoutes(SearchService& service, routing::StoreIndex& index, const Clock& clock,
               std::int64_t online_window_ms, log::Logger logger);
  void register_routes(http::HttpServer& server);

 private:
  http::Response search(const http::Request& req, bool suggest);
  http::Response get_synonyms(const http::Request& req);
  http::Response put_synonyms(const http::Request& req);

  SearchService& service_;
  routing::StoreIndex& index_;
  const Clock& clock_;
  std::int64_t online_window_ms_;
  log::Logger logger_;
};

}  // namespace shopeasy::cloud::search
