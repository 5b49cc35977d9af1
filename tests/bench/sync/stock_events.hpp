// Realistic outbox content for the sync benchmark. StoreSimulator plays a busy dark
// store over a catalog of SKUs (skewed popularity, reservations for orders, picks
// that consume them, deliveries, damage and counts) and writes each movement as the
// edge's ledger does: a stock.changed event body with ledger.cpp's keys, dumped the
// way the edge stores it (compact, keys sorted). The helpers below then turn stored
// events into what the edge's SyncClient puts on the wire, by the same steps (keep the
// keys the cloud needs, build the batch, compact JSON, gzip as the HTTP client does).
// Not thread-safe; use one simulator per thread.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace shopeasy::syncbench {

inline constexpr const char* kStockChanged = "stock.changed";

// One movement as the edge records it.
struct StockMove {
  std::int64_t ts_ms = 0;
  std::string body;  // the events.body text
  // What the cloud's replica of the SKU becomes.
  int sku_index = 0;
  std::int64_t sku_on_hand = 0;
  std::int64_t sku_reserved = 0;
  std::int64_t version = 0;
};

class StoreSimulator {
 public:
  // `skus` >= 1 SKUs, named like "DAIRY-004213"; the same seed gives the same store.
  StoreSimulator(std::string store_id, int skus, std::uint64_t seed);

  // The next movement, stamped `ts_ms`.
  StockMove next(std::int64_t ts_ms);

  int sku_count() const { return static_cast<int>(skus_.size()); }
  const std::string& sku(int index) const { return skus_[static_cast<std::size_t>(index)].name; }

 private:
  struct Bin {
    std::string code;
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
  };
  struct Sku {
    std::string name;
    std::vector<Bin> bins;  // home bin first
    bool lot_tracked = false;
    std::string lot;
    std::string expiry;
    std::int64_t on_hand = 0;
    std::int64_t reserved = 0;
    std::int64_t version = 0;
  };
  int pick_sku();
  std::string order_ref();
  std::string scan_ref(int scanner);

  std::string store_id_;
  std::vector<Sku> skus_;
  std::mt19937_64 rng_;
  std::int64_t ledger_id_ = 0;
  std::int64_t order_no_ = 0;
  std::vector<std::int64_t> scan_no_;
};

// The body SyncClient sends for a stored event: for stock.changed only the SKU's new
// totals, the movement and its reference (the keys compact_body keeps).
nlohmann::json compact_body(std::string_view type, std::string_view stored_body);

// One change of a batch, as SyncClient builds it.
nlohmann::json sync_change(std::int64_t seq, std::string_view type, std::string_view stored_body);

// The request body of POST /v1/stores/{id}/sync as SyncClient serialises it.
std::string sync_batch_text(const std::string& store_id, std::int64_t first_seq,
                            nlohmann::json changes, std::int64_t downstream_cursor,
                            std::int64_t sent_at_ms);

// gzip with the HTTP client's settings (default level, gzip header); empty on failure.
std::string gzip_like_client(const std::string& text);

}  // namespace shopeasy::syncbench
