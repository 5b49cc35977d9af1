// The cloud's pages, compiled into shopeasy-cloud. The operations page (web/cloud): every store
// with online state, sync lag, open orders and availability. The page itself is public
// and holds no data; it reads GET /v1/stores with an admin token typed into it.
#pragma once

#include <span>

#include "common/http/server.hpp"
#include "common/http/static_assets.hpp"

namespace shopeasy::cloud::webui {

// Every file of web/cloud.
std::span<const http::EmbeddedFile> embedded_files();

// GET /ops (the page) and GET /ops/<file>.
void register_ops_page(http::HttpServer& server);

namespace shop {
// Every file of web/shop.
std::span<const http::EmbeddedFile> embedded_files();
}  // namespace shop

// GET /shop (the customer app, public like the ops page: it holds no data and signs the
// customer in with a phone code) and GET /shop/<file>.
void register_shop_page(http::HttpServer& server);

}  // namespace shopeasy::cloud::webui
