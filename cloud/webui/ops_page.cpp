#include "cloud/webui/ops_page.hpp"

namespace shopeasy::cloud::webui {

void register_ops_page(http::HttpServer& server) {
  static const http::StaticAssets kAssets(embedded_files());
  kAssets.register_routes(server, "/ops", "index.html", "/ops/");
}

void register_shop_page(http::HttpServer& server) {
  static const http::StaticAssets kAssets(shop::embedded_files());
  kAssets.register_routes(server, "/shop", "index.html", "/shop/");
}

}  // namespace shopeasy::cloud::webui
