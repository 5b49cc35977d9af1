// The cloud's operations page (web/cloud), compiled into shopeasy-cloud: every store
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

}  // namespace shopeasy::cloud::webui
