#include "edge/sync/sync_client.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

#include "common/http/client.hpp"
#include "common/wire/json_fields.hpp"
#include "common/wire/reconcile.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::edge::sync {

namespace {

constexpr int kTrimRowsPerRound = 5000;

// The outbox id is kept as two signed 64-bit halves: sync_state holds integers.
std::string outbox_hex(std::int64_t hi, std::int64_t lo) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                static_cast<unsigned long long>(static_cast<std::uint64_t>(hi)),
                static_cast<unsigned long long>(static_cast<std::uint64_t>(lo)));
  return hex;
}

struct OutboxRow {
  std::int64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string type;
  std::string body;
};

// What the cloud needs of each kind of change. A stock change keeps the SKU's new
// totals (the replica is set from them, so order and replays cannot skew it) and the
// movement itself for the audit trail; the rest of the event stays on the edge.
nlohmann::json compact_body(const std::string& type, const std::string& body_text) {
  auto body = nlohmann::json::parse(body_text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return nlohmann::json::object();
  if (type != "stock.changed") return body;
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"sku", "bin", "lot", "delta", "reserved_delta", "reason", "ref", "ts_ms",
                          "sku_on_hand", "sku_reserved", "version"}) {
    if (body.contains(key)) out[key] = body[key];
  }
  return out;
}

// The newest seq the outbox has issued: its highest row, or past it when the newest rows
// were trimmed (AUTOINCREMENT's counter).
StatusOr<std::int64_t> newest_seq(db::Database& db) {
  auto max_seq = db.query_one<std::int64_t>("SELECT max(seq) FROM events");
  if (!max_seq.ok()) return max_seq.status();
  auto counter =
      db.query_one<std::int64_t>("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
  if (!counter.ok()) return counter.status();
  return std::max(max_seq->value_or(0), counter->value_or(0));
}

// An item hash is kept in sync_state's integer column as its 64 bits; 0 is "none".
std::string hash_hex(std::int64_t bits) {
  if (bits == 0) return "";
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(static_cast<std::uint64_t>(bits)));
  return hex;
}
std::int64_t hash_bits(const std::string& hex) {
  return hex.empty() ? 0 : static_cast<std::int64_t>(std::stoull(hex, nullptr, 16));
}

}  // namespace

SyncClient::SyncClient(SyncOptions options, store::EdgeStore& store, events::EventBus& bus,
                       DownstreamApplier apply, const Clock& clock, log::Logger logger,
                       metrics::Registry& metrics)
    : options_(std::move(options)),
      store_(store),
      bus_(bus),
      apply_(std::move(apply)),
      clock_(clock),
      logger_(std::move(logger)),
      backoff_(options_.min_backoff),
      acked_gauge_(metrics.gauge("edge_sync_acked_seq", "Highest change the cloud has applied")),
      backlog_gauge_(
          metrics.gauge("edge_sync_backlog_changes", "Changes not yet applied by the cloud")),
      backlog_bytes_gauge_(metrics.gauge("edge_sync_backlog_bytes",
                                         "Bytes of the last batch read from the backlog")),
      lag_gauge_(metrics.gauge("edge_sync_lag_seconds",
                               "Age of the oldest change the cloud has not applied")),
      sent_changes_(metrics.counter("edge_sync_changes_sent_total", "Changes sent (with resends)")),
      wire_bytes_(metrics.counter("edge_sync_wire_bytes_total", "Request body bytes on the wire")),
      duplicates_(metrics.counter("edge_sync_downstream_rejected_total",
                                  "Downstream items that could not be applied and were skipped")),
      failures_(metrics.counter_family("edge_sync_failures_total",
                                       "Failed sync exchanges by reason", {"reason"})),
      downstream_applied_(
          metrics.counter("edge_sync_downstream_applied_total", "Downstream items applied")),
      round_trip_(metrics.histogram("edge_sync_round_trip_seconds", "One sync exchange",
                                    metrics::default_latency_buckets())),
      reconcile_rounds_(metrics.counter("edge_sync_reconcile_rounds_total",
                                        "Reconciliation checksums sent to the cloud")),
      reconcile_repairs_(metrics.counter("edge_sync_reconcile_repaired_buckets_total",
                                         "Buckets re-sent because the cloud's replica differed")),
      resync_counter_(metrics.counter_family(
          "edge_sync_resyncs_total",
          "Full snapshots sent because the cloud could not continue from the outbox", {"reason"})) {
}

