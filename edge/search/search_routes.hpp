// GET /api/search?q=&limit=: the store's products matching every word of q (typos and
// Hinglish spellings allowed, as in the customers' search), in stock first, with what
// the store holds of each (staff readers). See product_search.hpp.
#pragma once

#include "common/http/server.hpp"
#include "edge/search/product_search.hpp"

namespace shopeasy::edge::search {

// `search` must outlive the server.
void register_search_routes(http::HttpServer& server, ProductSearch& search);

}  // namespace shopeasy::edge::search
