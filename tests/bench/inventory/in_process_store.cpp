#include "tests/bench/inventory/in_process_store.hpp"

namespace shopeasy::bench {

StatusOr<std::unique_ptr<InProcessStore>> InProcessStore::open(const std::string& path,
                                                               bool durable) {
  std::unique_ptr<InProcessStore> s(new InProcessStore());
  edge::store::StoreOptions o;
  o.path = path;
  o.durable = durable;
  auto opened = edge::store::EdgeStore::open(o, s->clock_, s->bus_, s->logger_, s->registry_);
  if (!opened.ok()) return opened.status();
  s->store_ = std::move(*opened);
  s->inventory_ = std::make_unique<edge::inventory::Inventory>(*s->store_, "bench-store",
                                                               s->logger_, s->registry_);
  return s;
}

InProcessStore::~InProcessStore() {
  inventory_.reset();
  stop();
}

void InProcessStore::stop() {
  if (store_) store_->stop();
}

Status InProcessStore::load_catalog(const std::vector<std::string>& bins,
                                    const std::vector<BenchProduct>& catalog) {
  std::vector<edge::inventory::BinInput> bin_rows;
  for (std::size_t i = 0; i < bins.size(); ++i) {
    bin_rows.push_back({bins[i], static_cast<std::int64_t>(i), ""});
  }
  const edge::inventory::Actor admin{"bench", "api"};
  auto made = inventory_->upsert_bins(bin_rows, admin);
  if (!made.ok()) return made.status();
  std::vector<StatusOr<edge::inventory::ProductInput>> rows;
  for (const auto& p : catalog) {
    edge::inventory::ProductInput in;
    in.sku = p.sku;
    in.name = p.name;
    in.category = p.category;
    in.price_cents = p.price_cents;
    in.barcodes = {p.ean13};
    in.home_bin = p.home_bin;
    in.reorder_point = p.reorder_point;
    rows.emplace_back(std::move(in));
  }
  auto imported = inventory_->upsert_products(rows, true, admin);
  return imported.ok() ? Status::ok() : imported.status();
}

}  // namespace shopeasy::bench
