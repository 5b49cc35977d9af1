#include "cloud/webui/ops_page.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/harness/http_probe.hpp"

namespace shopeasy::cloud::webui {
namespace {

TEST(OpsPageTest, PageAndItsFilesAreServedPublicly) {
  log::Logger logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "http");
  metrics::Registry metrics;
  http::HttpServer server(http::ServerOptions{}, nullptr, logger, metrics);
  register_ops_page(server);
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  auto page = testing::http_request_checked("127.0.0.1", *port, "GET", "/ops");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("/ops/ops.js"), std::string::npos);
  for (const char* file : {"/ops/ops.js", "/ops/ops.css", "/ops/fleet.js", "/ops/util.js"}) {
    auto r = testing::http_request_checked("127.0.0.1", *port, "GET", file);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << file;
  }
  auto missing = testing::http_request_checked("127.0.0.1", *port, "GET", "/ops/../v1/stores");
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->status, 200);
  server.stop();
}

TEST(ShopPageTest, CustomerAppAndItsFilesAreServedPublicly) {
  log::Logger logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "http");
  metrics::Registry metrics;
  http::HttpServer server(http::ServerOptions{}, nullptr, logger, metrics);
  register_shop_page(server);
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  auto page = testing::http_request_checked("127.0.0.1", *port, "GET", "/shop");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->headers["content-type"], "text/html; charset=utf-8");
  // Nothing may come from another origin: the policy allows only the page's own.
  EXPECT_NE(page->headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_NE(page->body.find("/shop/app.js"), std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
  for (const char* file : {"/shop/app.js", "/shop/api.js", "/shop/shop.css",
                           "/shop/manifest.webmanifest", "/shop/icon.svg"}) {
    auto r = testing::http_request_checked("127.0.0.1", *port, "GET", file);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << file;
  }
  auto missing = testing::http_request_checked("127.0.0.1", *port, "GET", "/shop/../v1/stores");
  ASSERT_TRUE(missing.ok());
  EXPECT_NE(missing->status, 200);
  server.stop();
}

// The service worker: a script whose scope may be /shop (the page itself), revalidated on
// every update check, naming the build's cache; every file it pre-caches is served.
TEST(ShopPageTest, ServiceWorkerIsServedForTheShopScopeAndNamesTheBuild) {
  log::Logger logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "http");
  metrics::Registry metrics;
  http::HttpServer server(http::ServerOptions{}, nullptr, logger, metrics);
  register_shop_page(server);
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  auto worker = testing::http_request_checked("127.0.0.1", *port, "GET", "/shop/sw.js");
  ASSERT_TRUE(worker.ok());
  ASSERT_EQ(worker->status, 200);
  EXPECT_EQ(worker->headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(worker->headers["cache-control"], "no-cache");
  EXPECT_EQ(worker->headers["service-worker-allowed"], "/shop");
  // The build's version is written in; no placeholder is left.
  const std::string& version = shop::shell_version();
  ASSERT_EQ(version.size(), 16u);
  EXPECT_NE(worker->body.find("const VERSION = '" + version + "'"), std::string::npos);
  EXPECT_EQ(worker->body.find("@SHELL_VERSION@"), std::string::npos);
  EXPECT_EQ(worker->headers["etag"], "\"" + version + "\"");
  auto again = testing::http_request_checked("127.0.0.1", *port, "GET", "/shop/sw.js", "",
                                             {{"If-None-Match", "\"" + version + "\""}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 304);
  EXPECT_EQ(again->headers["service-worker-allowed"], "/shop");
  // Other files do not widen a worker's scope.
  auto app = testing::http_request_checked("127.0.0.1", *port, "GET", "/shop/app.js");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->headers.count("service-worker-allowed"), 0u);
  EXPECT_NE(app->body.find("register('/shop/sw.js', { scope: '/shop' })"), std::string::npos);

  // Every shell file the worker pre-caches exists (one missing would fail its install).
  const std::size_t open = worker->body.find("const SHELL = [");
  ASSERT_NE(open, std::string::npos);
  const std::string list = worker->body.substr(open, worker->body.find("];", open) - open);
  std::size_t listed = 0;
  for (std::size_t at = list.find('\''); at != std::string::npos; at = list.find('\'', at)) {
    const std::size_t end = list.find('\'', at + 1);
    const std::string path = list.substr(at + 1, end - at - 1);
    at = end + 1;
    auto r = testing::http_request_checked("127.0.0.1", *port, "GET", path);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << path;
    ++listed;
  }
  EXPECT_EQ(listed, 9u);
  // ...and every file of the app is pre-cached (a module added to web/shop and left out
  // would break the app offline), except the worker itself.
  for (const http::EmbeddedFile& f : shop::embedded_files()) {
    const std::string path = f.path;
    if (path == shop::kWorkerFile) continue;
    const std::string url = path == "index.html" ? "/shop" : "/shop/" + path;
    EXPECT_NE(list.find("'" + url + "'"), std::string::npos) << url << " is not pre-cached";
  }

  // What Chromium needs to offer installing the app.
  auto manifest =
      testing::http_request_checked("127.0.0.1", *port, "GET", "/shop/manifest.webmanifest");
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->headers["content-type"], "application/manifest+json");
  const nlohmann::json m = nlohmann::json::parse(manifest->body, nullptr, false);
  ASSERT_TRUE(m.is_object()) << manifest->body;
  EXPECT_EQ(m.value("name", ""), "ShopEasy");
  EXPECT_EQ(m.value("start_url", ""), "/shop");
  EXPECT_EQ(m.value("scope", ""), "/shop");
  EXPECT_EQ(m.value("display", ""), "standalone");
  EXPECT_FALSE(m.value("theme_color", "").empty());
  ASSERT_TRUE(m["icons"].is_array());
  bool scalable = false;
  for (const auto& icon : m["icons"]) {
    scalable |= icon.value("sizes", "") == "any" && icon.value("type", "") == "image/svg+xml";
  }
  EXPECT_TRUE(scalable) << m["icons"].dump();
  server.stop();
}

}  // namespace
}  // namespace shopeasy::cloud::webui
