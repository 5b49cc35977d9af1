#include "cloud/api/cloud_routes.hpp"

#include "common/geohash/geohash.hpp"
#include "common/http/auth.hpp"
#include "common/http/request_helpers.hpp"
#include "common/wire/json_fields.hpp"
#include "common/wire/reconcile.hpp"
#include "common/wire/sync.hpp"

namespace shopeasy::cloud::api {

using http::Access;
using http::Request;
using http::Response;

namespace {

const std::vector<std::string> kCustomers = {"customer", "admin"};

StatusOr<nlohmann::json> body_of(const Request& req, std::size_t max = 1 << 20) {
  if (!req.is_json()) {
    return Status(StatusCode::kUnsupportedMediaType, "Content-Type must be application/json");
  }
  auto j = wire::parse_json(req.body, max);
  if (!j.ok()) return j.status();
  if (!j->is_object()) return invalid_argument("the body must be a JSON object");
  return j;
}

// The point a customer's geohash stands for: its cell's centre.
StatusOr<geohash::LatLon> point_of(const Request& req) {
  auto hash = req.query_param("geo_hash");
  if (!hash || hash->empty()) return invalid_argument("geo_hash is required", "geo_hash");
  auto p = geohash::decode(*hash);
  if (!p.ok()) return Status(StatusCode::kInvalidArgument, p.status().message(), "geo_hash");
  return *p;
}

}  // namespace

routing::IndexedStore indexed_store(const storage::StoreRecord& record) {
  const auto& r = record.registration;
  return routing::IndexedStore{
      r.id,    r.name, {r.lat, r.lon}, r.service_radius_m, r.opening_hours, record.last_seen_ms,
      r.active};
}

CloudRoutes::CloudRoutes(storage::CloudStore& store, routing::StoreIndex& index, const Clock& clock,
                         CloudRouteOptions options, log::Logger logger, metrics::Registry& metrics)
    : store_(store),
      index_(index),
      clock_(clock),
      options_(options),
      logger_(std::move(logger)),
      applied_(metrics.counter("cloud_sync_changes_applied_total", "Store changes applied")),
      duplicates_(metrics.counter("cloud_sync_duplicates_total",
                                  "Store changes received again and ignored")),
      refused_(metrics.counter_family("cloud_sync_refused_total", "Sync batches refused, by reason",
                                      {"reason"})),
      batch_seconds_(metrics.histogram("cloud_sync_batch_seconds", "Time to apply one sync batch",
                                       metrics::default_latency_buckets())),
      reconcile_checks_(metrics.counter("cloud_reconcile_checks_total",
                                        "Replica checksum comparisons with a store")),
      reconcile_mismatches_(metrics.counter("cloud_reconcile_mismatched_buckets_total",
                                            "Checksum buckets that differed from the store's")),
      quarantined_(metrics.counter("cloud_sync_quarantined_total",
                                   "Malformed store changes set aside and acknowledged")),
      resyncs_(metrics.counter_family(
          "cloud_sync_resyncs_total",
          "Stores told to resynchronise (by reason) and full snapshots started", {"reason"})),
      realigned_(metrics.counter_family(
          "cloud_sync_downstream_realigned_total",
          "Downstream queues realigned with a store's cursor after a restore on either side",
          {"gap"})),
      pruned_(metrics.counter("cloud_sync_replica_rows_removed_total",
                              "Replica rows removed because the store no longer has the SKU")),
      pages_(clock, CatalogPageCache::Options{}, metrics) {}

void CloudRoutes::register_routes(http::HttpServer& server) {
  // Stores send their batches gzip-compressed; only this route inflates a body.
  server.route(
      "POST", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/sync)", Access::roles_of({"store"}),
      [this](const Request& r) { return sync(r); }, http::BodyOptions{.accept_gzip = true});
  server.route("GET", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/sync-status)",
               Access::roles_of({"store", "admin"}),
               [this](const Request& r) { return sync_status(r); });
  server.route("GET", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/replica)",
               Access::roles_of({"store", "admin"}),
               [this](const Request& r) { return replica(r); });
  server.route("GET", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/purchase-orders)",
               Access::roles_of({"store", "admin"}),
               [this](const Request& r) { return purchase_orders(r); });
  server.route("GET", R"(/v1/stores/([A-Za-z0-9_-]{1,64})/quarantine)",
               Access::roles_of({"store", "admin"}),
               [this](const Request& r) { return quarantine(r); });
  server.route("PUT", R"(/v1/stores/([A-Za-z0-9_-]{1,64}))",
               Access::roles_of({"admin"}).audited("store.put"),
               [this](const Request& r) { return put_store(r); });
  server.route("GET", "/v1/stores", Access::roles_of({"admin"}),
               [this](const Request& r) { return list_stores(r); });
  server.route("PUT", R"(/v1/catalog/([^/]{1,64}))",
               Access::roles_of({"admin"}).audited("catalog.put"),
               [this](const Request& r) { return put_catalog_item(r); });
  server.route("GET", "/api/stores", Access::roles_of(kCustomers),
               [this](const Request& r) { return serving_stores(r); });
  server.route("GET", "/api/inventory", Access::roles_of(kCustomers),
               [this](const Request& r) { return inventory(r); });
  server.route("GET", "/api/area", Access::roles_of(kCustomers),
               [this](const Request& r) { return served_area(r); });
}

