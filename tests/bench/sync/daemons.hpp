// The real processes the sync benchmark measures: shopeasy-cloud (embedded SQLite or
// PostgreSQL storage) and shopeasy-edge (with or without cloud sync), started as child
// processes on ports they pick themselves, plus the few calls the benchmark makes on
// them. Each object owns its process: destruction kills it. One thread at a time.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"
#include "tests/harness/harness.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::syncbench {

struct CloudConfig {
  std::filesystem::path state_dir;
  // A running server with a database named "cloud"; null for the embedded store.
  const testing::PostgresServer* postgres = nullptr;
  std::vector<std::string> extra_args{};
};

class Cloud {
 public:
  // Starts the daemon and waits for it to listen. Errors carry its output.
  static StatusOr<Cloud> start(const CloudConfig& config);

  int port() const { return daemon_.http_port; }
  pid_t pid() const { return daemon_.process.pid(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::string describe() const { return daemon_.process.describe(); }

  // PUT /v1/stores/{id} with the secret the store will sync with (>= 16 characters).
  Status register_store(const std::string& id, const std::string& secret, double lat = 12.9719,
                        double lon = 77.6412);
  // GET /v1/stores/{id}/sync-status as admin.
  StatusOr<nlohmann::json> sync_status(const std::string& id);
  // The store's last_applied_seq.
  StatusOr<std::int64_t> last_applied_seq(const std::string& id);
  // GET /metrics as admin.
  StatusOr<std::string> metrics();
  // SIGTERM and wait; returns the exit status (nullopt if it could not be reaped).
  std::optional<int> stop();

 private:
  explicit Cloud(testing::RunningDaemon daemon) : daemon_(std::move(daemon)) {}
  testing::RunningDaemon daemon_;
};

struct EdgeConfig {
  std::filesystem::path state_dir;  // edge.db lives here
  std::string store_id;
  // Empty: sync disabled.
  std::string sync_url{};
  std::string store_secret{};
  int batch_max_changes = 2000;
  std::vector<std::string> extra_args{};
};

class Edge {
 public:
  static StatusOr<Edge> start(const EdgeConfig& config);

  int port() const { return daemon_.http_port; }
  pid_t pid() const { return daemon_.process.pid(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::string describe() const { return daemon_.process.describe(); }

  // A call as admin; kUnavailable when the daemon does not answer.
  StatusOr<testing::HttpReply> call(const std::string& method, const std::string& path,
                                    const std::string& body = "",
                                    const std::string& content_type = "application/json");
  StatusOr<std::string> metrics();
  StatusOr<nlohmann::json> health();
  std::optional<int> stop();

 private:
  explicit Edge(testing::RunningDaemon daemon) : daemon_(std::move(daemon)) {}
  testing::RunningDaemon daemon_;
};

// Starts an edge on an empty state directory with sync off so it creates its schema,
// then stops it: afterwards `state_dir`/edge.db holds an empty, migrated store.
Status create_edge_schema(const std::filesystem::path& state_dir, const std::string& store_id);

}  // namespace shopeasy::syncbench
