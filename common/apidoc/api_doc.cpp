#include "common/apidoc/api_doc.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace shopeasy::apidoc {

namespace {
const http::StaticAssets& assets() {
  static const http::StaticAssets kAssets(embedded_files());
  return kAssets;
}
}  // namespace

const http::EmbeddedFile* find_document(std::string_view file) { return assets().find(file); }

void register_openapi_route(http::HttpServer& server, std::string_view file) {
  if (find_document(file) == nullptr) {
    std::fprintf(stderr, "api document %.*s is not embedded\n", static_cast<int>(file.size()),
                 file.data());
    std::abort();
  }
  // Escaped: an unescaped "." would also take "/openapiXjson".
  server.route("GET", R"(/openapi\.json)", http::Access::public_route(),
               [name = std::string(file)](const http::Request& request) {
                 return assets().serve(request, name);
               });
}

}  // namespace shopeasy::apidoc
