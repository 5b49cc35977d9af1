#include "cloud/webui/ops_page.hpp"

#include <gtest/gtest.h>

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
  for (const char* file : {"/ops/ops.js", "/ops/ops.css"}) {
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

}  // namespace
}  // namespace shopeasy::cloud::webui
