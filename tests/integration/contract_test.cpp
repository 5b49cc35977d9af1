// The API documents (docs/api/*.openapi.json) against the real daemons: the routes a
// daemon registers (its "http_route" debug lines) and the documented paths match both
// ways, with the same access rule; each daemon serves its document at /openapi.json;
// and a representative set of calls, successes and errors, answers with a status the
// document lists and a body its schema accepts. A route added without its contract,
// or a response that drifts from it, fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cloud/payments/fake_razorpay.hpp"
#include "tests/contract/json_schema.hpp"
#include "tests/contract/route_template.hpp"
#include "tests/contract/sse.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kCustomer = "contract-customer-token";
constexpr const char* kPicker = "contract-picker-token";
constexpr const char* kOtherPicker = "contract-other-picker-token";
constexpr const char* kStoreSecret = "contract-store-secret-0123456789";

json load_document(const std::string& name) {
  std::ifstream in(std::string(SHOPEASY_SOURCE_DIR) + "/docs/api/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str(), nullptr, false);
}

// A logfmt value as the logger writes it (quoted when it holds spaces, quotes, '=' or
// backslashes).
std::string logfmt_value(const std::string& line, const std::string& key) {
  const std::size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return {};
  std::size_t i = at + key.size() + 2;
  std::string out;
  if (i < line.size() && line[i] == '"') {
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  for (; i < line.size() && line[i] != ' '; ++i) out += line[i];
  return out;
}

struct RouteEntry {
  std::string method;
  std::string path;    // template form, every parameter "{}"
  std::string access;  // public, identified, authenticated, roles:a,b (roles sorted)
  std::string source;  // the pattern or the documented path, for messages
};

std::string sorted_roles(std::vector<std::string> roles) {
  std::sort(roles.begin(), roles.end());
  std::string out = "roles:";
  for (std::size_t i = 0; i < roles.size(); ++i) out += (i ? "," : "") + roles[i];
  return out;
}

std::vector<RouteEntry> registered_routes(const std::string& output) {
  std::vector<RouteEntry> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("event=http_route") == std::string::npos) continue;
    RouteEntry e;
    e.method = logfmt_value(line, "method");
    e.source = logfmt_value(line, "pattern");
    e.path = contract::template_of_pattern(e.source).value_or("<no template: " + e.source + ">");
    e.access = logfmt_value(line, "access");
    if (e.access.rfind("roles:", 0) == 0) {
      std::vector<std::string> roles;
      std::stringstream list(e.access.substr(6));
      for (std::string r; std::getline(list, r, ',');) roles.push_back(r);
      e.access = sorted_roles(roles);
    }
    out.push_back(e);
  }
  return out;
}

// Documented operations; `conditional` collects those registered only under some
// configuration (x-registered-when).
std::vector<RouteEntry> documented_routes(const json& doc, std::set<std::string>* conditional) {
  std::vector<RouteEntry> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      RouteEntry e;
      e.method = method;
      std::transform(e.method.begin(), e.method.end(), e.method.begin(), ::toupper);
      e.path = contract::template_of_path(path);
      e.source = path;
      e.access = op.value("x-access", "<x-access missing>");
      if (e.access == "roles")
        e.access = sorted_roles(op.value("x-roles", std::vector<std::string>{}));
      if (op.contains("x-registered-when")) conditional->insert(e.method + " " + e.path);
      out.push_back(e);
    }
  }
  return out;
}

// (a): every registered route is documented with its access rule, and every
// documented route is registered (unless it exists only under another configuration).
void expect_route_sets_match(const json& doc, const std::string& daemon_output,
                             std::size_t* documented_count) {
  std::set<std::string> conditional;
  const auto registered = registered_routes(daemon_output);
  const auto documented = documented_routes(doc, &conditional);
  *documented_count = documented.size();
  ASSERT_GT(registered.size(), 5u) << "no http_route lines in the daemon's output";
  std::map<std::string, RouteEntry> docs_by_key, regs_by_key;
  for (const auto& d : documented) docs_by_key[d.method + " " + d.path] = d;
  for (const auto& r : registered) regs_by_key[r.method + " " + r.path] = r;
  for (const auto& [key, r] : regs_by_key) {
    auto it = docs_by_key.find(key);
    if (it == docs_by_key.end()) {
      ADD_FAILURE() << "route not in the document: " << r.method << " " << r.source;
      continue;
    }
    EXPECT_EQ(it->second.access, r.access) << "access of " << key << " differs from the document";
  }
  for (const auto& [key, d] : docs_by_key) {
    if (!regs_by_key.contains(key) && !conditional.contains(key)) {
      ADD_FAILURE() << "documented route is not registered: " << d.method << " " << d.source;
    }
  }
}

// One call seen, checked against the document by check_reply.
struct Call {
  std::string method;
  std::string path;  // the documented path ("/api/orders/{id}")
  HttpReply reply;
};

// (b): the status is documented for the operation, the content type is one it lists,
// and a JSON body conforms to the schema.
void check_reply(const json& doc, const Call& call) {
  SCOPED_TRACE(call.method + " " + call.path + " -> " + std::to_string(call.reply.status) + " " +
               call.reply.body.substr(0, 300));
  std::string method = call.method;
  std::transform(method.begin(), method.end(), method.begin(), ::tolower);
  // json_pointer needs '/' and '~' escaped in the path segment.
  std::string escaped;
  for (char c : call.path) escaped += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  const json::json_pointer op_at("/paths/" + escaped + "/" + method);
  ASSERT_TRUE(doc.contains(op_at)) << "operation not documented";
  const json& op = doc.at(op_at);
  const std::string status = std::to_string(call.reply.status);
  ASSERT_TRUE(op.at("responses").contains(status)) << "status " << status << " not documented";
  const json& response = op.at("responses").at(status);
  if (!response.contains("content")) return;
  const std::string type_header = call.reply.headers.count("content-type")
                                      ? call.reply.headers.at("content-type")
                                      : std::string();
  const std::string type = type_header.substr(0, type_header.find(';'));
  const json& content = response.at("content");
  bool listed = content.contains(type) || content.contains("application/octet-stream");
  ASSERT_TRUE(listed) << "content type '" << type << "' not documented";
  if (type != "application/json" || !content.contains(type)) return;
  const json body = json::parse(call.reply.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << "body is not JSON";
  const auto errors = contract::SchemaValidator(doc).validate(body, content.at(type).at("schema"));
  EXPECT_TRUE(errors.empty()) << contract::describe(errors);
}

// (c): the one error shape, for the error statuses the issue names.
void expect_error_shape(const json& doc, const HttpReply& reply, int status) {
  EXPECT_EQ(reply.status, status) << reply.body;
  const json body = json::parse(reply.body, nullptr, false);
  const auto errors =
      contract::SchemaValidator(doc).validate(body, {{"$ref", "#/components/schemas/Error"}});
  EXPECT_TRUE(errors.empty()) << status << " " << reply.body << "\n" << contract::describe(errors);
}

// Every complete event of a stream read from `path` (a documented event-stream route):
// its type is listed in the route's x-events and its data fits that type's schema.
// Returns how many events were checked.
int expect_events_documented(const json& doc, const std::string& path, const StreamRead& read) {
  EXPECT_EQ(read.status, 200) << read.body;
  const json& events = doc.at("paths")
                           .at(path)
                           .at("get")
                           .at("responses")
                           .at("200")
                           .at("content")
                           .at("text/event-stream")
                           .at("x-events");
  int checked = 0;
  for (const contract::SseEvent& event : contract::parse_sse(read.body)) {
    ++checked;
    if (!events.contains(event.type)) {
      ADD_FAILURE() << "undocumented event type " << event.type << ": " << event.data;
      continue;
    }
    const json data = json::parse(event.data, nullptr, false);
    if (data.is_discarded()) {
      ADD_FAILURE() << event.type << " data is not JSON: " << event.data;
      continue;
    }
    const auto errors =
        contract::SchemaValidator(doc).validate(data, events.at(event.type).at("schema"));
    EXPECT_TRUE(errors.empty()) << event.type << " " << event.data << "\n"
                                << contract::describe(errors);
  }
  return checked;
}

void expect_serves_document(const RunningDaemon& d, const json& doc) {
  auto reply = get(d, "/openapi.json");  // no credential: public
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(reply->headers["content-type"].rfind("application/json", 0), 0u);
  EXPECT_FALSE(reply->headers["etag"].empty());
  EXPECT_EQ(json::parse(reply->body, nullptr, false), doc)
      << "the served document differs from docs/api";
  auto again = get(d, "/openapi.json", {{"If-None-Match", reply->headers["etag"]}});
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 304);
  auto wrong = get(d, "/openapiXjson");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 404) << "the document's route must match its path exactly";
}