SyncClient::~SyncClient() { stop(); }

StatusOr<nlohmann::json> SyncClient::reconcile_snapshot() {
  return store_.read([&](db::Database& db) -> StatusOr<nlohmann::json> {
    // One read transaction: the checksums and the seq they cover come from one snapshot.
    auto tx = db.begin(db::TxMode::kDeferred);
    if (!tx.ok()) return tx.status();
    auto seq = db.query_one<std::int64_t>("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    if (!seq.ok()) return seq.status();
    wire::ChecksumBuilder builder(options_.reconcile_buckets);
    auto q = db.query("SELECT sku, on_hand, reserved FROM sku_totals");
    while (const db::Statement* row = q.next()) {
      builder.add(row->column_text(0), row->column_int64(1), row->column_int64(2));
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    (void)tx->rollback();
    return nlohmann::json{{"as_of_seq", seq->value_or(0)},
                          {"buckets", options_.reconcile_buckets},
                          {"checksums", wire::encode_checksums(builder.result())}};
  });
}

Status SyncClient::resend_buckets(const std::vector<int>& buckets) {
  std::vector<bool> wanted(static_cast<std::size_t>(options_.reconcile_buckets), false);
  for (int b : buckets) {
    if (b >= 0 && b < options_.reconcile_buckets) wanted[static_cast<std::size_t>(b)] = true;
  }
  auto resent_skus = store_.write([&](store::WriteContext& ctx) -> StatusOr<std::int64_t> {
    std::int64_t resent = 0;
    struct Row {
      std::string sku;
      std::int64_t on_hand, reserved, version;
    };
    std::vector<Row> rows;
    auto q = ctx.db().query("SELECT sku, on_hand, reserved, version FROM sku_totals");
    while (const db::Statement* row = q.next()) {
      std::string sku = row->column_text(0);
      if (wanted[static_cast<std::size_t>(wire::sku_bucket(sku, options_.reconcile_buckets))]) {
        rows.push_back(
            Row{std::move(sku), row->column_int64(1), row->column_int64(2), row->column_int64(3)});
      }
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    std::optional<std::int64_t> first;
    for (const auto& r : rows) {
      auto seq = ctx.emit("stock.snapshot", {{"sku", r.sku},
                                             {"sku_on_hand", r.on_hand},
                                             {"sku_reserved", r.reserved},
                                             {"version", r.version}});
      if (!seq.ok()) return seq.status();
      if (!first) first = *seq;
      ++resent;
    }
    // Rows of these buckets the cloud has from before the first snapshot are SKUs this
    // store no longer has (without a snapshot, every older row of the buckets is).
    std::vector<int> listed;
    for (int b = 0; b < options_.reconcile_buckets; ++b) {
      if (wanted[static_cast<std::size_t>(b)]) listed.push_back(b);
    }
    nlohmann::json end = {{"buckets", options_.reconcile_buckets}, {"bucket_list", listed}};
    if (first) end["from_seq"] = *first;
    auto end_seq = ctx.emit("stock.snapshot_end", std::move(end));
    if (!end_seq.ok()) return end_seq.status();
    return resent;
  });
  if (!resent_skus.ok()) return resent_skus.status();
  reconcile_repairs_.inc(buckets.size());
  logger_.warn("replica_repaired", {{"buckets", buckets.size()}, {"skus_resent", *resent_skus}});
  return Status::ok();
}

StatusOr<std::int64_t> SyncClient::load_position() {
  // The outbox id is made the first time this outbox syncs and kept with it: a copy of
  // the database (a backup) carries it along, a new database gets a new one.
  std::uint64_t bits[2];
  {
    std::random_device device;
    for (auto& b : bits) {
      b = (static_cast<std::uint64_t>(device()) << 32) ^ static_cast<std::uint64_t>(device());
    }
  }
  using SyncState = std::map<std::string, std::int64_t>;  // the sync_state rows, by key
  auto written = store_.write([&](store::WriteContext& ctx) -> StatusOr<SyncState> {
    db::Database& db = ctx.db();
    SHOPEASY_RETURN_IF_ERROR(
        db.run("INSERT OR IGNORE INTO sync_state (key, value) VALUES ('outbox_id_hi', ?), "
               "('outbox_id_lo', ?), ('resync_from_seq', 0), ('downstream_hash', 0)",
               static_cast<std::int64_t>(bits[0]), static_cast<std::int64_t>(bits[1])));
    SyncState out;
    auto q = db.query("SELECT key, value FROM sync_state");
    while (const db::Statement* row = q.next()) out[row->column_text(0)] = row->column_int64(1);
    SHOPEASY_RETURN_IF_ERROR(q.status());
    return out;
  });
  if (!written.ok()) return written.status();
  const auto& state = *written;
  auto value = [&state](const std::string& key) {
    auto it = state.find(key);
    return it == state.end() ? std::int64_t{0} : it->second;
  };
  shopeasy::sync::MutexLock lock(status_mutex_);
  acked_seq_ = value("acked_seq");
  downstream_cursor_ = value("downstream_cursor");
  downstream_hash_ = hash_hex(value("downstream_hash"));
  resync_from_seq_ = value("resync_from_seq");
  outbox_id_ = outbox_hex(value("outbox_id_hi"), value("outbox_id_lo"));
  return acked_seq_;
}

Status SyncClient::resync(std::int64_t cloud_acked, const std::string& reason) {
  const std::int64_t since_ms =
      to_unix_ms(clock_.wall_now()) -
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.resync_order_window).count();
  // What the snapshot wrote: its first sequence number and how much it holds.
  struct Snapshot {
    std::int64_t from_seq = 0;
    std::size_t skus = 0;
    std::size_t order_statuses = 0;
  };
  auto written = store_.write([&](store::WriteContext& ctx) -> StatusOr<Snapshot> {
    db::Database& db = ctx.db();
    // Seqs up to cloud_acked mean something else to the cloud (or are gone here): the
    // snapshot is numbered past them. AUTOINCREMENT continues from sqlite_sequence.
    auto counter =
        db.query_one<std::int64_t>("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    if (!counter.ok()) return counter.status();
    if (!counter->has_value()) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", cloud_acked));
    } else if (**counter < cloud_acked) {
      SHOPEASY_RETURN_IF_ERROR(
          db.run("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events'", cloud_acked));
    }
    struct Row {
      std::string sku;
      std::int64_t on_hand, reserved, version;
    };
    std::vector<Row> rows;
    {
      auto q = db.query("SELECT sku, on_hand, reserved, version FROM sku_totals ORDER BY sku");
      while (const db::Statement* row = q.next()) {
        rows.push_back(Row{row->column_text(0), row->column_int64(1), row->column_int64(2),
                           row->column_int64(3)});
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    std::optional<std::int64_t> first;
    auto emit = [&](std::string kind, nlohmann::json body) -> Status {
      auto seq = ctx.emit(std::move(kind), std::move(body));
      if (!seq.ok()) return seq.status();
      if (!first) first = *seq;
      return Status::ok();
    };
    for (const auto& r : rows) {
      SHOPEASY_RETURN_IF_ERROR(emit("stock.snapshot", {{"sku", r.sku},
                                                       {"sku_on_hand", r.on_hand},
                                                       {"sku_reserved", r.reserved},
                                                       {"version", r.version}}));
    }
    // Recent orders' history, oldest first: the cloud applies the legal transitions
    // and ignores the rest, so its orders catch up with what happened here.
    std::vector<nlohmann::json> statuses;
    {
      auto q = db.query(
          "SELECT h.order_id, h.status, h.at_ms, h.reason FROM order_history h "
          "JOIN orders o ON o.order_id = h.order_id WHERE o.updated_at_ms >= ? "
          "ORDER BY h.id",
          since_ms);
      while (const db::Statement* row = q.next()) {
        nlohmann::json body = {{"order_id", row->column_text(0)},
                               {"status", row->column_text(1)},
                               {"at_ms", row->column_int64(2)}};
        if (!row->column_is_null(3)) body["reason"] = row->column_text(3);
        statuses.push_back(std::move(body));
      }
      SHOPEASY_RETURN_IF_ERROR(q.status());
    }
    for (auto& body : statuses) SHOPEASY_RETURN_IF_ERROR(emit("order.status", std::move(body)));
    nlohmann::json end = nlohmann::json::object();
    if (first) end["from_seq"] = *first;
    auto end_seq = ctx.emit("stock.snapshot_end", std::move(end));
    if (!end_seq.ok()) return end_seq.status();
    const std::int64_t from = first.value_or(*end_seq);
    SHOPEASY_RETURN_IF_ERROR(
        db.run("UPDATE sync_state SET value = ? WHERE key = 'acked_seq'", from - 1));
    SHOPEASY_RETURN_IF_ERROR(
        db.run("UPDATE sync_state SET value = ? WHERE key = 'resync_from_seq'", from));
    return Snapshot{from, rows.size(), statuses.size()};
  });
  if (!written.ok()) return written.status();
  const std::int64_t from = written->from_seq;
  resync_counter_.with({reason}).inc();
  logger_.error("sync_resync", {{"reason", reason},
                                {"cloud_acked_seq", cloud_acked},
                                {"from_seq", from},
                                {"skus", written->skus},
                                {"order_statuses", written->order_statuses}});
  // For the alert board: a resync means the cloud had lost or mistaken this store's
  // history (a restored backup on either side), which a manager should know about.
  bus_.publish(events::Event{0,
                             "sync.resynced",
                             {{"reason", reason},
                              {"from_seq", from},
                              {"cloud_acked_seq", cloud_acked},
                              {"skus", written->skus},
                              {"order_statuses", written->order_statuses}},
                             to_unix_ms(clock_.wall_now())});
  shopeasy::sync::MutexLock lock(status_mutex_);
  acked_seq_ = from - 1;
  resync_from_seq_ = from;
  ++resyncs_;
  last_resync_ = {{"reason", reason},
                  {"at_ms", to_unix_ms(clock_.wall_now())},
                  {"from_seq", from},
                  {"cloud_acked_seq", cloud_acked}};
  return Status::ok();
}

Status SyncClient::start() {
  auto pos = load_position();
  if (!pos.ok()) return pos.status();
  logger_.info("sync_starting", {{"cloud", options_.cloud_url}, {"acked_seq", *pos}});
  thread_ = std::thread([this] { run(); });
  return Status::ok();
}

Status SyncClient::load() { return load_position().status(); }

void SyncClient::stop() {
  if (stop_.exchange(true)) return;
  bus_.wake_all();
  if (thread_.joinable()) thread_.join();
}

std::chrono::milliseconds SyncClient::next_backoff() {
  // Full jitter: a fleet of stores coming back together does not stampede the cloud.
  std::uniform_int_distribution<std::int64_t> pick(
      options_.min_backoff.count(), std::max(options_.min_backoff.count(), backoff_.count()));
  const std::chrono::milliseconds wait(pick(rng_));
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  return wait;
}

StatusOr<std::int64_t> SyncClient::sync_once() {
  const auto started = clock_.mono_now();
  std::int64_t acked = 0;
  std::int64_t cursor = 0;
  std::int64_t resync_from = 0;
  std::string outbox_id;
  std::string cursor_hash;
  {
    shopeasy::sync::MutexLock lock(status_mutex_);
    acked = acked_seq_;
    cursor = downstream_cursor_;
    cursor_hash = downstream_hash_;
    resync_from = resync_from_seq_;
    outbox_id = outbox_id_;
  }
  // 1. The next changes after what the cloud acknowledged, bounded by rows and bytes.
  std::vector<OutboxRow> rows;
  std::int64_t newest = 0;
  std::size_t bytes = 0;
  std::int64_t oldest_unsent_ts_ms = 0;  // of the first change after the batch (0: none)
  auto read = store_.read([&](db::Database& db) -> Status {
    // One snapshot: the head, the batch and what follows it agree with each other.
    auto tx = db.begin(db::TxMode::kDeferred);
    if (!tx.ok()) return tx.status();
    SHOPEASY_ASSIGN_OR_RETURN(newest, newest_seq(db));
    auto q =
        db.query("SELECT seq, ts_ms, type, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                 acked, static_cast<std::int64_t>(options_.max_changes));
    while (const db::Statement* row = q.next()) {
      OutboxRow r{row->column_int64(0), row->column_int64(1), row->column_text(2),
                  row->column_text(3)};
      bytes += r.body.size();
      rows.push_back(std::move(r));
      if (bytes >= options_.max_bytes) break;
    }
    SHOPEASY_RETURN_IF_ERROR(q.status());
    // What the batch leaves behind, so the cloud can show how old this store's backlog is.
    if (!rows.empty() && rows.back().seq < newest) {
      auto next = db.query_one<std::int64_t>(
          "SELECT ts_ms FROM events WHERE seq > ? ORDER BY seq LIMIT 1", rows.back().seq);
      if (!next.ok()) return next.status();
      oldest_unsent_ts_ms = next->value_or(0);
    }
    return tx->rollback();
  });
  if (!read.is_ok()) return read;
  if ((!rows.empty() && rows.front().seq != acked + 1) || (rows.empty() && newest > acked)) {
    // The cloud needs changes this outbox already trimmed (it lost data, e.g. was
    // restored from a backup). They cannot be resent: a full snapshot replaces them.
    failures_.with({"outbox_gap"}).inc();
    SHOPEASY_RETURN_IF_ERROR(resync(acked, "outbox_gap"));
    return unavailable("the cloud expects change " + std::to_string(acked + 1) +
                       ", which this outbox trimmed; a full snapshot was queued");
  }

  // 2. The batch.
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& r : rows) {
    changes.push_back({{"seq", r.seq}, {"kind", r.type}, {"body", compact_body(r.type, r.body)}});
  }
  nlohmann::json batch = {{"store_id", options_.store_id},
                          {"first_seq", acked + 1},
                          {"changes", std::move(changes)},
                          {"downstream_cursor", cursor},
                          {"sent_at_ms", to_unix_ms(clock_.wall_now())},
                          {"outbox_id", outbox_id},
                          {"head_seq", newest}};
  if (resync_from > 0 && acked + 1 == resync_from) batch["resync_from_seq"] = resync_from;
  if (!cursor_hash.empty()) batch["downstream_hash"] = cursor_hash;
  if (oldest_unsent_ts_ms > 0) batch["oldest_unsent_ts_ms"] = oldest_unsent_ts_ms;
  if (options_.load) {
    if (std::optional<wire::StoreLoadReport> load = options_.load()) {
      batch["load"] = {{"open_orders", load->open_orders},
                       {"available_runners", load->available_runners},
                       {"pick_queue", load->pick_queue}};
    }
  }
  std::optional<nlohmann::json> near_expiry_sent;
  if (options_.near_expiry) {
    if (std::optional<std::vector<wire::NearExpiryLot>> lots = options_.near_expiry()) {
      nlohmann::json list = wire::encode_near_expiry(*lots);
      if (!near_expiry_acked_ || *near_expiry_acked_ != list ||
          clock_.mono_now() - near_expiry_acked_at_ >= options_.near_expiry_refresh) {
        batch["near_expiry"] = list;
        near_expiry_sent = std::move(list);
      }
    }
  }
  std::optional<nlohmann::json> stock_cover_sent;
  if (options_.stock_cover) {
    if (std::optional<std::vector<wire::StockCover>> cover = options_.stock_cover()) {
      nlohmann::json list = wire::encode_stock_cover(*cover);
      if (!stock_cover_acked_ || *stock_cover_acked_ != list ||
          clock_.mono_now() - stock_cover_acked_at_ >= options_.stock_cover_refresh) {
        batch["stock_cover"] = list;
        stock_cover_sent = std::move(list);
      }
    }
  }
  // Caught up: now and then, let the cloud check its replica against our stock.
  if (rows.empty() && acked == newest && options_.reconcile_every.count() > 0 &&
      clock_.mono_now() >= next_reconcile_) {
    next_reconcile_ = clock_.mono_now() + options_.reconcile_every;
    auto snapshot = reconcile_snapshot();
    if (snapshot.ok() && (*snapshot)["as_of_seq"] == acked) {
      batch["reconcile"] = std::move(*snapshot);
      reconcile_rounds_.inc();
    }
  }
  {
    shopeasy::sync::MutexLock lock(status_mutex_);
    newest_seq_ = newest;
    oldest_unacked_ts_ms_ = rows.empty() ? 0 : rows.front().ts_ms;
  }
  backlog_gauge_.set(static_cast<double>(newest - acked));
  backlog_bytes_gauge_.set(static_cast<double>(bytes));
  lag_gauge_.set(rows.empty()
                     ? 0.0
                     : static_cast<double>(to_unix_ms(clock_.wall_now()) - rows.front().ts_ms) /
                           1000.0);

  // 3. The exchange.
  auto& client = client_;
  if (!client) {
    auto created = http::HttpClient::create(
        options_.cloud_url,
        http::ClientOptions{.compress_requests = true,
                            .ca_file = options_.ca_file,
                            .bearer_token = options_.store_id + ":" + options_.store_secret});
    if (!created.ok()) return created.status();
    client = std::move(*created);
  }
  auto response = client->post("/v1/stores/" + options_.store_id + "/sync",
                               wire::dump_compact(batch), "application/json");
  // Counted whether or not an answer came: resends after a cut are real traffic.
  wire_bytes_.inc(client->last_request_body_bytes());
  sent_changes_.inc(rows.size());
  if (!response.ok()) {
    client.reset();  // a fresh connection next time
    failures_.with({"unreachable"}).inc();
    return response.status();
  }
  if (response->status == 409) {
    auto body = nlohmann::json::parse(response->body, nullptr, false);
    // Our outbox does not continue what the cloud applied: a full snapshot, numbered
    // past what the cloud has, replaces the history.
    if (body.is_object() && body.contains("resync") && body["resync"].is_object() &&
        body["resync"].contains("acked_seq") && body["resync"]["acked_seq"].is_number_integer()) {
      const std::string reason = body["resync"].value("reason", std::string("unknown"));
      failures_.with({"resync_required"}).inc();
      SHOPEASY_RETURN_IF_ERROR(resync(
          body["resync"]["acked_seq"].get<std::int64_t>(),
          reason == "outbox_changed" || reason == "edge_behind" || reason == "history_diverged"
              ? reason
              : "unknown"));
      return unavailable("the cloud cannot continue from this outbox (" + reason +
                         "); a full snapshot was queued");
    }
    // A gap: the cloud says where it stands; resend from there.
    if (body.is_object() && body.contains("expected_seq") &&
        body["expected_seq"].is_number_integer()) {
      const std::int64_t expected = body["expected_seq"].get<std::int64_t>();
      failures_.with({"gap"}).inc();
      if (expected - 1 < acked) {
        shopeasy::sync::MutexLock lock(status_mutex_);
        acked_seq_ = expected - 1;
      }
      return unavailable("the cloud expects change " + std::to_string(expected));
    }
  }
  if (response->status != 200) {
    const std::string reason = response->status == 401 || response->status == 403
                                   ? "refused_credentials"
                               : response->status >= 500 ? "cloud_error"
                                                         : "rejected";
    failures_.with({reason}).inc();
    return Status(
        response->status >= 500 ? StatusCode::kUnavailable : StatusCode::kFailedPrecondition,
        "the cloud answered " + std::to_string(response->status) + ": " +
            response->body.substr(0, 300));
  }
  auto reply = wire::parse_sync_reply(response->body);
  if (!reply.ok()) {
    failures_.with({"bad_reply"}).inc();
    return Status(StatusCode::kUnavailable, "unreadable sync reply: " + reply.status().message());
  }
  if (near_expiry_sent) {
    near_expiry_acked_ = std::move(near_expiry_sent);
    near_expiry_acked_at_ = clock_.mono_now();
  }
  if (stock_cover_sent) {
    stock_cover_acked_ = std::move(stock_cover_sent);
    stock_cover_acked_at_ = clock_.mono_now();
  }

  // 4. Record the acknowledgement and apply downstream items with their cursor, in one
  // transaction; trim what both sides no longer need.
  const std::int64_t new_acked = std::min(reply->acked_seq, newest);
  std::int64_t applied_items = 0;
  std::string new_hash = cursor_hash;
  auto written = store_.write([&](store::WriteContext& ctx) -> StatusOr<std::int64_t> {
    std::int64_t new_cursor = cursor;
    new_hash = cursor_hash;
    for (const auto& item : reply->downstream) {
      if (item.cursor <= new_cursor) continue;  // already applied
      auto savepoint = ctx.db().begin();
      if (!savepoint.ok()) return savepoint.status();
      Status st = apply_ ? apply_(ctx, item.kind, item.body)
                         : failed_precondition("no handler for " + item.kind);
      if (st.is_ok()) st = savepoint->commit();
      if (!st.is_ok()) {
        (void)savepoint->rollback();
        duplicates_.inc();
        logger_.error("downstream_item_skipped",
                      {{"cursor", item.cursor}, {"kind", item.kind}, {"error", st.to_string()}});
      } else {
        ++applied_items;
      }
      new_cursor = item.cursor;
      new_hash = wire::downstream_item_hash(item.kind, item.body);
    }
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "UPDATE sync_state SET value = ? WHERE key = 'downstream_cursor'", new_cursor));
    SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
        "UPDATE sync_state SET value = ? WHERE key = 'downstream_hash'", hash_bits(new_hash)));
    SHOPEASY_RETURN_IF_ERROR(
        ctx.db().run("UPDATE sync_state SET value = ? WHERE key = 'acked_seq'", new_acked));
    const std::int64_t trim_to = std::min(new_acked, newest - options_.keep_acked_events);
    if (trim_to > 0) {
      SHOPEASY_RETURN_IF_ERROR(ctx.db().run(
          "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq "
          "LIMIT ?)",
          trim_to, kTrimRowsPerRound));
    }
    return new_cursor;
  });
  if (!written.ok()) return written.status();
  downstream_applied_.inc(static_cast<std::uint64_t>(applied_items));
  {
    shopeasy::sync::MutexLock lock(status_mutex_);
    acked_seq_ = new_acked;
    downstream_cursor_ = *written;
    downstream_hash_ = new_hash;
    last_error_.clear();
    last_success_ms_ = to_unix_ms(clock_.wall_now());
    if (new_acked >= newest) oldest_unacked_ts_ms_ = 0;
  }
  if (!reply->resend_buckets.empty()) {
    SHOPEASY_RETURN_IF_ERROR(resend_buckets(reply->resend_buckets));
  }
  acked_gauge_.set(static_cast<double>(new_acked));
  backlog_gauge_.set(static_cast<double>(newest - new_acked));
  if (new_acked >= newest) lag_gauge_.set(0);
  round_trip_.observe(std::chrono::duration<double>(clock_.mono_now() - started).count());
  return new_acked - acked;
}

