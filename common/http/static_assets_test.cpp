#include "common/http/static_assets.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <memory>

#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
namespace shopeasy::http {
namespace {

const unsigned char kHello[] = "<h1>hi</h1>";
const EmbeddedFile kFiles[] = {{"index.html", kHello, sizeof kHello - 1, "0123456789abcdef"},
                               {"js/app.js", kHello, 0, "fedcba9876543210"}};

Request get(std::string if_none_match = {}) {
  Request r;
  r.method = "GET";
  if (!if_none_match.empty()) r.headers["If-None-Match"] = if_none_match;
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST(StaticAssetsTest, ContentTypesByExtension) {
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("a/b.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("s.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("i.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("noext"), "application/octet-stream");
  EXPECT_EQ(content_type_for("x.js.bak"), "application/octet-stream");
}

TEST(StaticAssetsTest, ServesWithETagAndRevalidates) {
  StaticAssets assets(kFiles);
  auto r = assets.serve(get(), "index.html");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>hi</h1>");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(r, "ETag"), "\"0123456789abcdef\"");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_NE(header(r, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);

  auto again = assets.serve(get("\"0123456789abcdef\""), "index.html");
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(assets.serve(get("W/\"x\", W/\"0123456789abcdef\""), "index.html").status, 304);
  EXPECT_EQ(assets.serve(get("\"stale\""), "index.html").status, 200);

  auto empty = assets.serve(get(), "js/app.js");
  EXPECT_EQ(empty.status, 200);
  EXPECT_TRUE(empty.body.empty());
  EXPECT_TRUE(header(empty, "Content-Security-Policy").empty());
}

TEST(StaticAssetsTest, AFileCarriesItsOwnExtraHeadersOnly) {
  StaticAssets assets(kFiles, {{"js/app.js", "Service-Worker-Allowed", "/"}});
  const Response worker = assets.serve(get(), "js/app.js");
  EXPECT_EQ(header(worker, "Service-Worker-Allowed"), "/");
  EXPECT_EQ(header(worker, "Cache-Control"), "no-cache");
  // A revalidation answers with the same headers.
  EXPECT_EQ(
      header(assets.serve(get("\"fedcba9876543210\""), "js/app.js"), "Service-Worker-Allowed"),
      "/");
  EXPECT_TRUE(header(assets.serve(get(), "index.html"), "Service-Worker-Allowed").empty());
}

TEST(StaticAssetsTest, OnlyEmbeddedNamesAreFound) {
  StaticAssets assets(kFiles);
  for (const char* path : {"", "missing.js", "../index.html", "js/../index.html", "/index.html",
                           "js%2Fapp.js", "INDEX.HTML"}) {
    auto r = assets.serve(get(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("\"not_found\""), std::string::npos) << r.body;
  }
}

// The routes are public GETs; the prefix is taken literally (its '.' matches only a dot)
// and a file name outside the allowed characters never reaches find().
TEST(StaticAssetsTest, RegisteredRoutesServeTheIndexAndFilesUnderThePrefix) {
  StaticAssets assets(kFiles);
  metrics::Registry metrics;
  HttpServer server(ServerOptions{}, nullptr,
                    log::Logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "http"),
                    metrics);
  assets.register_routes(server, "/app.v1", "index.html", "/app.v1/");
  auto port = server.start();
  ASSERT_TRUE(port.ok()) << port.status().to_string();
  httplib::Client client("127.0.0.1", *port);

  auto index = client.Get("/app.v1");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body, "<h1>hi</h1>");
  EXPECT_EQ(index->get_header_value("ETag"), "\"0123456789abcdef\"");
  auto cached = client.Get("/app.v1", {{"If-None-Match", "\"0123456789abcdef\""}});
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  auto js = client.Get("/app.v1/js/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");

  for (const char* path : {"/appXv1", "/appXv1/index.html", "/app.v1/missing.js",
                           "/app.v1/a%20b.js", "/app.v1/../secret"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
  server.stop();
}

}  // namespace
}  // namespace shopeasy::http
