#include "edge/webui/edge_page.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "common/http/static_assets.hpp"
#include "tests/harness/http_probe.hpp"

namespace shopeasy::edge::webui {
namespace {

using http::EmbeddedFile;
using http::StaticAssets;

// Every script, style and module the page refers to must be in the build: a missing
// one would show a blank page in the store with no way to fetch it.
TEST(EdgePageTest, EveryReferencedFileIsEmbedded) {
  StaticAssets assets(embedded_files());
  const EmbeddedFile* index = assets.find("index.html");
  ASSERT_NE(index, nullptr);
  std::set<std::string> wanted;
  const std::string html(reinterpret_cast<const char*>(index->data), index->size);
  const std::regex ui_ref(R"re((?:src|href)="/ui/([^"]+)")re");
  for (std::sregex_iterator it(html.begin(), html.end(), ui_ref), end; it != end; ++it) {
    wanted.insert((*it)[1]);
  }
  EXPECT_FALSE(wanted.empty());
  const std::regex import_ref(R"re((?:from|import)\s*\(?\s*'\./([^']+)')re");
  for (const auto& f : assets.embedded()) {
    const std::string path = f.path;
    if (path.size() < 3 || path.substr(path.size() - 3) != ".js") continue;
    const std::string dir =
        path.find('/') == std::string::npos ? std::string() : path.substr(0, path.rfind('/') + 1);
    const std::string text(reinterpret_cast<const char*>(f.data), f.size);
    for (std::sregex_iterator it(text.begin(), text.end(), import_ref), end; it != end; ++it) {
      wanted.insert(dir + std::string((*it)[1]));
    }
  }
  for (const auto& w : wanted) EXPECT_NE(assets.find(w), nullptr) << w << " is referenced";
}

TEST(EdgePageTest, ServedPubliclyAtTheRootAndUnderUi) {
  log::Logger logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "http");
  metrics::Registry metrics;
  http::HttpServer server(http::ServerOptions{}, nullptr, logger, metrics);
  register_page_routes(server, {"s1", "Store", 12.9, 77.6});
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  auto root = testing::http_request_checked("127.0.0.1", *port, "GET", "/");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<!doctype html>"), std::string::npos);
  const std::string etag = root->headers["etag"];
  ASSERT_FALSE(etag.empty());
  auto cached =
      testing::http_request_checked("127.0.0.1", *port, "GET", "/", {}, {{"If-None-Match", etag}});
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->status, 304);
  auto js = testing::http_request_checked("127.0.0.1", *port, "GET", "/ui/app.js");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->headers["content-type"], "text/javascript; charset=utf-8");
  auto missing = testing::http_request_checked("127.0.0.1", *port, "GET", "/ui/nope.js");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  server.stop();
}

}  // namespace
}  // namespace shopeasy::edge::webui