void SyncClient::run() {
  while (!stop_.load()) {
    // Taken before reading the outbox, so a change committed during the exchange wakes
    // the next round instead of waiting for the heartbeat.
    const auto bus_before = bus_.head();
    auto result = sync_once();
    if (!result.ok()) {
      {
        shopeasy::sync::MutexLock lock(status_mutex_);
        last_error_ = result.status().to_string();
      }
      std::uint64_t suppressed = 0;
      if (failure_log_.allow(clock_.mono_now(), &suppressed)) {
        logger_.warn("sync_failed",
                     {{"error", result.status().to_string()}, {"suppressed", suppressed}});
      }
      const auto wait = next_backoff();
      const auto until = clock_.mono_now() + wait;
      while (!stop_.load() && clock_.mono_now() < until) {
        (void)bus_.read(bus_.head(), 1, std::chrono::milliseconds(100));
      }
      continue;
    }
    backoff_ = options_.min_backoff;
    std::int64_t backlog = 0;
    double lag_s = 0;
    {
      shopeasy::sync::MutexLock lock(status_mutex_);
      backlog = newest_seq_ - acked_seq_;
      if (oldest_unacked_ts_ms_ > 0) {
        lag_s = (to_unix_ms(clock_.wall_now()) - oldest_unacked_ts_ms_) / 1000.0;
      }
    }
    // Alert once per crossing; the store keeps everything meanwhile.
    const bool lagging = lag_s > static_cast<double>(options_.lag_alert.count());
    if (lagging != lag_alerting_) {
      lag_alerting_ = lagging;
      if (lagging) {
        logger_.warn("sync_lagging", {{"lag_s", lag_s}, {"backlog", backlog}});
      } else {
        logger_.info("sync_caught_up", {{"backlog", backlog}});
      }
    }
    const bool big = backlog > options_.backlog_alert;
    if (big != backlog_alerting_) {
      backlog_alerting_ = big;
      if (big) logger_.warn("sync_backlog_large", {{"backlog", backlog}});
    }
    if (*result > 0 && backlog > 0) continue;  // more to drain
    // Caught up: wait for the next committed change, or the heartbeat.
    // Live events (an order claim, a scanner read) are stepped over: reading the same one
    // again would return at once and spin until the heartbeat.
    auto pos = bus_before;
    const auto until = clock_.mono_now() + options_.heartbeat;
    while (!stop_.load() && clock_.mono_now() < until) {
      auto r = bus_.read(pos, 64, std::chrono::milliseconds(250));
      pos = r.next;
      bool durable = r.lost;  // fell behind the ring: something durable may be among them
      for (const auto& e : r.events) durable = durable || e.seq > 0;
      if (durable) break;
    }
  }
}

