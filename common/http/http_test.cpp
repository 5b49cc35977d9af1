#include <gtest/gtest.h>
#include <httplib.h>

#include "common/http/auth.hpp"
#include "common/http/client.hpp"
#include "common/http/server.hpp"

namespace shopeasy::http {
namespace {

nlohmann::json token_table() {
  return nlohmann::json::array(
      {{{"name", "ops"}, {"role", "admin"}, {"sha256", sha256_hex("admin-secret")}},
       {{"name", "picker-1"}, {"role", "picker"}, {"sha256", sha256_hex("picker-secret")}}});
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto auth = TokenAuthenticator::from_json(token_table(), {"admin", "picker", "viewer"});
    ASSERT_TRUE(auth.ok()) << auth.status().to_string();
    auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
    ServerOptions opts;
    opts.max_body_bytes = 1024;
    opts.max_streams = 1;
    server_ = std::make_unique<HttpServer>(opts, auth_.get(),
                                           log::Logger(sink_, log::Level::kInfo, "test"), metrics_);
    server_->route("GET", "/health", Access::public_route(), [](const Request&) {
      return Response::json(200, {{"status", "ok"}});
    });
    server_->route("GET", "/api/items/([a-z0-9-]+)", Access::authenticated(), [](const Request& r) {
      return Response::json(200, {{"sku", r.params.at(0)}, {"who", r.principal.subject}});
    });
    server_->route(
        "POST", "/api/admin", Access::roles_of({"admin"}),
        [](const Request& r) {
          if (!r.is_json()) {
            return Response::error(Status(StatusCode::kUnsupportedMediaType, "expected JSON"));
          }
          return Response::json(201, {{"bytes", r.body.size()}});
        },
        BodyOptions{.accept_gzip = true});
    server_->route("GET", "/boom", Access::public_route(),
                   [](const Request&) -> Response { throw std::runtime_error("bug"); });
    server_->route("GET", "/stream", Access::public_route(), [](const Request&) {
      Response r;
      r.content_type = "text/event-stream";
      auto count = std::make_shared<int>(0);
      r.stream = [count](StreamWriter& w) {
        if (*count == 3) return false;
        return w.write("data: " + std::to_string((*count)++) + "\n\n");
      };
      return r;
    });
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.status().to_string();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", *port);
  }

