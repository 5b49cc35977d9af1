#include "cloud/webui/ops_page.hpp"

#include <string>
#include <vector>

#include "common/http/auth.hpp"

namespace shopeasy::cloud::webui {

void register_ops_page(http::HttpServer& server) {
  static const http::StaticAssets kAssets(embedded_files());
  kAssets.register_routes(server, "/ops", "index.html", "/ops/");
}

namespace shop {

// The files as served: sw.js with its placeholder replaced by shell_version(), so the
// worker's bytes (which the browser compares to decide on an update) change with any
// file of the app, and its cache is named after the build that filled it. Built in place
// once: `files` points into `worker` and `version`.
class ServedFiles {
 public:
  ServedFiles() {
    std::string names;
    for (const http::EmbeddedFile& f : embedded_files()) {
      names += std::string(f.path) + '\0' + f.etag + '\n';
    }
    version = http::sha256_hex(names).substr(0, 16);
    for (const http::EmbeddedFile& f : embedded_files()) {
      if (std::string_view(f.path) != kWorkerFile) {
        files.push_back(f);
        continue;
      }
      worker.assign(reinterpret_cast<const char*>(f.data), f.size);
      constexpr std::string_view kPlaceholder = "@SHELL_VERSION@";
      for (std::size_t at = worker.find(kPlaceholder); at != std::string::npos;
           at = worker.find(kPlaceholder, at)) {
        worker.replace(at, kPlaceholder.size(), version);
      }
      files.push_back({f.path, reinterpret_cast<const unsigned char*>(worker.data()), worker.size(),
                       version.c_str()});
    }
  }
  ServedFiles(const ServedFiles&) = delete;
  ServedFiles& operator=(const ServedFiles&) = delete;

  std::string version;
  std::string worker;
  std::vector<http::EmbeddedFile> files;
};

const ServedFiles& served_files() {
  static const ServedFiles kServed;
  return kServed;
}

const std::string& shell_version() { return served_files().version; }

}  // namespace shop

void register_shop_page(http::HttpServer& server) {
  // The worker lives at /shop/sw.js, whose default scope (/shop/) would leave out the page
  // itself at /shop; the header allows the scope /shop the page registers it with.
  static const http::StaticAssets kAssets(shop::served_files().files,
                                          {{shop::kWorkerFile, "Service-Worker-Allowed", "/shop"}});
  kAssets.register_routes(server, "/shop", "index.html", "/shop/");
}

}  // namespace shopeasy::cloud::webui