Response CloudRoutes::sync(const Request& req) {
  const auto started = clock_.mono_now();
  const std::string& id = req.params[0];
  auto refuse = [&](const std::string& reason, const Status& st) {
    refused_.with({reason}).inc();
    return Response::error(st);
  };
  if (req.principal.subject != id) {
    return refuse("wrong_store",
                  Status(StatusCode::kPermissionDenied,
                         "store " + req.principal.subject + " may not sync as " + id));
  }
  if (!req.is_json()) {
    return refuse("media_type", Status(StatusCode::kUnsupportedMediaType,
                                       "Content-Type must be application/json"));
  }
  auto batch = wire::parse_sync_batch(req.body);
  if (!batch.ok()) return refuse("malformed", batch.status());
  if (batch->store_id != id) {
    return refuse(
        "wrong_store",
        invalid_argument("the batch is for store " + batch->store_id + ", not " + id, "store_id"));
  }
  std::vector<storage::Change> changes;
  changes.reserve(batch->changes.size());
  for (auto& c : batch->changes) {
    changes.push_back(storage::Change{c.seq, std::move(c.kind), std::move(c.body)});
  }
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const storage::BatchMeta meta{.outbox_id = batch->outbox_id.value_or(""),
                                .head_seq = batch->head_seq,
                                .resync_from_seq = batch->resync_from_seq,
                                .oldest_unsent_ms = batch->oldest_unsent_ts_ms};
  auto result = store_.apply_batch(id, changes, now, meta);
  if (!result.ok()) return refuse("apply_failed", result.status());
  index_.touch(id, now);
  if (!changes.empty()) pages_.drop_store(id);  // its stock may have changed
  if (result->conflict != storage::HistoryConflict::kNone) {
    // The store's outbox no longer continues what was applied here (its database was
    // restored or replaced): acknowledging by seq would drop its new changes as
    // duplicates. It must send a full snapshot instead.
    const std::string reason(storage::to_string(result->conflict));
    refused_.with({reason}).inc();
    resyncs_.with({reason}).inc();
    logger_.warn("store_resync_required", {{"store", id},
                                           {"reason", reason},
                                           {"last_applied_seq", result->acked_seq},
                                           {"first_seq", batch->first_seq},
                                           {"head_seq", batch->head_seq.value_or(-1)}});
    const Status conflict(StatusCode::kFailedPrecondition,
                          "the store's outbox does not continue the history applied up to " +
                              std::to_string(result->acked_seq) + " (" + reason +
                              "); send a full snapshot from beyond it",
                          "first_seq");
    nlohmann::json body = nlohmann::json::parse(http::error_body(conflict));
    body["resync"] = {{"reason", reason}, {"acked_seq", result->acked_seq}};
    return Response::json(409, body);
  }
  if (result->resynced) {
    resyncs_.with({"snapshot_started"}).inc();
    logger_.warn("store_resync_started", {{"store", id}, {"from_seq", batch->first_seq}});
  }
  if (result->pruned > 0) {
    pruned_.inc(static_cast<std::uint64_t>(result->pruned));
    logger_.info("replica_rows_removed", {{"store", id}, {"rows", result->pruned}});
  }
  for (const auto& q : result->quarantined) {
    quarantined_.inc();
    logger_.warn(
        "change_quarantined",
        {{"store", id}, {"seq", q.seq}, {"kind", q.kind}, {"field", q.field}, {"error", q.reason}});
  }
  applied_.inc(static_cast<std::uint64_t>(result->applied));
  duplicates_.inc(static_cast<std::uint64_t>(result->duplicates));
  if (result->expected_seq) {
    refused_.with({"gap"}).inc();
    const Status gap(StatusCode::kOutOfRange,
                     "changes must continue from " + std::to_string(*result->expected_seq) +
                         "; this batch starts at " + std::to_string(batch->first_seq),
                     "first_seq");
    nlohmann::json body = nlohmann::json::parse(http::error_body(gap));
    body["expected_seq"] = *result->expected_seq;
    body["acked_seq"] = result->acked_seq;
    return Response::json(409, body);
  }
  if (batch->load) {
    // Best effort: a lost report only leaves the last one to age into neutral.
    Status reported = store_.put_store_load(
        storage::StoreLoad{.store_id = id,
                           .open_orders = batch->load->open_orders,
                           .available_runners = batch->load->available_runners,
                           .pick_queue = batch->load->pick_queue,
                           .at_ms = to_unix_ms(clock_.wall_now())});
    if (!reported.is_ok()) {
      logger_.warn("store_load_not_recorded", {{"store", id}, {"error", reported.to_string()}});
    }
  }
  if (batch->near_expiry) {
    // Best effort too: without a fresh list the quotes simply mark nothing down.
    Status reported = store_.put_store_lots(storage::StoreLots{
        .store_id = id, .lots = *batch->near_expiry, .at_ms = to_unix_ms(clock_.wall_now())});
    if (!reported.is_ok()) {
      logger_.warn("store_lots_not_recorded", {{"store", id}, {"error", reported.to_string()}});
    }
  }
  if (batch->stock_cover) {
    // Best effort as well: without a fresh list the inventory rule leaves prices alone.
    Status reported = store_.put_store_cover(storage::StoreCover{
        .store_id = id, .cover = *batch->stock_cover, .at_ms = to_unix_ms(clock_.wall_now())});
    if (!reported.is_ok()) {
      logger_.warn("store_cover_not_recorded", {{"store", id}, {"error", reported.to_string()}});
    }
  }
  // A store or a cloud restored from a backup no longer agrees with the queue on where
  // the store stands; realign before anything is trimmed or handed out.
  auto aligned =
      store_.align_downstream(id, batch->downstream_cursor, batch->downstream_hash.value_or(""),
                              to_unix_ms(clock_.wall_now()));
  if (!aligned.ok()) return Response::error(aligned.status());
  if (aligned->gap != storage::DownstreamGap::kNone) {
    const char* gap =
        aligned->gap == storage::DownstreamGap::kStoreBehind ? "store_behind" : "store_ahead";
    realigned_.with({gap}).inc();
    logger_.warn("downstream_realigned", {{"store", id},
                                          {"gap", gap},
                                          {"store_cursor", batch->downstream_cursor},
                                          {"items", aligned->requeued}});
  }
  // The edge confirmed applying everything up to its cursor: those can go.
  if (batch->downstream_cursor > 0) {
    Status trimmed = store_.trim_downstream(id, batch->downstream_cursor);
    if (!trimmed.is_ok()) logger_.warn("downstream_trim_failed", {{"error", trimmed.to_string()}});
  }
  auto items = store_.downstream(id, batch->downstream_cursor, options_.downstream_page);
  if (!items.ok()) return Response::error(items.status());
  wire::SyncReply reply;
  reply.acked_seq = result->acked_seq;
  if (batch->reconcile) {
    auto differing = reconcile(id, *batch->reconcile, result->acked_seq);
    if (differing.ok()) {
      reply.resend_buckets = std::move(*differing);
    } else {
      refused_.with({"bad_reconcile"}).inc();
      logger_.warn("reconcile_refused", {{"store", id}, {"error", differing.status().to_string()}});
    }
  }
  reply.next_cursor = batch->downstream_cursor;
  for (auto& item : *items) {
    reply.next_cursor = item.cursor;
    reply.downstream.push_back(
        wire::DownstreamItem{item.cursor, std::move(item.kind), std::move(item.body)});
  }
  batch_seconds_.observe(std::chrono::duration<double>(clock_.mono_now() - started).count());
  return Response::json(200, wire::encode(reply));
}

