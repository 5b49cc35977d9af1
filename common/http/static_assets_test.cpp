#include "common/http/static_assets.hpp"

#include <gtest/gtest.h>

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

TEST(StaticAssetsTest, OnlyEmbeddedNamesAreFound) {
  StaticAssets assets(kFiles);
  for (const char* path : {"", "missing.js", "../index.html", "js/../index.html", "/index.html",
                           "js%2Fapp.js", "INDEX.HTML"}) {
    auto r = assets.serve(get(), path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_NE(r.body.find("\"not_found\""), std::string::npos) << r.body;
  }
}

}  // namespace
}  // namespace shopeasy::http
