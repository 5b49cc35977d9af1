// Phase 3: bytes on the wire per stock change. Realistic stored events go through the
// SyncClient's steps (compact body, batch, compact JSON, gzip as the HTTP client
// compresses requests), for batches of 100, 500 and 2,000 changes. The edge's own
// counters from phases 1 and 5 give the same figure for what it really sent.
#include <chrono>
#include <random>

#include "tests/bench/sync/phases.hpp"
#include "tests/bench/sync/stock_events.hpp"

namespace shopeasy::syncbench {

namespace {

constexpr const char* kStoreId = "blr-wire-1";

struct BatchBytes {
  std::size_t stored = 0;  // the events' stored bodies
  std::size_t json = 0;    // the request body before compression
  std::size_t gzip = 0;    // on the wire
};

BatchBytes measure_batch(StoreSimulator& store, std::int64_t first_seq, int changes,
                         std::int64_t& ts_ms) {
  BatchBytes b;
  nlohmann::json list = nlohmann::json::array();
  // A busy store: a change every 50 ms or so, in bursts.
  std::mt19937 rng(static_cast<std::uint32_t>(first_seq));
  std::uniform_int_distribution<int> gap(0, 100);
  for (int i = 0; i < changes; ++i) {
    ts_ms += gap(rng);
    const StockMove move = store.next(ts_ms);
    b.stored += move.body.size();
    list.push_back(sync_change(first_seq + i, kStockChanged, move.body));
  }
  const std::string text = sync_batch_text(kStoreId, first_seq, std::move(list), 0, ts_ms + 20);
  b.json = text.size();
  b.gzip = gzip_like_client(text).size();
  return b;
}

}  // namespace

std::int64_t typical_batch_gzip_bytes(int changes, int skus) {
  StoreSimulator store(kStoreId, skus, 7);
  std::int64_t ts = 1767225600000;
  // Warm the simulated store up so reservations and picks are in their steady mix.
  for (int i = 0; i < 20000; ++i) (void)store.next(ts);
  return static_cast<std::int64_t>(measure_batch(store, 20001, changes, ts).gzip);
}

Status run_wire_phase(const Args& args, Report& report) {
  report.phase("3. Bytes on the wire per stock change (SyncClient batch, gzip)",
               args.command_for('3'));
  StoreSimulator store(kStoreId, args.skus, 11);
  std::int64_t ts = 1767225600000;
  for (int i = 0; i < 20000; ++i) (void)store.next(ts);
  std::int64_t seq = 20001;
  // Consistency check: the simulated bodies are byte-identical to what the edge stores
  // (nlohmann::json dump of the same object), so the compression figures are honest.
  {
    const StockMove sample = store.next(ts);
    const auto reparsed = nlohmann::json::parse(sample.body, nullptr, false);
    if (reparsed.is_discarded() || reparsed.dump() != sample.body) {
      return internal_error("the simulated event body is not in the edge's stored form: " +
                            sample.body);
    }
    report.note("a stored body: " + sample.body);
    report.note("on the wire:   " + sync_change(seq, kStockChanged, sample.body).dump());
    ++seq;
  }
  const int rounds = args.quick ? 5 : 20;
  for (int size : {100, 500, 2000}) {
    BatchBytes total;
    for (int r = 0; r < rounds; ++r) {
      const BatchBytes b = measure_batch(store, seq, size, ts);
      seq += size;
      total.stored += b.stored;
      total.json += b.json;
      total.gzip += b.gzip;
    }
    const double n = static_cast<double>(size) * rounds;
    const double per_change = static_cast<double>(total.gzip) / n;
    report.figure(
        format("batch of %d: gzip bytes per change", size),
        format("%.1f B (JSON %.0f B, stored body %.0f B; %d batches)", per_change,
               static_cast<double>(total.json) / n, static_cast<double>(total.stored) / n, rounds),
        "< 60 B", per_change < 60);
  }
  return Status::ok();
}

}  // namespace shopeasy::syncbench