StatusOr<std::vector<int>> CloudRoutes::reconcile(const std::string& store_id,
                                                  const nlohmann::json& request,
                                                  std::int64_t acked_seq) {
  if (!request.contains("as_of_seq") || !request["as_of_seq"].is_number_integer() ||
      !request.contains("buckets") || !request["buckets"].is_number_integer()) {
    return invalid_argument("reconcile needs as_of_seq and buckets", "reconcile");
  }
  // Only comparable when the replica stands exactly where the store computed its sums.
  if (request["as_of_seq"].get<std::int64_t>() != acked_seq) return std::vector<int>();
  const int buckets = request["buckets"].get<int>();
  if (buckets < 1 || buckets > 4096) {
    return invalid_argument("buckets must be 1..4096", "reconcile.buckets");
  }
  auto theirs = wire::decode_checksums(request.value("checksums", nlohmann::json()), buckets);
  if (!theirs.ok()) return theirs.status();
  auto ours = store_.checksums(store_id, buckets);
  if (!ours.ok()) return ours.status();
  std::vector<wire::BucketChecksum> mine;
  for (const auto& c : *ours) mine.push_back(wire::BucketChecksum{c.bucket, c.rows, c.checksum});
  auto differing = wire::differing_buckets(*theirs, mine);
  reconcile_checks_.inc();
  if (!differing.empty()) {
    reconcile_mismatches_.inc(differing.size());
    logger_.warn("replica_diverged", {{"store", store_id}, {"buckets", differing.size()}});
  }
  return differing;
}

