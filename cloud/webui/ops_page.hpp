// The cloud's pages, compiled into shopeasy-cloud. The operations page (web/cloud): every store
// on a map coloured by state and in a table with sync lag, open orders and availability.
// The page itself is public and holds no data; an operator signs in on it (POST
// /v1/session, see cloud/api/operator_sessions.hpp) and it reads GET /v1/stores.
#pragma once

#include <span>
#include <string>

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
// The app's service worker, served with "@SHELL_VERSION@" replaced by shell_version().
inline constexpr const char* kWorkerFile = "sw.js";
// The first 16 hex digits of a SHA-256 over every file's name and ETag: changes with any
// file of the app, so each build's worker keeps a cache of its own.
const std::string& shell_version();
}  // namespace shop

// GET /shop (the customer app, public like the ops page: it holds no data and signs the
// customer in with a phone code) and GET /shop/<file>. /shop/sw.js, the service worker,
// carries Service-Worker-Allowed: /shop so that its scope covers the page at /shop;
// like every file it is served with Cache-Control: no-cache and an ETag (its version), so
// the browser's update check always asks the server.
void register_shop_page(http::HttpServer& server);

}  // namespace shopeasy::cloud::webui