StatusOr<SyncClient::OutboxHead> SyncClient::read_outbox_head(std::int64_t acked) const {
  return store_.read([&](db::Database& db) -> StatusOr<OutboxHead> {
    auto tx = db.begin(db::TxMode::kDeferred);  // both from one snapshot
    if (!tx.ok()) return tx.status();
    SHOPEASY_ASSIGN_OR_RETURN(const std::int64_t newest, newest_seq(db));
    auto oldest = db.query_one<std::int64_t>(
        "SELECT ts_ms FROM events WHERE seq > ? ORDER BY seq LIMIT 1", acked);
    if (!oldest.ok()) return oldest.status();
    (void)tx->rollback();
    return OutboxHead{.newest_seq = newest, .oldest_unacked_ts_ms = oldest->value_or(0)};
  });
}

nlohmann::json SyncClient::status() const {
  std::int64_t acked = 0;
  {
    shopeasy::sync::MutexLock lock(status_mutex_);
    acked = acked_seq_;
  }
  // The last exchange may have read the outbox just before the newest changes committed:
  // reporting its view would say "caught up" while changes wait to be sent.
  StatusOr<OutboxHead> head = read_outbox_head(acked);
  shopeasy::sync::MutexLock lock(status_mutex_);
  std::int64_t newest = newest_seq_;
  std::int64_t oldest_ts = oldest_unacked_ts_ms_;
  if (head.ok() && acked == acked_seq_) {
    newest = std::max(newest, head->newest_seq);
    oldest_ts = head->oldest_unacked_ts_ms;
  }
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const double lag = oldest_ts > 0 ? std::max<std::int64_t>(0, now - oldest_ts) / 1000.0 : 0.0;
  nlohmann::json s = {{"cloud", options_.cloud_url},
                      {"acked_seq", acked_seq_},
                      {"newest_seq", newest},
                      {"backlog", std::max<std::int64_t>(0, newest - acked_seq_)},
                      {"lag_s", lag},
                      {"lagging", lag > static_cast<double>(options_.lag_alert.count())},
                      {"downstream_cursor", downstream_cursor_}};
  s["outbox_id"] = outbox_id_;
  s["resyncs"] = resyncs_;
  if (!last_resync_.is_null()) s["last_resync"] = last_resync_;
  if (!last_error_.empty()) s["last_error"] = last_error_;
  if (last_success_ms_ > 0) s["last_success_ms"] = last_success_ms_;
  return s;
}

}  // namespace shopeasy::edge::sync
