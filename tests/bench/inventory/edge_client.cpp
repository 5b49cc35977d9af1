#include "tests/bench/inventory/edge_client.hpp"

#include <regex>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_common.hpp"
#include "tests/harness/harness.hpp"

namespace shopeasy::bench {

std::string bench_token() { return testing::kAdminToken; }

StatusOr<testing::RunningDaemon> start_edge(const std::string& state_dir, int http_threads,
                                            bool durable) {
  std::vector<std::string> args = {"--http.port=0",
                                   "--state_dir=" + state_dir,
                                   "--mqtt.enabled=false",
                                   "--auth.tokens=" + testing::admin_tokens_json(),
                                   "--http.threads=" + std::to_string(http_threads),
                                   std::string("--store.durable=") + (durable ? "true" : "false")};
  for (auto& limit : lifted_daemon_limits()) args.push_back(std::move(limit));
  return testing::start_daemon("shopeasy-edge", args);
}

StatusOr<std::string> call_edge(int port, const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type) {
  auto headers = testing::bearer(bench_token());
  if (!content_type.empty()) headers["Content-Type"] = content_type;
  auto reply = testing::http_request_checked("127.0.0.1", port, method, path, body, headers,
                                             std::chrono::seconds(60));
  if (!reply.ok()) return reply.status();
  if (reply->status < 200 || reply->status >= 300) {
    return internal_error(method + " " + path + " answered " + std::to_string(reply->status) +
                          ": " + reply->body.substr(0, 300));
  }
  return std::move(reply->body);
}

Status load_catalog(int port, const std::vector<std::string>& bins,
                    const std::vector<BenchProduct>& catalog) {
  auto made = call_edge(port, "POST", "/api/bins", bins_json(bins), "application/json");
  if (!made.ok()) return made.status();
  auto imported = call_edge(port, "POST", "/api/catalog", catalog_csv(catalog), "text/csv");
  if (!imported.ok()) return imported.status();
  const auto report = nlohmann::json::parse(*imported, nullptr, false);
  if (!report.is_object() || report.value("applied", std::size_t{0}) != catalog.size()) {
    return internal_error("catalog import did not apply every row: " + imported->substr(0, 300));
  }
  return Status::ok();
}

StatusOr<PromPage> scrape_metrics(int port) {
  auto text = call_edge(port, "GET", "/metrics");
  if (!text.ok()) return text.status();
  return PromPage::parse(*text);
}

StatusOr<HelloServer> start_hello_server(const std::string& self_exe, int threads, bool tuned) {
  std::vector<std::string> argv = {self_exe, "--hello-server",
                                   "--http-threads=" + std::to_string(threads)};
  if (tuned) argv.push_back("--hello-tuned");
  auto child = testing::ChildProcess::spawn({.argv = argv});
  if (!child.ok()) return child.status();
  const std::optional<std::string> started =
      child->wait_for_line("event=started", std::chrono::seconds(10));
  if (!started) return unavailable("the hello server did not start:\n" + child->describe());
  std::smatch m;
  const std::string& out = *started;
  static const std::regex kPort("http_port=([0-9]+)");
  if (!std::regex_search(out, m, kPort)) return internal_error("no port from the hello server");
  return HelloServer{std::move(*child), std::stoi(m[1].str())};
}

}  // namespace shopeasy::bench
