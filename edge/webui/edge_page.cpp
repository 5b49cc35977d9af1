#include "edge/webui/edge_page.hpp"

namespace shopeasy::edge::webui {

void register_page_routes(http::HttpServer& server, StoreInfo store) {
  static const http::StaticAssets kAssets(embedded_files());
  kAssets.register_routes(server, "/", "index.html", "/ui/");
  const nlohmann::json info = {
      {"id", store.id}, {"name", store.name}, {"lat", store.lat}, {"lon", store.lon}};
  server.route("GET", "/api/store",
               http::Access::roles_of({"viewer", "picker", "manager", "admin"}),
               [info](const http::Request&) { return http::Response::json(200, info); });
}

}  // namespace shopeasy::edge::webui
