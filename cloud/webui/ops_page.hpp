// The cloud's pages, compiled into shopeasy-cloud. The operations page (web/cloud): every store
// on a map coloured by state and in a table with sync lag, open orders and availability.
// The page itself is public and holds no data; an operator signs in on it (POST
// /v1/session, see cloud/api/operator_sessions.hpp) and it reads GET /v1/stores.
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
