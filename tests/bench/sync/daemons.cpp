#include "tests/bench/sync/daemons.hpp"

#include <chrono>

#include "tests/bench/bench_common.hpp"

namespace shopeasy::syncbench {

namespace {

using namespace std::chrono_literals;

StatusOr<testing::HttpReply> admin_call(int port, const std::string& method,
                                        const std::string& path, const std::string& body,
                                        const std::string& content_type) {
  auto headers = testing::bearer();
  if (!body.empty()) headers["Content-Type"] = content_type;
  return testing::http_request_checked("127.0.0.1", port, method, path, body, headers, 30s);
}

StatusOr<std::string> metrics_of(int port) {
  auto r = admin_call(port, "GET", "/metrics", "", "");
  if (!r.ok()) return r.status();
  if (r->status != 200) return unavailable("GET /metrics answered " + std::to_string(r->status));
  return std::move(r->body);
}

}  // namespace

StatusOr<Cloud> Cloud::start(const CloudConfig& config) {
  std::vector<std::string> args = {"--http.port=0", "--state_dir=" + config.state_dir.string(),
                                   "--auth.tokens=" + testing::admin_tokens_json()};
  std::map<std::string, std::string> env;
  if (config.postgres != nullptr) {
    args.push_back("--storage.backend=postgres");
    env["SHOPEASY_CLOUD_STORAGE_POSTGRES_DSN"] = config.postgres->dsn("cloud");
  }
  for (auto& limit : bench::lifted_daemon_limits()) args.push_back(std::move(limit));
  args.insert(args.end(), config.extra_args.begin(), config.extra_args.end());
  auto d = testing::start_daemon("shopeasy-cloud", args, env, 60s);
  if (!d.ok()) return d.status();
  return Cloud(std::move(*d));
}

Status Cloud::register_store(const std::string& id, const std::string& secret, double lat,
                             double lon) {
  const nlohmann::json body = {{"name", "Store " + id},
                               {"lat", lat},
                               {"lon", lon},
                               {"service_radius_m", 3000},
                               {"secret", secret}};
  auto r = admin_call(port(), "PUT", "/v1/stores/" + id, body.dump(), "application/json");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return internal_error("registering " + id + " answered " + std::to_string(r->status) + ": " +
                          r->body);
  }
  return Status::ok();
}

StatusOr<nlohmann::json> Cloud::sync_status(const std::string& id) {
  auto r = admin_call(port(), "GET", "/v1/stores/" + id + "/sync-status", "", "");
  if (!r.ok()) return r.status();
  if (r->status != 200) {
    return unavailable("sync-status answered " + std::to_string(r->status) + ": " + r->body);
  }
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object()) return internal_error("unreadable sync-status: " + r->body);
  return j;
}

StatusOr<std::int64_t> Cloud::last_applied_seq(const std::string& id) {
  auto s = sync_status(id);
  if (!s.ok()) return s.status();
  auto it = s->find("last_applied_seq");
  if (it == s->end() || !it->is_number_integer()) return internal_error("no last_applied_seq");
  return it->get<std::int64_t>();
}

StatusOr<std::string> Cloud::metrics() { return metrics_of(port()); }

std::optional<int> Cloud::stop() { return daemon_.process.terminate_and_wait(20s); }

StatusOr<Edge> Edge::start(const EdgeConfig& config) {
  std::vector<std::string> args = {"--http.port=0", "--state_dir=" + config.state_dir.string(),
                                   "--mqtt.enabled=false", "--store.id=" + config.store_id,
                                   "--auth.tokens=" + testing::admin_tokens_json()};
  std::map<std::string, std::string> env;
  if (!config.sync_url.empty()) {
    args.push_back("--sync.enabled=true");
    args.push_back("--sync.url=" + config.sync_url);
    args.push_back("--sync.batch_max_changes=" + std::to_string(config.batch_max_changes));
    env["SHOPEASY_EDGE_SYNC_STORE_SECRET"] = config.store_secret;
  }
  for (auto& limit : bench::lifted_daemon_limits()) args.push_back(std::move(limit));
  args.insert(args.end(), config.extra_args.begin(), config.extra_args.end());
  auto d = testing::start_daemon("shopeasy-edge", args, env, 60s);
  if (!d.ok()) return d.status();
  return Edge(std::move(*d));
}

StatusOr<testing::HttpReply> Edge::call(const std::string& method, const std::string& path,
                                        const std::string& body, const std::string& content_type) {
  return admin_call(port(), method, path, body, content_type);
}

StatusOr<std::string> Edge::metrics() { return metrics_of(port()); }

StatusOr<nlohmann::json> Edge::health() {
  auto r = call("GET", "/health");
  if (!r.ok()) return r.status();
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object()) return internal_error("unreadable /health: " + r->body);
  return j;
}

std::optional<int> Edge::stop() { return daemon_.process.terminate_and_wait(20s); }

Status create_edge_schema(const std::filesystem::path& state_dir, const std::string& store_id) {
  auto edge = Edge::start(EdgeConfig{.state_dir = state_dir, .store_id = store_id});
  if (!edge.ok()) return edge.status();
  const auto exit = edge->stop();
  if (!exit || (*exit != 0 && *exit != -15)) {
    return internal_error("the edge did not stop cleanly:\n" + edge->describe());
  }
  return Status::ok();
}

}  // namespace shopeasy::syncbench
