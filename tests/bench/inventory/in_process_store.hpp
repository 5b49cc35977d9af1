// An edge store and inventory running inside the benchmark process, owned together so
// they are torn down in the right order: what the ledger-write phase drives directly,
// and how baseline databases get exactly the daemon's schema, bins and catalog.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "edge/events/event_bus.hpp"
#include "edge/inventory/inventory.hpp"
#include "edge/store/edge_store.hpp"
#include "tests/bench/inventory/catalog_gen.hpp"

namespace shopeasy::bench {

class InProcessStore {
 public:
  // Opens (creating and migrating) the database at `path`, synchronous FULL when
  // `durable` else NORMAL. Errors as EdgeStore::open. Logs warnings and errors only.
  static StatusOr<std::unique_ptr<InProcessStore>> open(const std::string& path, bool durable);
  ~InProcessStore();
  InProcessStore(const InProcessStore&) = delete;
  InProcessStore& operator=(const InProcessStore&) = delete;

  // Thread-safe, as Inventory is.
  edge::inventory::Inventory& inventory() { return *inventory_; }
  // Creates the bins and imports the catalog atomically through Inventory.
  Status load_catalog(const std::vector<std::string>& bins,
                      const std::vector<BenchProduct>& catalog);
  // The store's metrics in Prometheus text form.
  std::string render_metrics() const { return registry_.render(); }
  // Lets queued writes finish and stops the writer. Idempotent.
  void stop();

 private:
  InProcessStore() = default;

  SystemClock clock_;
  edge::events::EventBus bus_;
  metrics::Registry registry_;
  log::Logger logger_{std::make_shared<log::StderrSink>(), log::Level::kWarn, "bench"};
  std::unique_ptr<edge::store::EdgeStore> store_;  // after registry_: unregisters first
  std::unique_ptr<edge::inventory::Inventory> inventory_;
};

}  // namespace shopeasy::bench