nlohmann::json CloudRoutes::store_summary(const storage::StoreRecord& s,
                                          std::int64_t now_ms) const {
  const auto& r = s.registration;
  const bool online = s.last_seen_ms > 0 && now_ms - s.last_seen_ms <= options_.online_window_ms;
  nlohmann::json out = {{"id", r.id},
                        {"name", r.name},
                        {"lat", r.lat},
                        {"lon", r.lon},
                        {"geohash", s.geohash},
                        {"service_radius_m", r.service_radius_m},
                        {"opening_hours", r.opening_hours},
                        {"active", r.active},
                        {"online", online},
                        {"open", routing::is_open(r.opening_hours, now_ms)},
                        {"last_applied_seq", s.last_applied_seq},
                        {"applied_changes", s.applied_changes},
                        {"duplicate_changes", s.duplicate_changes},
                        {"quarantined_changes", s.quarantined_changes},
                        {"resyncs", s.resyncs}};
  if (!s.outbox_id.empty()) out["outbox_id"] = s.outbox_id;
  if (s.last_seen_ms > 0) {
    out["last_seen_ms"] = s.last_seen_ms;
    out["seconds_since_seen"] = (now_ms - s.last_seen_ms) / 1000.0;
  }
  return out;
}

Response CloudRoutes::sync_status(const Request& req) {
  const std::string& id = req.params[0];
  if (req.principal.role == "store" && req.principal.subject != id) {
    return Response::error(Status(StatusCode::kPermissionDenied, "another store's status"));
  }
  auto s = store_.get_store(id);
  if (!s.ok()) return Response::error(s.status());
  return Response::json(200, store_summary(*s, to_unix_ms(clock_.wall_now())));
}