  httplib::Headers bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  std::shared_ptr<log::MemorySink> sink_ = std::make_shared<log::MemorySink>();
  metrics::Registry metrics_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

nlohmann::json error_of(const httplib::Result& res) {
  return nlohmann::json::parse(res->body).at("error");
}

TEST_F(HttpServerTest, HealthIsPublic) {
  auto res = client_->Get("/health");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(nlohmann::json::parse(res->body)["status"], "ok");
}

TEST_F(HttpServerTest, MissingAndWrongTokensAre401WithErrorShape) {
  auto none = client_->Get("/api/items/sku-1");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(error_of(none)["code"], "unauthenticated");
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer realm=\"shopeasy\"");
  auto wrong = client_->Get("/api/items/sku-1", bearer("guess"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
}

TEST_F(HttpServerTest, RouteParamsAndPrincipalReachTheHandler) {
  auto res = client_->Get("/api/items/sku-42", bearer("picker-secret"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto body = nlohmann::json::parse(res->body);
  EXPECT_EQ(body["sku"], "sku-42");
  EXPECT_EQ(body["who"], "picker-1");
}

TEST_F(HttpServerTest, RoleIsCheckedPerRoute) {
  auto res = client_->Post("/api/admin", bearer("picker-secret"), "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_EQ(error_of(res)["code"], "permission_denied");
  auto ok = client_->Post("/api/admin", bearer("admin-secret"), "{}", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201);
}

TEST_F(HttpServerTest, WrongContentTypeIs415) {
  auto res = client_->Post("/api/admin", bearer("admin-secret"), "x=1", "text/plain");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 415);
}

TEST_F(HttpServerTest, OversizedBodyIs413WithErrorShape) {
  auto res = client_->Post("/api/admin", bearer("admin-secret"), std::string(4096, 'x'),
                           "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(error_of(res)["code"], "payload_too_large");
}

TEST_F(HttpServerTest, UnknownRouteIs404WithErrorShape) {
  auto res = client_->Get("/nope");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(error_of(res)["code"], "not_found");
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndLogged) {
  auto res = client_->Get("/boom");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(error_of(res)["code"], "internal");
  EXPECT_TRUE(sink_->contains({"event=handler_exception", "what=bug"}));
}

TEST_F(HttpServerTest, StreamsChunksUntilProducerEnds) {
  auto res = client_->Get("/stream");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(HttpServerTest, RequestsAreCountedPerRouteAndCode) {
  ASSERT_TRUE(client_->Get("/health"));
  ASSERT_TRUE(client_->Get("/api/items/x"));
  const std::string text = metrics_.render();
  EXPECT_NE(text.find(R"(http_requests_total{code="200",method="GET",route="/health"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("code=\"401\""), std::string::npos);
}

// The per-route counters are found once and reused: repeated calls add up on the same
// child, a HEAD on a GET route keeps its own method label, and latency is observed per
// route.
TEST_F(HttpServerTest, RepeatedRequestsAddUpPerMethodAndCode) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_->Get("/health"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client_->Get("/api/items/x", bearer("admin-secret")));
  ASSERT_TRUE(client_->Head("/health"));
  ASSERT_TRUE(client_->Post("/api/admin", bearer("admin-secret"), "{}", "application/json"));
  ASSERT_TRUE(client_->Post("/api/admin", bearer("admin-secret"), "x", "text/plain"));
  const std::string text = metrics_.render();
  for (const char* line :
       {R"(http_requests_total{code="200",method="GET",route="/health"} 5)",
        R"(http_requests_total{code="200",method="HEAD",route="/health"} 1)",
        R"x(http_requests_total{code="200",method="GET",route="/api/items/([a-z0-9-]+)"} 3)x",
        R"(http_requests_total{code="201",method="POST",route="/api/admin"} 1)",
        R"(http_requests_total{code="415",method="POST",route="/api/admin"} 1)",
        R"(http_request_duration_seconds_count{route="/health"} 6)"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(HttpServerRoutesTest, ListsRegisteredRoutesInOrderWithTheirAccess) {
  metrics::Registry metrics;
  HttpServer server(ServerOptions{}, nullptr, log::Logger(), metrics);
  EXPECT_TRUE(server.routes().empty());
  const Handler ok = [](const Request&) { return Response::json(200, nlohmann::json::object()); };
  server.route("GET", "/health", Access::public_identified(), ok);
  server.route("POST", "/api/things/([a-z]+)", Access::roles_of({"admin", "manager"}), ok);
  server.route("DELETE", "/api/session", Access::authenticated(), ok);
  const std::vector<RouteInfo> routes = server.routes();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].method, "GET");
  EXPECT_EQ(routes[0].pattern, "/health");
  EXPECT_TRUE(routes[0].access.is_public);
  EXPECT_TRUE(routes[0].access.identify);
  EXPECT_EQ(routes[1].method, "POST");
  EXPECT_EQ(routes[1].pattern, "/api/things/([a-z]+)");
  EXPECT_EQ(routes[1].access.roles, (std::vector<std::string>{"admin", "manager"}));
  EXPECT_EQ(routes[2].method, "DELETE");
  EXPECT_FALSE(routes[2].access.is_public);
  EXPECT_TRUE(routes[2].access.roles.empty());
}

TEST(HttpServerBindTest, PortInUseIsUnavailable) {
  metrics::Registry m1, m2;
  HttpServer a(ServerOptions{}, nullptr, log::Logger(), m1);
  auto port = a.start();
  ASSERT_TRUE(port.ok());
  ServerOptions same;
  same.port = *port;
  HttpServer b(same, nullptr,
               log::Logger(std::make_shared<log::MemorySink>(), log::Level::kInfo, "t"), m2);
  auto second = b.start();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
}

TEST(TokenTableTest, RejectsBadEntriesNamingThem) {
  auto bad_role = TokenAuthenticator::from_json(
      nlohmann::json::array({{{"name", "a"}, {"role", "root"}, {"sha256", sha256_hex("x")}}}),
      {"admin"});
  ASSERT_FALSE(bad_role.ok());
  EXPECT_EQ(bad_role.status().field(), "[0].role");
  auto bad_hash = TokenAuthenticator::from_json(
      nlohmann::json::array({{{"name", "a"}, {"role", "admin"}, {"sha256", "abc"}}}), {"admin"});
  ASSERT_FALSE(bad_hash.ok());
  EXPECT_EQ(bad_hash.status().field(), "[0].sha256");
  auto dup = TokenAuthenticator::from_json(
      nlohmann::json::array({{{"name", "a"}, {"role", "admin"}, {"sha256", sha256_hex("x")}},
                             {{"name", "a"}, {"role", "admin"}, {"sha256", sha256_hex("y")}}}),
      {"admin"});
  ASSERT_FALSE(dup.ok());
  EXPECT_FALSE(TokenAuthenticator::from_json(nlohmann::json::object(), {"admin"}).ok());
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(HttpServerTest, ClientPostsCompressedBodiesAndReportsStatuses) {
  auto client =
      HttpClient::create("http://127.0.0.1:" + std::to_string(server_->port()),
                         ClientOptions{.compress_requests = true, .bearer_token = "admin-secret"});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  const std::string body = "{\"pad\":\"" + std::string(600, 'x') + "\"}";
  auto r = (*client)->post("/api/admin", body, "application/json");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 201) << r->body;
  // The server saw the decompressed body.
  EXPECT_EQ(nlohmann::json::parse(r->body)["bytes"], body.size());
  EXPECT_LT((*client)->last_request_body_bytes(), body.size() / 4);
  auto missing = (*client)->get("/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST(HttpClientTest, AnswersPastTheCapAreRefusedEvenWhenCompressed) {
  metrics::Registry metrics;
  HttpServer server(ServerOptions{}, nullptr, log::Logger(), metrics);
  // 8 MiB of one letter: the server compresses it for a client that accepts gzip.
  server.route("GET", "/big", Access::public_route(), [](const Request&) {
    return Response::text(200, std::string(8u << 20, 'a'), "text/plain");
  });
  auto port = server.start();
  ASSERT_TRUE(port.ok());
  const std::string base = "http://127.0.0.1:" + std::to_string(*port);
  auto capped = HttpClient::create(base, ClientOptions{.max_response_bytes = 1u << 20});
  ASSERT_TRUE(capped.ok());
  auto refused = (*capped)->get("/big");
  EXPECT_EQ(refused.status().code(), StatusCode::kPayloadTooLarge) << refused.status().to_string();
  auto roomy = HttpClient::create(base, ClientOptions{.max_response_bytes = 16u << 20});
  ASSERT_TRUE(roomy.ok());
  auto whole = (*roomy)->get("/big");
  ASSERT_TRUE(whole.ok()) << whole.status().to_string();
  EXPECT_EQ(whole->body.size(), 8u << 20);
}

TEST(HttpClientTest, TransportFailuresAreUnavailable) {
  EXPECT_EQ(HttpClient::create("ftp://x", {}).status().code(), StatusCode::kInvalidArgument);
  // Port 1 on loopback refuses connections.
  auto client = HttpClient::create("http://127.0.0.1:1", {});
  ASSERT_TRUE(client.ok());
  auto r = (*client)->get("/health");
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace shopeasy::http