class Recorder {
 public:
  Recorder(int port, const json& doc) : port_(port), doc_(doc) {}
  HttpReply call(const std::string& method, const std::string& documented, const std::string& path,
                 const std::string& token, const json& body = nullptr,
                 std::map<std::string, std::string> headers = {}) {
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    std::string text;
    if (!body.is_null()) {
      text = body.dump();
      headers.emplace("Content-Type", "application/json");
    }
    auto reply = http_request("127.0.0.1", port_, method, path, text, headers, 15s);
    EXPECT_TRUE(reply.has_value()) << method << " " << path;
    calls_.push_back({method, documented, reply.value_or(HttpReply{})});
    check_reply(doc_, calls_.back());
    return calls_.back().reply;
  }
  std::size_t calls() const { return calls_.size(); }

 private:
  int port_;
  const json& doc_;
  std::vector<Call> calls_;
};

class ContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::create("contract");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }
  std::optional<TempDir> dir_;
};

TEST_F(ContractTest, Cloud) {
  const json doc = load_document("cloud.openapi.json");
  ASSERT_FALSE(doc.is_discarded());
  auto cloud = start_daemon(
      "shopeasy-cloud",
      {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(), "--log.level=debug",
       "--auth.tokens=" + tokens_json({{"alice", "customer", kCustomer}}),
       "--payments.provider=sandbox"});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  std::size_t documented = 0;
  expect_route_sets_match(doc, cloud->process.output(), &documented);
  expect_serves_document(*cloud, doc);

  Recorder r(cloud->http_port, doc);
  const std::string admin = kAdminToken;
  const std::string store = std::string("blr-1:") + kStoreSecret;
  r.call("GET", "/health", "/health", "");
  r.call("GET", "/health", "/health", admin);
  r.call("GET", "/metrics", "/metrics", admin);
  expect_error_shape(doc, r.call("GET", "/metrics", "/metrics", kCustomer), 403);
  r.call("PUT", "/v1/stores/{id}", "/v1/stores/blr-1", admin,
         {{"name", "Store 1"},
          {"lat", 12.97},
          {"lon", 77.59},
          {"service_radius_m", 3000},
          {"opening_hours", {{"open", "00:00"}, {"close", "23:59"}, {"tz_offset_min", 0}}},
          {"secret", kStoreSecret}});
  expect_error_shape(
      doc, r.call("PUT", "/v1/stores/{id}", "/v1/stores/blr-2", admin, {{"name", "x"}}), 400);
  r.call("GET", "/v1/stores", "/v1/stores", admin);
  expect_error_shape(doc, r.call("GET", "/v1/stores", "/v1/stores", ""), 401);
  expect_error_shape(doc, r.call("GET", "/v1/stores", "/v1/stores", "wrong-token"), 401);
  expect_error_shape(doc, r.call("GET", "/v1/stores", "/v1/stores", kCustomer), 403);
  r.call("PUT", "/v1/catalog/{sku}", "/v1/catalog/MILK-1L", admin,
         {{"name", "Milk"},
          {"category", "dairy"},
          {"price_cents", 6500},
          {"unit", "1 L"},
          {"barcodes", {"04006381333931"}},
          {"active", true}});
  const json batch = {
      {"store_id", "blr-1"},
      {"first_seq", 1},
      {"downstream_cursor", 0},
      {"sent_at_ms", 1767225600000},
      {"changes",
       {{{"seq", 1},
         {"kind", "stock.changed"},
         {"body", {{"sku", "MILK-1L"}, {"sku_on_hand", 20}, {"sku_reserved", 0}, {"version", 1}}}},
        {{"seq", 2}, {"kind", "stock.changed"}, {"body", {{"sku", "BAD"}}}}}}};
  EXPECT_EQ(r.call("POST", "/v1/stores/{id}/sync", "/v1/stores/blr-1/sync", store, batch).status,
            200);
  json gap = batch;
  gap["first_seq"] = 9;
  gap["changes"] = {{{"seq", 9}, {"kind", "x.y"}, {"body", json::object()}}};
  r.call("POST", "/v1/stores/{id}/sync", "/v1/stores/blr-1/sync", store, gap);
  expect_error_shape(
      doc,
      r.call("POST", "/v1/stores/{id}/sync", "/v1/stores/blr-1/sync", "blr-1:wrong-secret", batch),
      401);
  r.call("GET", "/v1/stores/{id}/sync-status", "/v1/stores/blr-1/sync-status", store);
  r.call("GET", "/v1/stores/{id}/replica", "/v1/stores/blr-1/replica", admin);
  r.call("GET", "/v1/stores/{id}/replica", "/v1/stores/blr-1/replica?sku=MILK-1L", store);
  expect_error_shape(
      doc, r.call("GET", "/v1/stores/{id}/replica", "/v1/stores/blr-2/replica", store), 403);
  expect_error_shape(
      doc, r.call("PUT", "/v1/catalog/{sku}", "/v1/catalog/X", admin, {{"price_cents", -1}}), 400);
  r.call("GET", "/v1/stores/{id}/quarantine", "/v1/stores/blr-1/quarantine?limit=5", store);
  expect_error_shape(
      doc, r.call("GET", "/v1/stores/{id}/sync-status", "/v1/stores/nope/sync-status", admin), 404);
  r.call("GET", "/api/stores", "/api/stores?geo_hash=tdr1v9", kCustomer);
  expect_error_shape(doc, r.call("GET", "/api/stores", "/api/stores", kCustomer), 400);
  {
    const HttpReply area = r.call("GET", "/api/area", "/api/area", kCustomer);
    ASSERT_EQ(area.status, 200) << area.body;
    const json stores = json::parse(area.body)["stores"];
    ASSERT_EQ(stores.size(), 1U);
    EXPECT_EQ(stores[0]["id"], "blr-1");
    EXPECT_DOUBLE_EQ(stores[0]["lat"].get<double>(), 12.97);
    EXPECT_DOUBLE_EQ(stores[0]["service_radius_m"].get<double>(), 3000);
    expect_error_shape(doc, r.call("GET", "/api/area", "/api/area", ""), 401);
  }
  r.call("GET", "/shop", "/shop", "");
  // Operator sign-in: wrong credentials in the error shape; signing out without a
  // session is not an error.
  expect_error_shape(
      doc,
      r.call("POST", "/v1/session", "/v1/session", "", {{"user", "nobody"}, {"password", "wrong"}}),
      401);
  expect_error_shape(doc, r.call("POST", "/v1/session", "/v1/session", "", {{"user", "x"}}), 400);
  EXPECT_EQ(r.call("DELETE", "/v1/session", "/v1/session", "").status, 200);
  expect_error_shape(doc, r.call("GET", "/v1/session", "/v1/session", ""), 401);
  EXPECT_EQ(r.call("GET", "/v1/session", "/v1/session", admin).status, 200);
  r.call("GET", "/shop/{file}", "/shop/app.js", "");
  EXPECT_EQ(
      r.call("GET", "/api/inventory", "/api/inventory?geo_hash=tdr1v9&limit=1", kCustomer).status,
      200);
  expect_error_shape(
      doc, r.call("GET", "/api/inventory", "/api/inventory?geo_hash=u4pruy", kCustomer), 404);
  const json order = {{"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}},
                      {"delivery", {{"lat", 12.971}, {"lon", 77.591}}}};
  const HttpReply placed =
      r.call("POST", "/api/orders", "/api/orders", kCustomer, order, {{"Idempotency-Key", "k1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  EXPECT_EQ(
      r.call("POST", "/api/orders", "/api/orders", kCustomer, order, {{"Idempotency-Key", "k1"}})
          .body,
      placed.body);
  expect_error_shape(doc, r.call("POST", "/api/orders", "/api/orders", kCustomer, order), 400);
  r.call("POST", "/api/orders", "/api/orders", kCustomer,
         {{"lines", {{{"sku", "NOPE"}, {"qty", 1}}}}, {"delivery", {{"geohash", "tdr1v9"}}}},
         {{"Idempotency-Key", "k2"}});
  r.call("POST", "/api/orders", "/api/orders", kCustomer,
         {{"lines", {{{"sku", "MILK-1L"}, {"qty", 19}}}}, {"delivery", {{"geohash", "tdr1v9"}}}},
         {{"Idempotency-Key", "k3"}});
  const std::string id = json::parse(placed.body).at("order_id");
  const std::string intent = json::parse(placed.body).at("payment").at("intent_id");
  r.call("GET", "/api/orders/{id}", "/api/orders/" + id, kCustomer);
  expect_error_shape(doc, r.call("GET", "/api/orders/{id}", "/api/orders/ord_nope", kCustomer),
                     404);
  r.call("GET", "/sandbox/pay/{intent_id}", "/sandbox/pay/" + intent, "");
  r.call("POST", "/sandbox/pay/{intent_id}", "/sandbox/pay/pi_nope", "", {{"outcome", "succeed"}});
  r.call("POST", "/v1/payments/webhook", "/v1/payments/webhook", "", json::object());
  r.call("POST", "/api/orders/{id}/cancel", "/api/orders/" + id + "/cancel", kCustomer,
         json::object());
  // The stream of a cancelled unpaid order ends; each event's data fits the document.
  const StreamRead events = read_stream(
      cloud->http_port, "/api/orders/" + id + "/events", bearer(kCustomer),
      [](const std::string& body) { return body.find("cancelled") != std::string::npos; }, 10s);
  EXPECT_GE(expect_events_documented(doc, "/api/orders/{id}/events", events), 2) << events.body;

  // Pricing: the model, the rules, a feed, a quote and an order charged at it.
  const json model = {
      {"base_cents", 6500}, {"mrp_cents", 7000}, {"cost_cents", 5000}, {"min_margin_bp", 500}};
  r.call("PUT", "/v1/prices/models/{sku}", "/v1/prices/models/MILK-1L", admin, model);
  expect_error_shape(doc,
                     r.call("PUT", "/v1/prices/models/{sku}", "/v1/prices/models/MILK-1L", admin,
                            {{"base_cents", 0}, {"mrp_cents", 7000}}),
                     400);
  r.call("PUT", "/v1/prices/models/{sku}/stores/{store_id}",
         "/v1/prices/models/MILK-1L/stores/blr-1", admin, model);
  r.call("GET", "/v1/prices/models/{sku}", "/v1/prices/models/MILK-1L", admin);
  expect_error_shape(doc, r.call("GET", "/v1/prices/models/{sku}", "/v1/prices/models/NOPE", admin),
                     404);
  expect_error_shape(
      doc, r.call("GET", "/v1/prices/models/{sku}", "/v1/prices/models/MILK-1L", kCustomer), 403);
  r.call("POST", "/v1/prices/competitor", "/v1/prices/competitor", admin,
         json::array({{{"sku", "MILK-1L"}, {"price", 62.5}}}));
  expect_error_shape(doc,
                     r.call("POST", "/v1/prices/competitor", "/v1/prices/competitor", admin,
                            json::array({{{"sku", "MILK-1L"}, {"price", nullptr}}})),
                     400);
  r.call("PUT", "/v1/pricing/signals/{store_id}", "/v1/pricing/signals/blr-1", admin,
         {{"open_orders", 4}, {"available_runners", 2}, {"pick_queue", 3}});
  expect_error_shape(doc,
                     r.call("PUT", "/v1/pricing/signals/{store_id}", "/v1/pricing/signals/blr-1",
                            admin, {{"open_orders", -4}, {"available_runners", 2}}),
                     400);
  r.call("GET", "/v1/pricing", "/v1/pricing", admin);
  r.call("PUT", "/v1/pricing", "/v1/pricing", admin, {{"max_change_per_hour_bp", 1000}});
  expect_error_shape(
      doc, r.call("PUT", "/v1/pricing", "/v1/pricing", admin, {{"quote_ttl_ms", -1}}), 400);
  const HttpReply quoted = r.call("POST", "/api/quote", "/api/quote", kCustomer, order);
  ASSERT_EQ(quoted.status, 200) << quoted.body;
  expect_error_shape(
      doc, r.call("POST", "/api/quote", "/api/quote", kCustomer, {{"lines", json::array()}}), 400);
  expect_error_shape(
      doc,
      r.call("POST", "/api/quote", "/api/quote", kCustomer,
             {{"lines", {{{"sku", "NOPE"}, {"qty", 1}}}}, {"delivery", {{"geohash", "tdr1v9"}}}}),
      404);
  json with_quote = order;
  with_quote["quote_id"] = json::parse(quoted.body).at("quote_id");
  const HttpReply quoted_order = r.call("POST", "/api/orders", "/api/orders", kCustomer, with_quote,
                                        {{"Idempotency-Key", "k4"}});
  ASSERT_EQ(quoted_order.status, 201) << quoted_order.body;
  EXPECT_EQ(json::parse(quoted_order.body).at("total_cents"),
            json::parse(quoted.body).at("total_cents"));
  with_quote["quote_id"] = "qt_nope";
  expect_error_shape(doc,
                     r.call("POST", "/api/orders", "/api/orders", kCustomer, with_quote,
                            {{"Idempotency-Key", "k5"}}),
                     404);
  expect_error_shape(doc,
                     r.call("POST", "/v1/prices/approvals", "/v1/prices/approvals", admin,
                            {{"store_id", "blr-1"}, {"sku", "MILK-1L"}, {"price_cents", 100}}),
                     409);
  expect_error_shape(
      doc,
      r.call("POST", "/v1/prices/approvals", "/v1/prices/approvals", admin, {{"sku", "MILK-1L"}}),
      400);
  r.call("GET", "/v1/prices/history", "/v1/prices/history?sku=MILK-1L&limit=5", admin);
  expect_error_shape(doc, r.call("GET", "/v1/prices/history", "/v1/prices/history?limit=0", admin),
                     400);
  // The fleet dashboard and the kill switch alone.
  r.call("GET", "/v1/fleet/summary", "/v1/fleet/summary", admin);
  expect_error_shape(
      doc, r.call("GET", "/v1/fleet/summary", "/v1/fleet/summary?window_s=10", admin), 400);
  expect_error_shape(doc, r.call("GET", "/v1/fleet/summary", "/v1/fleet/summary", kCustomer), 403);
  r.call("GET", "/v1/fleet/stores/{id}", "/v1/fleet/stores/blr-1?window_s=600", admin);
  expect_error_shape(doc, r.call("GET", "/v1/fleet/stores/{id}", "/v1/fleet/stores/nope", admin),
                     404);
  r.call("GET", "/v1/orders/{id}", "/v1/orders/" + id, admin);
  expect_error_shape(doc, r.call("GET", "/v1/orders/{id}", "/v1/orders/ord_nope", admin), 404);
  r.call("PUT", "/v1/pricing/enabled", "/v1/pricing/enabled", admin, {{"enabled", false}});
  r.call("PUT", "/v1/pricing/enabled", "/v1/pricing/enabled", admin, {{"enabled", true}});
  expect_error_shape(
      doc, r.call("PUT", "/v1/pricing/enabled", "/v1/pricing/enabled", admin, {{"enabled", 1}}),
      400);
  r.call("GET", "/v1/audit", "/v1/audit?limit=2", admin);
  r.call("GET", "/ops", "/ops", "");
  r.call("GET", "/ops/{file}", "/ops/no-such-file.js", "");
  std::cout << "cloud: " << documented << " documented operations, " << r.calls()
            << " calls checked\n";
}

// The routes a provider other than the sandbox registers (x-registered-when).
TEST_F(ContractTest, CloudWithRazorpay) {
  const json doc = load_document("cloud.openapi.json");
  cloud::payments::FakeRazorpayOptions fake_options;
  auto fake = cloud::payments::FakeRazorpay::start(fake_options);
  ASSERT_TRUE(fake.ok()) << fake.status().to_string();
  auto cloud = start_daemon(
      "shopeasy-cloud",
      {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(), "--log.level=debug",
       "--auth.tokens=" + tokens_json({{"alice", "customer", kCustomer}}),
       "--payments.provider=razorpay", "--payments.api_base_url=" + (*fake)->base_url(),
       "--payments.razorpay.key_id=" + fake_options.key_id, "--orders.currency=INR"},
      {{"SHOPEASY_CLOUD_PAYMENTS_RAZORPAY_KEY_SECRET", fake_options.key_secret},
       {"SHOPEASY_CLOUD_PAYMENTS_WEBHOOK_SECRET", fake_options.webhook_secret}});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  std::size_t documented = 0;
  expect_route_sets_match(doc, cloud->process.output(), &documented);
  std::set<std::string> registered;
  for (const auto& r : registered_routes(cloud->process.output())) {
    registered.insert(r.method + " " + r.path);
  }
  EXPECT_TRUE(registered.contains("GET /v1/payments/checkout/{}"));
  EXPECT_TRUE(registered.contains("POST /v1/payments/upi/{}"));
  EXPECT_FALSE(registered.contains("GET /sandbox/pay/{}"));
  Recorder r(cloud->http_port, doc);
  expect_error_shape(doc,
                     r.call("GET", "/v1/payments/checkout/{intent_id}",
                            "/v1/payments/checkout/order_nope", kCustomer),
                     404);
  r.call("POST", "/v1/payments/upi/{intent_id}", "/v1/payments/upi/order_nope", kCustomer,
         {{"flow", "intent"}});
  expect_error_shape(
      doc,
      r.call("GET", "/v1/payments/checkout/{intent_id}", "/v1/payments/checkout/order_nope", ""),
      401);
}

// Phone sign-in (x-registered-when accounts.sms_provider) and search, with real replies.
TEST_F(ContractTest, CloudWithAccountsAndSearch) {
  const json doc = load_document("cloud.openapi.json");
  auto cloud = start_daemon(
      "shopeasy-cloud",
      {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(), "--log.level=debug",
       "--auth.tokens=" + tokens_json({{"alice", "customer", kCustomer}}),
       "--accounts.sms_provider=sandbox", "--payments.provider=sandbox"});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  std::size_t documented = 0;
  expect_route_sets_match(doc, cloud->process.output(), &documented);
  std::set<std::string> registered;
  for (const auto& r : registered_routes(cloud->process.output())) {
    registered.insert(r.method + " " + r.path);
  }
  EXPECT_TRUE(registered.contains("POST /api/auth/otp"));
  EXPECT_TRUE(registered.contains("GET /v1/sandbox/sms"));
  Recorder r(cloud->http_port, doc);
  const std::string phone = "+919812345678";
  expect_error_shape(doc, r.call("POST", "/api/auth/otp", "/api/auth/otp", "", {{"phone", "12"}}),
                     400);
  EXPECT_EQ(r.call("POST", "/api/auth/otp", "/api/auth/otp", "", {{"phone", phone}}).status, 202);
  EXPECT_EQ(
      r.call("GET", "/v1/sandbox/sms", "/v1/sandbox/sms?phone=%2B919812345678", kAdminToken).status,
      200);
  expect_error_shape(doc,
                     r.call("POST", "/api/auth/verify", "/api/auth/verify", "",
                            {{"phone", phone}, {"code", "000000"}}),
                     401);
  expect_error_shape(doc,
                     r.call("POST", "/api/auth/refresh", "/api/auth/refresh", "",
                            {{"refresh_token", "not-a-token"}}),
                     400);
  EXPECT_EQ(r.call("GET", "/.well-known/jwks.json", "/.well-known/jwks.json", "").status, 200);
  EXPECT_EQ(r.call("GET", "/api/me/orders", "/api/me/orders", kCustomer).status, 200);
  EXPECT_EQ(r.call("GET", "/api/me/notification-preferences", "/api/me/notification-preferences",
                   kCustomer)
                .status,
            200);
  EXPECT_EQ(r.call("PUT", "/api/me/notification-preferences", "/api/me/notification-preferences",
                   kCustomer, {{"channels", {{"sms", false}}}})
                .status,
            200);
  expect_error_shape(
      doc,
      r.call("PUT", "/api/me/notification-preferences", "/api/me/notification-preferences",
             kCustomer, {{"channels", {{"fax", true}}}}),
      400);
  EXPECT_EQ(r.call("GET", "/api/me/notifications", "/api/me/notifications", kCustomer).status, 200);
  // Saved addresses: stored with their geohash, listed, refused when out of range or
  // at 0,0, deleted once.
  const json home = {{"label", "Home"}, {"line", "Flat 4B"}, {"lat", 12.9716}, {"lon", 77.5946}};
  const HttpReply saved =
      r.call("PUT", "/api/me/addresses/{address_id}", "/api/me/addresses/home", kCustomer, home);
  ASSERT_EQ(saved.status, 200) << saved.body;
  EXPECT_EQ(json::parse(saved.body)["geohash"].get<std::string>().substr(0, 5), "tdr1v");
  const HttpReply listed = r.call("GET", "/api/me/addresses", "/api/me/addresses", kCustomer);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(json::parse(listed.body)["addresses"].size(), 1u);
  const HttpReply far = r.call("PUT", "/api/me/addresses/{address_id}", "/api/me/addresses/x",
                               kCustomer, {{"label", "X"}, {"lat", 91}, {"lon", 0}});
  expect_error_shape(doc, far, 400);
  EXPECT_NE(far.body.find("\"lat\""), std::string::npos) << far.body;
  expect_error_shape(doc,
                     r.call("PUT", "/api/me/addresses/{address_id}", "/api/me/addresses/y",
                            kCustomer, {{"label", "Y"}, {"lat", 0}, {"lon", 0}}),
                     400);
  EXPECT_EQ(r.call("DELETE", "/api/me/addresses/{address_id}", "/api/me/addresses/home", kCustomer)
                .status,
            200);
  expect_error_shape(
      doc, r.call("DELETE", "/api/me/addresses/{address_id}", "/api/me/addresses/home", kCustomer),
      404);
  expect_error_shape(doc, r.call("GET", "/api/search", "/api/search?geo_hash=tdr1v9", kCustomer),
                     400);
  expect_error_shape(
      doc, r.call("GET", "/api/suggest", "/api/suggest?q=milk&geo_hash=tdr1v9", kCustomer), 404);
  EXPECT_EQ(r.call("GET", "/v1/search/synonyms", "/v1/search/synonyms", kAdminToken).status, 200);
  EXPECT_EQ(r.call("PUT", "/v1/search/synonyms", "/v1/search/synonyms", kAdminToken,
                   {{"groups", json::array({json::array({"chhena", "paneer"})})}})
                .status,
            200);
  // Last, as it ends the customer: once the account is deleted its token is refused.
  EXPECT_EQ(r.call("DELETE", "/api/me", "/api/me", kCustomer).status, 200);
  expect_error_shape(doc, r.call("GET", "/api/me", "/api/me", kCustomer), 401);
  expect_error_shape(doc, r.call("GET", "/api/me/orders", "/api/me/orders", kCustomer), 401);
}

TEST_F(ContractTest, CloudRateLimitAnswersTheErrorShape) {
  const json doc = load_document("cloud.openapi.json");
  auto cloud = start_daemon("shopeasy-cloud",
                            {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                             "--auth.tokens=" + admin_tokens_json(), "--http.rate_limit_per_s=0.01",
                             "--http.rate_limit_burst=2"});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  Recorder r(cloud->http_port, doc);
  HttpReply last;
  for (int i = 0; i < 3; ++i) last = r.call("GET", "/v1/stores", "/v1/stores", kAdminToken);
  expect_error_shape(doc, last, 429);
  EXPECT_FALSE(last.headers["retry-after"].empty());
}

TEST_F(ContractTest, Edge) {
  const json doc = load_document("edge.openapi.json");
  ASSERT_FALSE(doc.is_discarded());
  auto broker = MosquittoBroker::start();
  ASSERT_TRUE(broker.ok()) << broker.status().to_string();
  auto edge = start_daemon(
      "shopeasy-edge",
      {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--log.level=debug",
       "--mqtt.port=" + std::to_string(broker->port()),
       "--auth.tokens=" + tokens_json({{"pick", "picker", kPicker}}), "--store.id=test-store"});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  std::size_t documented = 0;
  expect_route_sets_match(doc, edge->process.output(), &documented);
  expect_serves_document(*edge, doc);

  Recorder r(edge->http_port, doc);
  const std::string admin = kAdminToken;
  r.call("GET", "/health", "/health", "");
  r.call("GET", "/health", "/health", admin);
  r.call("GET", "/metrics", "/metrics", admin);
  expect_error_shape(doc, r.call("GET", "/metrics", "/metrics", kPicker), 403);
  expect_error_shape(doc, r.call("GET", "/api/stock", "/api/stock", ""), 401);
  r.call("POST", "/api/users", "/api/users", admin,
         {{"name", "ann"}, {"role", "manager"}, {"password", "correct horse battery"}});
  expect_error_shape(doc,
                     r.call("POST", "/api/session", "/api/session", "",
                            {{"user", "ann"}, {"password", "wrong password"}}),
                     401);
  const HttpReply session = r.call("POST", "/api/session", "/api/session", "",
                                   {{"user", "ann"}, {"password", "correct horse battery"}});
  ASSERT_EQ(session.status, 200) << session.body;
  const std::string token = json::parse(session.body).at("token");
  r.call("GET", "/api/session", "/api/session", token);
  r.call("GET", "/api/users", "/api/users", admin);
  expect_error_shape(
      doc, r.call("PATCH", "/api/users/{name}", "/api/users/nobody", admin, {{"role", "viewer"}}),
      404);
  r.call("POST", "/api/bins", "/api/bins", token,
         {{"bins", {{{"code", "A-01"}, {"walk_order", 1}}}}});
  {
    auto reply =
        http_request("127.0.0.1", edge->http_port, "POST", "/api/catalog",
                     "sku,name,category,price_cents,barcodes,home_bin,reorder_point\n"
                     "MILK-1L,Milk 1 L,dairy,6500,4006381333931,A-01,5\n",
                     {{"Authorization", "Bearer " + admin}, {"Content-Type", "text/csv"}}, 15s);
    ASSERT_TRUE(reply.has_value());
    check_reply(doc, {"POST", "/api/catalog", *reply});
  }
  {
    // MQTT: the edge's answers on scanners/{id}/result fit the AsyncAPI document, for
    // an applied scan and a refused one.
    const json mqtt_doc = load_document("mqtt.asyncapi.json");
    ASSERT_FALSE(mqtt_doc.is_discarded());
    ASSERT_TRUE(wait_edge_subscribed(*edge)) << edge->process.describe();
    auto sub = start_subscriber(broker->port(), {"-t", "scanners/h7/result", "-C", "2", "-q", "1"});
    ASSERT_TRUE(sub.ok()) << sub.status().to_string();
    const json scan_schema =
        mqtt_doc.at("channels").at("scannerScan").at("messages").at("m").at("payload");
    const json result_schema =
        mqtt_doc.at("channels").at("scannerResult").at("messages").at("m").at("payload");
    const json good = {{"scan_id", "m1"},     {"scanner_id", "h7"}, {"code", "4006381333931"},
                       {"action", "receive"}, {"qty", 1},           {"bin", "A-01"}};
    const json unknown_code = {{"scan_id", "m2"},
                               {"scanner_id", "h7"},
                               {"code", "5901234123457"},
                               {"action", "receive"},
                               {"qty", 1}};
    for (const json& payload : {good, unknown_code}) {
      EXPECT_TRUE(contract::SchemaValidator(mqtt_doc).validate(payload, scan_schema).empty());
      auto pub = ChildProcess::spawn(
          {.argv = {"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker->port()), "-t",
                    "scanners/h7/scan", "-q", "1", "-m", payload.dump()}});
      ASSERT_TRUE(pub.ok());
      ASSERT_EQ(pub->wait_exit(10s), 0) << pub->describe();
    }
    ASSERT_TRUE(sub->wait_exit(10s).has_value()) << sub->describe();
    std::istringstream lines(sub->stdout_text());
    int results = 0;
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] != '{') continue;  // mosquitto_sub -d debug lines
      const auto errors = contract::SchemaValidator(mqtt_doc).validate(
          json::parse(line, nullptr, false), result_schema);
      EXPECT_TRUE(errors.empty()) << line << "\n" << contract::describe(errors);
      ++results;
    }
    EXPECT_EQ(results, 2) << sub->describe();
  }
  const json scan = {{"scan_id", "s1"},     {"scanner_id", "h1"}, {"code", "4006381333931"},
                     {"action", "receive"}, {"qty", 10},          {"bin", "A-01"}};
  EXPECT_EQ(r.call("POST", "/api/scans", "/api/scans", kPicker, scan).status, 200);
  EXPECT_EQ(r.call("POST", "/api/scans", "/api/scans", kPicker, scan).status, 200);  // duplicate
  json lookup = scan;
  lookup["scan_id"] = "s-lookup";
  lookup["action"] = "lookup";
  lookup.erase("qty");
  EXPECT_EQ(r.call("POST", "/api/scans", "/api/scans", kPicker, lookup).status, 200);
  expect_error_shape(doc, r.call("POST", "/api/scans", "/api/scans", kPicker, {{"code", "x"}}),
                     400);
  json unknown = scan;
  unknown["scan_id"] = "s2";
  unknown["code"] = "5901234123457";
  expect_error_shape(doc, r.call("POST", "/api/scans", "/api/scans", kPicker, unknown), 404);
  r.call("GET", "/api/stock", "/api/stock?limit=10", kPicker);
  r.call("GET", "/api/stock/{sku}", "/api/stock/MILK-1L", kPicker);
  expect_error_shape(doc, r.call("GET", "/api/stock/{sku}", "/api/stock/NOPE", kPicker), 404);
  r.call("PATCH", "/api/inventory/{sku}", "/api/inventory/MILK-1L", admin,
         {{"bin", "A-01"}, {"adjust", -1}, {"reason", "damage"}});
  r.call("GET", "/api/ledger", "/api/ledger?limit=1", kPicker);
  expect_error_shape(doc, r.call("GET", "/api/ledger", "/api/ledger?limit=0", kPicker), 400);
  r.call("GET", "/api/alerts", "/api/alerts", kPicker);
  const HttpReply count = r.call("POST", "/api/counts", "/api/counts", admin, {{"bin", "A-01"}});
  if (count.status == 200) {
    r.call("GET", "/api/counts/{id}",
           "/api/counts/" + json::parse(count.body).value("count_id", ""), kPicker);
    r.call("POST", "/api/counts/{id}/close",
           "/api/counts/" + json::parse(count.body).value("count_id", "") + "/close", admin,
           json::object());
  }
  r.call("GET", "/api/forecast/{sku}", "/api/forecast/MILK-1L", kPicker);
  // Replenishment: a supplier, the proposal, a purchase order from draft to received.
  EXPECT_EQ(r.call("POST", "/api/suppliers", "/api/suppliers", admin,
                   {{"id", "DAIRY"},
                    {"name", "Dairy Co"},
                    {"lead_time_days", 2},
                    {"order_days", "mon,thu"}})
                .status,
            201);
  expect_error_shape(doc,
                     r.call("POST", "/api/suppliers", "/api/suppliers", admin,
                            {{"id", "BAD"}, {"name", "Bad"}, {"lead_time_days", 0}}),
                     400);
  r.call("GET", "/api/suppliers", "/api/suppliers", admin);
  r.call("PUT", "/api/suppliers/{id}", "/api/suppliers/DAIRY", admin,
         {{"name", "Dairy Co"}, {"lead_time_days", 3}});
  r.call("PUT", "/api/suppliers/{id}/skus/{sku}", "/api/suppliers/DAIRY/skus/MILK-1L", admin,
         {{"service_level", 0.95}, {"shelf_life_days", 5}});
  r.call("GET", "/api/suppliers/{id}", "/api/suppliers/DAIRY", admin);
  r.call("GET", "/api/replenishment/proposal", "/api/replenishment/proposal", admin);
  expect_error_shape(doc, r.call("GET", "/api/purchase-orders", "/api/purchase-orders", kPicker),
                     403);
  const HttpReply po = r.call("POST", "/api/purchase-orders", "/api/purchase-orders", admin,
                              {{"request_id", "contract-1"},
                               {"supplier_id", "DAIRY"},
                               {"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}}});
  ASSERT_EQ(po.status, 201) << po.body;
  const std::string po_path = "/api/purchase-orders/" + json::parse(po.body).value("po_id", "");
  r.call("GET", "/api/purchase-orders", "/api/purchase-orders?status=draft", admin);
  r.call("GET", "/api/purchase-orders/{id}", po_path, admin);
  expect_error_shape(doc,
                     r.call("POST", "/api/purchase-orders/{id}/receive", po_path + "/receive",
                            admin, {{"receipt_id", "c-r1"}, {"line_no", 1}, {"qty", 1}}),
                     409);
  r.call("POST", "/api/purchase-orders/{id}/send", po_path + "/send", admin, json::object());
  r.call("POST", "/api/purchase-orders/{id}/receive", po_path + "/receive", admin,
         {{"receipt_id", "c-r1"}, {"line_no", 1}, {"qty", 1}});
  r.call("POST", "/api/purchase-orders/{id}/cancel", po_path + "/cancel", admin,
         {{"reason", "contract check"}});
  r.call("DELETE", "/api/suppliers/{id}/skus/{sku}", "/api/suppliers/DAIRY/skus/MILK-1L", admin);
  r.call("DELETE", "/api/suppliers/{id}", "/api/suppliers/DAIRY", admin);
  r.call("GET", "/api/orders", "/api/orders", kPicker);
  expect_error_shape(doc, r.call("GET", "/api/orders/{id}", "/api/orders/ord_nope", kPicker), 404);
  r.call("GET", "/api/runners", "/api/runners", kPicker);
  r.call("GET", "/api/runners/{id}", "/api/runners/nobody", kPicker);
  r.call("GET", "/api/shelf-scans", "/api/shelf-scans", kPicker);
  r.call("GET", "/api/alert-board", "/api/alert-board", kPicker);
  r.call("POST", "/api/alert-board/{id}/ack", "/api/alert-board/999/ack", admin, json::object());
  EXPECT_EQ(r.call("PUT", "/api/runners/{id}", "/api/runners/r1", admin, {{"name", "Ravi"}}).status,
            201);
  EXPECT_EQ(
      r.call("PUT", "/api/runners/{id}", "/api/runners/r1", admin, {{"name", "Ravi K"}}).status,
      200);
  r.call("GET", "/api/runners/{id}", "/api/runners/r1", kPicker);
  r.call("GET", "/api/runners/{id}/trail", "/api/runners/r1/trail", kPicker);
  r.call("DELETE", "/api/runners/{id}", "/api/runners/r1", admin);
  expect_error_shape(doc, r.call("DELETE", "/api/runners/{id}", "/api/runners/r1", kPicker), 403);
  r.call("PATCH", "/api/users/{name}", "/api/users/ann", admin, {{"role", "manager"}});
  r.call("GET", "/api/shelf-scans/{id}", "/api/shelf-scans/nope", kPicker);
  r.call("POST", "/api/shelf-scans/{id}/trigger", "/api/shelf-scans/nope/trigger", admin,
         json::object());
  r.call("POST", "/api/alert-board/{id}/resolve", "/api/alert-board/999/resolve", admin,
         json::object());
  r.call("GET", "/api/orders/{id}/picklist", "/api/orders/ord_nope/picklist", kPicker);
  r.call("POST", "/api/orders/{id}/accept", "/api/orders/ord_nope/accept", kPicker, json::object());
  r.call("POST", "/api/orders/{id}/pack", "/api/orders/ord_nope/pack", kPicker, json::object());
  r.call("POST", "/api/orders/{id}/claim", "/api/orders/ord_nope/claim", kPicker, json::object());
  r.call("POST", "/api/orders/{id}/release", "/api/orders/ord_nope/release", kPicker);
  r.call("GET", "/api/session", "/api/session", "", nullptr,
         {{"Cookie", "shopeasy_session=" + token}});
  r.call("GET", "/api/store", "/api/store", kPicker);
  r.call("GET", "/api/audit", "/api/audit?limit=2", admin);
  r.call("GET", "/", "/", "");
  r.call("GET", "/ui/{file}", "/ui/no-such-file.js", "");
  // The stream replays the outbox from the start; a last scan marks its end. Each
  // event's data fits the schema of its type.
  EXPECT_EQ(r.call("POST", "/api/scans", "/api/scans", kPicker,
                   {{"scan_id", "s-last"},
                    {"scanner_id", "h1"},
                    {"code", "4006381333931"},
                    {"action", "receive"},
                    {"qty", 1},
                    {"bin", "A-01"}})
                .status,
            200);
  auto headers = bearer(kPicker);
  headers["Last-Event-ID"] = "0";
  const StreamRead events = read_stream(
      edge->http_port, "/api/events", headers,
      [](const std::string& body) {
        const auto last = body.find("\"ref\":\"s-last\"");
        return last != std::string::npos && body.find("\n\n", last) != std::string::npos;
      },
      10s);
  EXPECT_GE(expect_events_documented(doc, "/api/events", events), 5) << events.body;
  r.call("DELETE", "/api/session", "/api/session", token);
  std::cout << "edge: " << documented << " documented operations, " << r.calls()
            << " calls checked\n";
}

// An order from a customer to the store's picker: the cloud's order routes and the
// edge's order routes (list, pick list, pick, pack) on real, synced data.
TEST_F(ContractTest, OrderJourneyAcrossCloudAndEdge) {
  const json cloud_doc = load_document("cloud.openapi.json");
  const json edge_doc = load_document("edge.openapi.json");
  auto cloud = start_daemon("shopeasy-cloud",
                            {"--http.port=0", "--state_dir=" + dir_->file("cloud").string(),
                             "--auth.tokens=" + tokens_json({{"alice", "customer", kCustomer}}),
                             "--payments.provider=sandbox"});
  ASSERT_TRUE(cloud.ok()) << cloud.status().to_string();
  Recorder c(cloud->http_port, cloud_doc);
  ASSERT_EQ(c.call("PUT", "/v1/stores/{id}", "/v1/stores/blr-1", kAdminToken,
                   {{"name", "Store 1"},
                    {"lat", 12.9716},
                    {"lon", 77.5946},
                    {"service_radius_m", 3000},
                    {"secret", kStoreSecret}})
                .status,
            200);
  ASSERT_EQ(c.call("PUT", "/v1/catalog/{sku}", "/v1/catalog/MILK-1L", kAdminToken,
                   {{"name", "Milk"}, {"price_cents", 6500}, {"barcodes", {"04006381333931"}}})
                .status,
            200);
  auto edge = start_daemon(
      "shopeasy-edge",
      {"--http.port=0", "--state_dir=" + dir_->file("edge").string(), "--mqtt.enabled=false",
       "--store.id=blr-1",
       "--auth.tokens=" +
           tokens_json({{"pick", "picker", kPicker}, {"pick2", "picker", kOtherPicker}}),
       "--sync.enabled=true", "--sync.url=http://127.0.0.1:" + std::to_string(cloud->http_port),
       "--sync.heartbeat_ms=300"},
      {{"SHOPEASY_EDGE_SYNC_STORE_SECRET", kStoreSecret}});
  ASSERT_TRUE(edge.ok()) << edge.status().to_string();
  Recorder e(edge->http_port, edge_doc);
  auto edge_get = [&](const std::string& path) {
    return http_request("127.0.0.1", edge->http_port, "GET", path, "", bearer(kPicker), 10s)
        .value_or(HttpReply{});
  };
  ASSERT_TRUE(wait_for([&] { return edge_get("/api/stock/MILK-1L").status == 200; }, 15s))
      << edge->process.describe();
  e.call("POST", "/api/bins", "/api/bins", kAdminToken, {{"bins", {{{"code", "A-01"}}}}});
  ASSERT_EQ(e.call("POST", "/api/scans", "/api/scans", kPicker,
                   {{"scan_id", "r1"},
                    {"scanner_id", "h1"},
                    {"code", "4006381333931"},
                    {"action", "receive"},
                    {"qty", 5},
                    {"bin", "A-01"}})
                .status,
            200);
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = http_request("127.0.0.1", cloud->http_port, "GET",
                              "/api/inventory?geo_hash=tdr1v9", "", bearer(kCustomer), 10s);
        return r && r->status == 200 && r->body.find("\"available\":5") != std::string::npos;
      },
      15s));
  const HttpReply placed = c.call("POST", "/api/orders", "/api/orders", kCustomer,
                                  {{"lines", {{{"sku", "MILK-1L"}, {"qty", 2}}}},
                                   {"delivery", {{"lat", 12.972}, {"lon", 77.595}}}},
                                  {{"Idempotency-Key", "journey-1"}});
  ASSERT_EQ(placed.status, 201) << placed.body;
  const std::string id = json::parse(placed.body).at("order_id");
  const std::string intent = json::parse(placed.body).at("payment").at("intent_id");
  ASSERT_EQ(c.call("POST", "/sandbox/pay/{intent_id}", "/sandbox/pay/" + intent, "",
                   {{"outcome", "succeed"}})
                .status,
            200);
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = edge_get("/api/orders/" + id);
        return r.status == 200 && r.body.find("\"accepted\"") != std::string::npos;
      },
      20s))
      << edge->process.describe();
  e.call("GET", "/api/orders", "/api/orders", kPicker);
  e.call("GET", "/api/orders/{id}", "/api/orders/" + id, kPicker);
  e.call("GET", "/api/orders/{id}/picklist", "/api/orders/" + id + "/picklist", kPicker);
  expect_error_shape(edge_doc,
                     e.call("POST", "/api/orders/{id}/pick", "/api/orders/" + id + "/pick", kPicker,
                            {{"code", "5901234123457"}}),
                     409);
  // A screen following the store live sees the claims, which are never replayed.
  auto live = ChildProcess::spawn(
      {.argv = {
           "curl", "-sN", "--max-time", "60", "-H", std::string("Authorization: Bearer ") + kPicker,
           "http://127.0.0.1:" + std::to_string(edge->http_port) + "/api/events?types=order"}});
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE(live->wait_for_output("shopeasy edge events", 10s)) << live->describe();
  // One picker claims the order; the other is told who has it, and may not take over.
  const std::string order_path = "/api/orders/" + id;
  EXPECT_EQ(e.call("POST", "/api/orders/{id}/claim", order_path + "/claim", kPicker).status, 200);
  const HttpReply refused =
      e.call("POST", "/api/orders/{id}/claim", order_path + "/claim", kOtherPicker, json::object());
  expect_error_shape(edge_doc, refused, 409);
  const json refusal = json::parse(refused.body, nullptr, false);
  EXPECT_EQ(refusal.value("reason", ""), "claimed_by_other") << refused.body;
  EXPECT_EQ(refusal.value("picker", ""), "pick") << refused.body;
  expect_error_shape(edge_doc,
                     e.call("POST", "/api/orders/{id}/claim", order_path + "/claim", kOtherPicker,
                            {{"take_over", true}}),
                     403);
  expect_error_shape(edge_doc,
                     e.call("POST", "/api/orders/{id}/claim", order_path + "/claim", kPicker,
                            {{"take_over", "yes"}}),
                     400);
  EXPECT_EQ(
      e.call("POST", "/api/orders/{id}/release", order_path + "/release", kOtherPicker).status,
      409);
  EXPECT_EQ(e.call("POST", "/api/orders/{id}/release", order_path + "/release", kPicker).status,
            200);
  EXPECT_EQ(e.call("POST", "/api/orders/{id}/claim", order_path + "/claim", kPicker).status, 200);
  e.call("POST", "/api/orders/{id}/pick", "/api/orders/" + id + "/pick", kPicker,
         {{"code", "4006381333931"}, {"qty", 2}, {"bin", "A-01"}});
  for (const json& bad : {json{{"bags", 0}}, json{{"bags", 51}}, json{{"bags", "two"}}}) {
    const HttpReply reply =
        e.call("POST", "/api/orders/{id}/pack", order_path + "/pack", kPicker, bad);
    expect_error_shape(edge_doc, reply, 400);
    EXPECT_EQ(json::parse(reply.body, nullptr, false)["error"].value("field", ""), "bags");
  }
  EXPECT_EQ(
      e.call("POST", "/api/orders/{id}/pack", order_path + "/pack", kPicker, {{"bags", 2}}).status,
      200);
  const HttpReply detail = e.call("GET", "/api/orders/{id}", order_path, kPicker);
  EXPECT_EQ(json::parse(detail.body, nullptr, false).value("bags", 0), 2) << detail.body;
  EXPECT_EQ(json::parse(detail.body, nullptr, false).value("picker", ""), "pick") << detail.body;
  e.call("POST", "/api/orders/{id}/accept", "/api/orders/" + id + "/accept", kPicker,
         json::object());
  ASSERT_TRUE(wait_for(
      [&] {
        auto r = http_request("127.0.0.1", cloud->http_port, "GET", "/api/orders/" + id, "",
                              bearer(kCustomer), 10s);
        return r && r->body.find("\"packed\"") != std::string::npos;
      },
      20s));
  c.call("GET", "/api/orders/{id}", "/api/orders/" + id, kCustomer);
  // The edge's own stream of the journey, replayed from the start up to the packing.
  auto headers = bearer(kPicker);
  headers["Last-Event-ID"] = "0";
  const StreamRead events = read_stream(
      edge->http_port, "/api/events", headers,
      [](const std::string& body) {
        const auto packed = body.find("\"status\":\"packed\"");
        return packed != std::string::npos && body.find("\n\n", packed) != std::string::npos;
      },
      10s);
  EXPECT_GE(expect_events_documented(edge_doc, "/api/events", events), 5) << events.body;
  EXPECT_TRUE(live->wait_for_output("event: order.claim", 10s)) << live->describe();
  EXPECT_TRUE(live->wait_for_output(R"("status":"packed")", 10s)) << live->describe();
  record_stream(edge->http_port, "/api/events?types=order", live->stdout_text());
  EXPECT_GE(expect_events_documented(edge_doc, "/api/events",
                                     StreamRead{.status = 200, .body = live->stdout_text()}),
            3)
      << live->stdout_text();
  std::cout << "journey: " << c.calls() << " cloud and " << e.calls() << " edge calls checked\n";
}

}  // namespace
}  // namespace shopeasy::testing