Response CloudRoutes::quarantine(const Request& req) {
  const std::string& id = req.params[0];
  if (req.principal.role == "store" && req.principal.subject != id) {
    return Response::error(Status(StatusCode::kPermissionDenied, "another store's quarantine"));
  }
  int limit = 100;
  if (auto l = req.query_param("limit")) {
    try {
      limit = std::stoi(*l);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 1000) {
      return Response::error(invalid_argument("must be between 1 and 1000", "limit"));
    }
  }
  auto rows = store_.quarantined(id, limit);
  if (!rows.ok()) return Response::error(rows.status());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& q : *rows) {
    items.push_back({{"seq", q.seq},
                     {"kind", q.kind},
                     {"body", q.body},
                     {"field", q.field},
                     {"reason", q.reason},
                     {"at_ms", q.at_ms}});
  }
  return Response::json(200, {{"store_id", id}, {"items", items}});
}

Response CloudRoutes::replica(const Request& req) {
  const std::string& id = req.params[0];
  if (req.principal.role == "store" && req.principal.subject != id) {
    return Response::error(Status(StatusCode::kPermissionDenied, "another store's replica"));
  }
  std::vector<std::string> skus;
  if (auto sku = req.query_param("sku"); sku && !sku->empty()) skus.push_back(*sku);
  auto rows = store_.availability(id, skus);
  if (!rows.ok()) return Response::error(rows.status());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& a : *rows) {
    items.push_back({{"sku", a.sku},
                     {"on_hand", a.on_hand},
                     {"reserved", a.reserved},
                     {"version", a.version},
                     {"updated_seq", a.updated_seq}});
  }
  return Response::json(200, {{"store_id", id}, {"items", items}});
}

Response CloudRoutes::purchase_orders(const Request& req) {
  const std::string& id = req.params[0];
  if (req.principal.role == "store" && req.principal.subject != id) {
    return Response::error(Status(StatusCode::kPermissionDenied, "another store's orders"));
  }
  auto status = http::string_param(req, "status", 32);
  if (!status.ok()) return Response::error(status.status());
  auto limit = http::int_param(req, "limit", 1, 10000);
  if (!limit.ok()) return Response::error(limit.status());
  auto rows =
      store_.purchase_orders(id, status->value_or(""), static_cast<int>(limit->value_or(100)));
  if (!rows.ok()) return Response::error(rows.status());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& po : *rows) {
    nlohmann::json item = po.body;
    item["updated_seq"] = po.updated_seq;
    items.push_back(std::move(item));
  }
  return Response::json(200, {{"store_id", id}, {"items", std::move(items)}});
}

Response CloudRoutes::list_stores(const Request&) {
  auto stores = store_.list_stores();
  if (!stores.ok()) return Response::error(stores.status());
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : *stores) out.push_back(store_summary(s, now));
  return Response::json(200, {{"stores", out}});
}

