// The edge's command center page (web/edge), compiled into shopeasy-edge, and the one
// small data route only the page needs: which store this is and where.
#pragma once

#include <span>
#include <string>

#include "common/http/server.hpp"
#include "common/http/static_assets.hpp"

namespace shopeasy::edge::webui {

// Every file of web/edge.
std::span<const http::EmbeddedFile> embedded_files();

struct StoreInfo {
  std::string id;
  std::string name;
  double lat = 0;
  double lon = 0;
};

// GET / (the page) and GET /ui/<file>, both public: the page holds no data. GET
// /api/store ({"id","name","lat","lon"}: the centre of the runner map) needs a staff
// role like every other data route.
void register_page_routes(http::HttpServer& server, StoreInfo store);

}  // namespace shopeasy::edge::webui