Response CloudRoutes::put_store(const Request& req) {
  auto body = body_of(req);
  if (!body.ok()) return Response::error(body.status());
  storage::StoreRegistration reg;
  reg.id = req.params[0];
  wire::FieldReader r(*body, "");
  r.required_string("name", &reg.name, {.max_len = 200, .non_empty = true});
  r.required_double("lat", &reg.lat, -90, 90);
  r.required_double("lon", &reg.lon, -180, 180);
  std::optional<double> radius;
  r.optional_double("service_radius_m", &radius, 100, 50000);
  std::optional<std::string> secret;
  r.optional_string("secret", &secret, {.max_len = 256, .non_empty = true});
  std::optional<bool> active;
  r.optional_bool("active", &active);
  if (!r.ok()) return Response::error(r.status());
  if (body->contains("opening_hours")) reg.opening_hours = (*body)["opening_hours"];
  if (secret) {
    if (secret->size() < 16) {
      return Response::error(invalid_argument("must be at least 16 characters", "secret"));
    }
    reg.secret_sha256 = http::sha256_hex(*secret);
  } else {
    // Keep the credential the store already has.
    auto existing = store_.get_store(reg.id);
    if (existing.ok()) reg.secret_sha256 = existing->registration.secret_sha256;
  }
  reg.active = active.value_or(true);
  if (radius) reg.service_radius_m = *radius;
  Status st = store_.upsert_store(reg);
  if (!st.is_ok()) return Response::error(st);
  // A new store starts with the whole catalog waiting for its first sync (queued in one
  // transaction; a registration repeated after a failure here queues it then).
  auto queued = store_.queue_initial_catalog(reg.id);
  if (!queued.ok()) return Response::error(queued.status());
  logger_.info("store_registered", {{"store", reg.id}, {"by", req.principal.subject}});
  auto saved = store_.get_store(reg.id);
  if (!saved.ok()) return Response::error(saved.status());
  // Only this store's cells change, whatever the fleet's size.
  if (Status placed = index_.upsert(indexed_store(*saved)); !placed.is_ok()) {
    logger_.error("routing_index_refused", {{"store", reg.id}, {"error", placed.to_string()}});
  }
  return Response::json(200, store_summary(*saved, to_unix_ms(clock_.wall_now())));
}

Response CloudRoutes::put_catalog_item(const Request& req) {
  auto body = body_of(req);
  if (!body.ok()) return Response::error(body.status());
  storage::CatalogItem item;
  item.sku = req.params[0];
  wire::FieldReader r(*body, "");
  r.required_string("name", &item.name, {.max_len = 200, .non_empty = true});
  std::optional<std::string> category, unit;
  r.optional_string("category", &category, {.max_len = 64});
  r.optional_string("unit", &unit, {.max_len = 16, .non_empty = true});
  r.required_int("price_cents", &item.price_cents, std::int64_t{0}, std::int64_t{100'000'000});
  std::optional<bool> active;
  r.optional_bool("active", &active);
  if (!r.ok()) return Response::error(r.status());
  item.category = category.value_or("");
  item.unit = unit.value_or("each");
  item.active = active.value_or(true);
  if (body->contains("barcodes")) {
    const auto& codes = (*body)["barcodes"];
    if (!codes.is_array()) return Response::error(invalid_argument("must be an array", "barcodes"));
    for (std::size_t i = 0; i < codes.size(); ++i) {
      if (!codes[i].is_string()) {
        return Response::error(
            invalid_argument("must be a string", "barcodes[" + std::to_string(i) + "]"));
      }
      item.barcodes.push_back(codes[i].get<std::string>());
    }
  }
  auto version = store_.upsert_catalog_item(item);
  if (!version.ok()) return Response::error(version.status());
  pages_.drop_all();  // every store's pages show the catalog
  item.version = *version;
  if (catalog_listener_) catalog_listener_(item);
  return Response::json(200, {{"sku", item.sku}, {"version", *version}});
}

Response CloudRoutes::serving_stores(const Request& req) {
  auto point = point_of(req);
  if (!point.ok()) return Response::error(point.status());
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  auto serving = index_.serving(*point, now, options_.online_window_ms);
  nlohmann::json stores = nlohmann::json::array();
  for (const auto& c : serving.candidates) {
    stores.push_back({{"id", c.store->id},
                      {"name", c.store->name},
                      {"distance_m", static_cast<std::int64_t>(c.distance_m)},
                      {"online", c.online},
                      {"open", c.open}});
  }
  nlohmann::json out = {{"geo_hash", *req.query_param("geo_hash")}, {"stores", stores}};
  if (stores.empty()) out["message"] = "no store serves this area";
  return Response::json(200, out);
}

// Where the service is: every active store's place and circle, so a customer app can
// draw the served area and let the customer pick a point in it. No stock, no sync state.
Response CloudRoutes::served_area(const Request&) {
  auto stores = store_.list_stores();
  if (!stores.ok()) return Response::error(stores.status());
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : *stores) {
    const auto& r = s.registration;
    if (!r.active) continue;
    const bool online = s.last_seen_ms > 0 && now - s.last_seen_ms <= options_.online_window_ms;
    out.push_back({{"id", r.id},
                   {"name", r.name},
                   {"lat", r.lat},
                   {"lon", r.lon},
                   {"service_radius_m", r.service_radius_m},
                   {"online", online},
                   {"open", routing::is_open(r.opening_hours, now)}});
  }
  return Response::json(200, {{"stores", out}});
}

Response CloudRoutes::inventory(const Request& req) {
  auto point = point_of(req);
  if (!point.ok()) return Response::error(point.status());
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  auto serving = index_.serving(*point, now, options_.online_window_ms);
  const routing::Candidate* chosen = nullptr;
  for (const auto& c : serving.candidates) {
    if (c.online && c.open) {
      chosen = &c;
      break;
    }
  }
  const std::string hash = *req.query_param("geo_hash");
  if (chosen == nullptr) {
    const std::string why = serving.candidates.empty()
                                ? "no store serves geohash " + hash
                                : "the stores serving geohash " + hash + " are closed or offline";
    return Response::error(Status(StatusCode::kNotFound, why, "geo_hash"));
  }
  std::string after = req.query_param("cursor").value_or("");
  int limit = 100;
  if (auto l = req.query_param("limit")) {
    try {
      limit = std::stoi(*l);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 1000) {
      return Response::error(invalid_argument("must be between 1 and 1000", "limit"));
    }
  }
  StatusOr<std::optional<std::string>> category = http::string_param(req, "category", 128);
  if (!category.ok()) return Response::error(category.status());
  const std::string& store_id = chosen->store->id;
  // Only the whole catalog's pages are cached: they are what every customer reads first.
  std::shared_ptr<const CatalogPageCache::Page> page =
      category->has_value() ? nullptr : pages_.find(store_id, after, limit);
  if (!page) {
    auto rows = store_.store_catalog(store_id, after, limit, category->value_or(""));
    if (!rows.ok()) return Response::error(rows.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& row : *rows) {
      items.push_back({{"sku", row.item.sku},
                       {"name", row.item.name},
                       {"category", row.item.category},
                       {"price_cents", row.item.price_cents},
                       {"unit", row.item.unit},
                       {"available", row.available},
                       {"in_stock", row.available > 0}});
    }
    const nlohmann::json next = static_cast<int>(rows->size()) == limit
                                    ? nlohmann::json(rows->back().item.sku)
                                    : nlohmann::json(nullptr);
    CatalogPageCache::Page rendered{items.dump(), next.dump()};
    if (!category->has_value()) pages_.put(store_id, after, limit, rendered);
    page = std::make_shared<const CatalogPageCache::Page>(std::move(rendered));
  }
  // Keys in the order nlohmann::json writes them, so the body reads the same either way.
  const nlohmann::json store = {{"id", store_id},
                                {"name", chosen->store->name},
                                {"distance_m", static_cast<std::int64_t>(chosen->distance_m)}};
  std::string body = "{\"geo_hash\":" + nlohmann::json(hash).dump() + ",\"items\":";
  body += page->items_json;
  body += ",\"next_cursor\":" + page->next_cursor_json + ",\"store\":" + store.dump() + "}";
  return Response::text(200, std::move(body), "application/json");
}

}  // namespace shopeasy::cloud::api
