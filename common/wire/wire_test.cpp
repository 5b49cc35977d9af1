#include "common/wire/wire.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace shopeasy::wire {
namespace {

using nlohmann::json;

::testing::AssertionResult is_invalid(const Status& s, std::string_view field,
                                      std::string_view message) {
  if (s.is_ok()) return ::testing::AssertionFailure() << "status is OK";
  if (s.code() != StatusCode::kInvalidArgument || s.field() != field || s.message() != message) {
    return ::testing::AssertionFailure() << "got " << s.to_string() << ", want field '" << field
                                         << "' message '" << message << "'";
  }
  return ::testing::AssertionSuccess();
}

// Decodes j both from the DOM and from its text and checks the two paths agree: a DOM
// built in code holds non-negative integers as signed, the parser as unsigned.
template <typename T>
Status decode_status(const json& j, StatusOr<T> (*decode)(const json&),
                     StatusOr<T> (*parse)(std::string_view, std::size_t)) {
  StatusOr<T> from_dom = decode(j);
  StatusOr<T> from_text = parse(j.dump(), kMaxSyncBytes);
  EXPECT_EQ(from_dom.status(), from_text.status()) << j.dump();
  if (from_dom.ok() && from_text.ok()) {
    EXPECT_EQ(*from_dom, *from_text);
  }
  return from_text.status();
}

// Round trip through the DOM and through text; both must give back the same value.
template <typename T>
void expect_round_trip(const T& value, StatusOr<T> (*decode)(const json&),
                       StatusOr<T> (*parse)(std::string_view, std::size_t)) {
  StatusOr<T> from_dom = decode(encode(value));
  ASSERT_TRUE(from_dom.ok()) << from_dom.status().to_string();
  EXPECT_EQ(*from_dom, value);
  const std::string text = serialize(value);
  EXPECT_EQ(text, encode(value).dump()) << "not compact";
  StatusOr<T> from_text = parse(text, kMaxSyncBytes);
  ASSERT_TRUE(from_text.ok()) << from_text.status().to_string();
  EXPECT_EQ(*from_text, value);
  EXPECT_EQ(serialize(*from_text), text);
}

// ---------------------------------------------------------------- samples

Telemetry sample_telemetry() {
  Telemetry t;
  t.runner_id = "r-17_b";
  t.lat = 12.971598;
  t.lon = 77.594566;
  t.accuracy_m = 4.5;
  t.speed_mps = 3.2;
  t.heading_deg = 271.25;
  t.battery_pct = 83;
  t.state = RunnerState::kToCustomer;
  t.device_ts_ms = 1767225600123;
  t.seq = 42;
  return t;
}

RunnerStatus sample_runner_status() {
  return RunnerStatus{.runner_id = "r-17",
                      .status = RunnerPresence::kOnline,
                      .ts_ms = 1767225600000,
                      .battery_pct = 91,
                      .app_version = "2.4.1"};
}

RunnerEvent sample_runner_event() {
  return RunnerEvent{.event_id = "ev-0001",
                     .runner_id = "r-17",
                     .type = RunnerEventType::kDelivered,
                     .order_id = "ord-778",
                     .reason = std::nullopt,
                     .lat = 12.98,
                     .lon = 77.6,
                     .ts_ms = 1767225900000};
}

Assignment sample_assignment() {
  Assignment a;
  a.assignment_id = "as-55";
  a.runner_id = "r-17";
  a.store = {12.97, 77.59};
  a.stops.push_back({"ord-1", 12.975, 77.601, "4th floor, Flat 12\nBlock C", 1767226200000});
  a.stops.push_back({"ord-2", -33.8688, 151.2093, std::nullopt, 1767226500000});
  a.issued_at_ms = 1767225600000;
  return a;
}

Scan sample_scan() {
  Scan s;
  s.scan_id = "3f2a9c1e-0b7d-4e55-9a61-2c8d0f1b7e42";
  s.scanner_id = "h1";
  s.code =
      "\x1D"
      "0109501101530008\x1D"
      "17261231";  // GS1 with group separators
  s.action = ScanAction::kReceive;
  s.qty = 24;
  s.bin = "A-03-2";
  s.lot = "L2026-11";
  s.expiry = "2026-12-31";
  s.ts_ms = 1767225600456;
  return s;
}

StockChange sample_stock_change() {
  StockChange c;
  c.seq = 1001;
  c.store_id = "blr-07";
  c.sku = "MILK-1L";
  c.bin = "C-01-1";
  c.lot = "L9";
  c.delta = -2;
  c.reason = StockReason::kPick;
  c.ref = "ord-778";
  c.actor = "picker:anita";
  c.source = "scanner:h1";
  c.ts_ms = 1767225600789;
  c.on_hand_after = 17;
  return c;
}

Order sample_order() {
  Order o;
  o.order_id = "ord-778";
  o.customer_id = "cus-42";
  o.store_id = "blr-07";
  o.status = OrderStatus::kPicking;
  o.lines = {{"MILK-1L", 2, 6500}, {"BREAD-WW", 1, 4500}, {"EGGS-12", 3, 0}};
  o.delivery = {12.9801, 77.6012, "tdr1y3"};
  o.promised_at_ms = 1767226200000;
  o.created_at_ms = 1767225600000;
  o.updated_at_ms = 1767225660000;
  o.total_cents = 17500;
  return o;
}

SyncBatch sample_sync_batch() {
  SyncBatch b;
  b.store_id = "blr-07";
  b.first_seq = 7;
  b.changes.push_back({7, "stock.changed", encode(sample_stock_change())});
  b.changes.push_back({8, "order.updated", {{"order_id", "ord-1"}, {"status", "packed"}}});
  b.changes.push_back({9, "heartbeat", json::object()});
  b.downstream_cursor = 120;
  b.sent_at_ms = 1767225600999;
  return b;
}

SyncReply sample_sync_reply() {
  SyncReply r;
  r.acked_seq = 9;
  r.downstream.push_back({121, "price", {{"sku", "MILK-1L"}, {"cents", 6600}}});
  r.downstream.push_back({122, "store_config", {{"open", true}}});
  r.next_cursor = 122;
  return r;
}

// ---------------------------------------------------------------- all codecs

struct Codec {
  std::string name;
  std::function<Status(std::string_view)> parse;  // with the type's default size bound
  std::string valid;
  std::size_t max_bytes;
};

template <typename T>
Codec make_codec(std::string name, StatusOr<T> (*parse)(std::string_view, std::size_t),
                 const T& sample, std::size_t max_bytes = kDefaultMaxJsonBytes) {
  return Codec{
      std::move(name),
      [parse, max_bytes](std::string_view text) { return parse(text, max_bytes).status(); },
      serialize(sample), max_bytes};
}

std::vector<Codec> all_codecs() {
  return {make_codec("telemetry", &parse_telemetry, sample_telemetry()),
          make_codec("runner_status", &parse_runner_status, sample_runner_status()),
          make_codec("runner_event", &parse_runner_event, sample_runner_event()),
          make_codec("assignment", &parse_assignment, sample_assignment()),
          make_codec("scan", &parse_scan, sample_scan()),
          make_codec("stock_change", &parse_stock_change, sample_stock_change()),
          make_codec("order", &parse_order, sample_order()),
          make_codec("sync_batch", &parse_sync_batch, sample_sync_batch(), kMaxSyncBytes),
          make_codec("sync_reply", &parse_sync_reply, sample_sync_reply(), kMaxSyncBytes)};
}

TEST(AllCodecsTest, SamplesAreValid) {
  for (const Codec& c : all_codecs()) {
    EXPECT_TRUE(c.parse(c.valid).is_ok()) << c.name << ": " << c.parse(c.valid).to_string();
  }
}

TEST(AllCodecsTest, RejectMalformedJson) {
  for (const Codec& c : all_codecs()) {
    std::string broken = c.valid;
    broken.back() = ',';
    Status s = c.parse(broken);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(s.message().rfind("malformed JSON at byte ", 0), 0u) << c.name << ": " << s.message();
    EXPECT_TRUE(c.parse("not json").code() == StatusCode::kInvalidArgument) << c.name;
  }
}

TEST(AllCodecsTest, RejectTopLevelNonObjects) {
  for (const Codec& c : all_codecs()) {
    EXPECT_TRUE(is_invalid(c.parse("[" + c.valid + "]"), "", "must be a JSON object")) << c.name;
    EXPECT_TRUE(is_invalid(c.parse("null"), "", "must be a JSON object")) << c.name;
    EXPECT_TRUE(is_invalid(c.parse("\"x\""), "", "must be a JSON object")) << c.name;
  }
}

TEST(AllCodecsTest, RejectNestingBombs) {
  const std::string bomb = std::string(100000, '[') + std::string(100000, ']');
  for (const Codec& c : all_codecs()) {
    // Hidden inside an ignored extra field it must still be refused.
    std::string text = c.valid;
    text.insert(1, "\"x\":" + bomb + ",");
    EXPECT_TRUE(is_invalid(c.parse(text), "", "JSON nesting exceeds 32 levels")) << c.name;
  }
}

TEST(AllCodecsTest, RejectOversizedPayloads) {
  for (const Codec& c : all_codecs()) {
    // Whitespace padding keeps the document valid, so only the size bound can refuse it.
    std::string at_limit = c.valid + std::string(c.max_bytes - c.valid.size(), ' ');
    EXPECT_TRUE(c.parse(at_limit).is_ok()) << c.name;
    Status s = c.parse(at_limit + " ");
    EXPECT_EQ(s.code(), StatusCode::kPayloadTooLarge) << c.name << ": " << s.to_string();
  }
}

TEST(AllCodecsTest, IgnoreUnknownFields) {
  for (const Codec& c : all_codecs()) {
    std::string text = c.valid;
    text.insert(1, R"("zz_future":{"nested":[1,{"a":null}]},"v2_flag":true,)");
    EXPECT_TRUE(c.parse(text).is_ok()) << c.name << ": " << c.parse(text).to_string();
  }
}

TEST(AllCodecsTest, TruncatedPayloadsAreRejectedWithoutThrowing) {
  for (const Codec& c : all_codecs()) {
    for (std::size_t len = 0; len < c.valid.size(); ++len) {
      Status s;
      EXPECT_NO_THROW(s = c.parse(std::string_view(c.valid).substr(0, len)))
          << c.name << " " << len;
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name << " at length " << len;
    }
  }
}

TEST(AllCodecsTest, RandomInputsNeverThrow) {
  std::mt19937 rng(20260101);
  const std::string alphabet =
      "{}[]\":,0123456789.-+eE truefalsnul\\/\x01\xff\xc3\xa9"
      "abc_";
  for (const Codec& c : all_codecs()) {
    for (int i = 0; i < 300; ++i) {
      std::string noise(rng() % 200, '\0');
      for (char& ch : noise) {
        ch = (i % 2 == 0) ? static_cast<char>(rng() & 0xFF) : alphabet[rng() % alphabet.size()];
      }
      EXPECT_NO_THROW((void)c.parse(noise)) << c.name;
    }
    // Mutations of a valid payload reach much deeper into the decoders.
    for (int i = 0; i < 1000; ++i) {
      std::string mutated = c.valid;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        mutated[rng() % mutated.size()] = alphabet[rng() % alphabet.size()];
      }
      EXPECT_NO_THROW((void)c.parse(mutated)) << c.name << ": " << mutated;
    }
  }
}

TEST(AllCodecsTest, DecodersNeverThrowOnOddDoms) {
  const std::vector<json> odd = {
      json(nullptr),
      json::array(),
      json::object(),
      json(1.5),
      json::binary({1, 2, 3}),
      json{{"lat", std::numeric_limits<double>::quiet_NaN()}},
      json{{"runner_id", json::binary({1})}, {"stops", json::binary({})}},
      json{{"changes", {nullptr, 1, "x"}}, {"lines", {{1, 2}}}}};
  for (const json& j : odd) {
    EXPECT_NO_THROW({
      EXPECT_FALSE(decode_telemetry(j).ok());
      EXPECT_FALSE(decode_runner_status(j).ok());
      EXPECT_FALSE(decode_runner_event(j).ok());
      EXPECT_FALSE(decode_assignment(j).ok());
      EXPECT_FALSE(decode_scan(j).ok());
      EXPECT_FALSE(decode_stock_change(j).ok());
      EXPECT_FALSE(decode_order(j).ok());
      EXPECT_FALSE(decode_sync_batch(j).ok());
      EXPECT_FALSE(decode_sync_reply(j).ok());
    });
  }
}

// ---------------------------------------------------------------- telemetry

Status telemetry_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_telemetry());
  edit(j);
  return decode_status<Telemetry>(j, &decode_telemetry, &parse_telemetry);
}

TEST(TelemetryTest, RoundTrip) {
  expect_round_trip(sample_telemetry(), &decode_telemetry, &parse_telemetry);
  Telemetry minimal{.runner_id = "r1", .lat = -90, .lon = 180, .device_ts_ms = 1};
  expect_round_trip(minimal, &decode_telemetry, &parse_telemetry);
  EXPECT_EQ(serialize(minimal), R"({"device_ts_ms":1,"lat":-90.0,"lon":180.0,"runner_id":"r1",)"
                                R"("state":"idle"})");
}

TEST(TelemetryTest, ParsesTypicalPhonePayload) {
  StatusOr<Telemetry> t = parse_telemetry(
      R"({"runner_id":"r-9","lat":12.97,"lon":77.59,"accuracy_m":8,"battery_pct":55,)"
      R"("state":"at_store","device_ts_ms":1767225600000,"seq":7,"app":"x"})");
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->runner_id, "r-9");
  EXPECT_EQ(t->state, RunnerState::kAtStore);
  EXPECT_EQ(t->accuracy_m, 8.0);
  EXPECT_EQ(t->battery_pct, 55);
  EXPECT_EQ(t->seq, 7u);
  EXPECT_FALSE(t->speed_mps.has_value());
}

TEST(TelemetryTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j.erase("runner_id"); }), "runner_id",
                         "is required"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["runner_id"] = nullptr; }), "runner_id",
                         "is required"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["runner_id"] = 17; }), "runner_id",
                         "must be a string"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["runner_id"] = ""; }), "runner_id",
                         "must not be empty"));
  EXPECT_TRUE(telemetry_with([](json& j) { j["runner_id"] = std::string(64, 'r'); }).is_ok());
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["runner_id"] = std::string(65, 'r'); }),
                         "runner_id", "must be at most 64 characters long"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["runner_id"] = "r/1/#"; }), "runner_id",
                         "must contain only letters, digits, '_' and '-'"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["lat"] = 91; }), "lat",
                         "must be a number between -90 and 90"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["lat"] = "12.9"; }), "lat",
                         "must be a number between -90 and 90"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["lon"] = -181; }), "lon",
                         "must be a number between -180 and 180"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["accuracy_m"] = -0.5; }), "accuracy_m",
                         "must be a non-negative number"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["speed_mps"] = 100.5; }), "speed_mps",
                         "must be a number between 0 and 100"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["heading_deg"] = 360; }), "heading_deg",
                         "must be a number >= 0 and < 360"));
  EXPECT_TRUE(telemetry_with([](json& j) { j["heading_deg"] = 359.99; }).is_ok());
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["battery_pct"] = 101; }), "battery_pct",
                         "must be an integer between 0 and 100"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["battery_pct"] = 50.5; }), "battery_pct",
                         "must be an integer between 0 and 100"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["state"] = "flying"; }), "state",
                         "unknown value 'flying'; expected one of idle, to_store, at_store, "
                         "to_customer, at_customer, returning, offline"));
  EXPECT_TRUE(
      is_invalid(telemetry_with([](json& j) { j["state"] = 2; }), "state", "must be a string"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["device_ts_ms"] = 0; }), "device_ts_ms",
                         "must be a positive integer"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["device_ts_ms"] = 1.7e12; }),
                         "device_ts_ms", "must be a positive integer"));
  EXPECT_TRUE(is_invalid(telemetry_with([](json& j) { j["seq"] = -1; }), "seq",
                         "must be a non-negative integer"));
  // Optional fields sent as null are simply absent.
  EXPECT_TRUE(telemetry_with([](json& j) { j["speed_mps"] = nullptr; }).is_ok());
}

TEST(TelemetryTest, RejectsOverflowingNumbersFromText) {
  Status s = parse_telemetry(R"({"runner_id":"r1","lat":1e400,"lon":0,"state":"idle",)"
                             R"("device_ts_ms":1})")
                 .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "malformed JSON at byte 28: number overflow parsing '1e400'");
  // Integers too large for int64/uint64 arrive as floating point and are refused as such.
  s = parse_telemetry(R"({"runner_id":"r1","lat":0,"lon":0,"state":"idle",)"
                      R"("device_ts_ms":99999999999999999999})")
          .status();
  EXPECT_TRUE(is_invalid(s, "device_ts_ms", "must be a positive integer"));
}

double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Not a pass/fail check (timing depends on the machine, its load and sanitizers); prints
// the per-message cost so regressions are visible in the test log.
TEST(TelemetryTest, ReportsParseThroughput) {
  const std::string payload = serialize(sample_telemetry());
  constexpr int kIterations = 20000;
  int ok = 0;
  const double cpu_start = thread_cpu_ns();
  const auto wall_start = std::chrono::steady_clock::now();
  for (int i = 0; i < kIterations; ++i) ok += parse_telemetry(payload).ok() ? 1 : 0;
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  const double cpu_ns = (thread_cpu_ns() - cpu_start) / kIterations;
  EXPECT_EQ(ok, kIterations);
  const double wall_ns =
      std::chrono::duration<double, std::nano>(wall).count() / static_cast<double>(kIterations);
  std::printf("parse_telemetry: %.0f ns CPU (%.0f ns wall) per %zu-byte message\n", cpu_ns, wall_ns,
              payload.size());
  RecordProperty("parse_telemetry_cpu_ns", static_cast<int>(cpu_ns));
}

// ---------------------------------------------------------------- runner status / events

Status runner_status_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_runner_status());
  edit(j);
  return decode_status<RunnerStatus>(j, &decode_runner_status, &parse_runner_status);
}

TEST(RunnerStatusTest, RoundTrip) {
  expect_round_trip(sample_runner_status(), &decode_runner_status, &parse_runner_status);
  RunnerStatus last_will{.runner_id = "r-17", .status = RunnerPresence::kOffline, .ts_ms = 5};
  expect_round_trip(last_will, &decode_runner_status, &parse_runner_status);
  EXPECT_EQ(serialize(last_will), R"({"runner_id":"r-17","status":"offline","ts_ms":5})");
}

TEST(RunnerStatusTest, RejectsBadFields) {
  EXPECT_TRUE(
      is_invalid(runner_status_with([](json& j) { j.erase("ts_ms"); }), "ts_ms", "is required"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["status"] = "away"; }), "status",
                         "unknown value 'away'; expected one of online, offline"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["battery_pct"] = 101; }), "battery_pct",
                         "must be an integer between 0 and 100"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["battery_pct"] = -1; }), "battery_pct",
                         "must be an integer between 0 and 100"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["runner_id"] = ""; }), "runner_id",
                         "must not be empty"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["app_version"] = ""; }), "app_version",
                         "must not be empty"));
  EXPECT_TRUE(
      is_invalid(runner_status_with([](json& j) { j["app_version"] = std::string(33, '1'); }),
                 "app_version", "must be at most 32 characters long"));
  EXPECT_TRUE(is_invalid(runner_status_with([](json& j) { j["app_version"] = 2; }), "app_version",
                         "must be a string"));
}

Status runner_event_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_runner_event());
  edit(j);
  return decode_status<RunnerEvent>(j, &decode_runner_event, &parse_runner_event);
}

TEST(RunnerEventTest, RoundTrip) {
  expect_round_trip(sample_runner_event(), &decode_runner_event, &parse_runner_event);
  RunnerEvent sos{.event_id = "e2",
                  .runner_id = "r-3",
                  .type = RunnerEventType::kSos,
                  .reason = "bike accident",
                  .ts_ms = 99};
  expect_round_trip(sos, &decode_runner_event, &parse_runner_event);
}

TEST(RunnerEventTest, OrderIdRequiredForOrderEvents) {
  for (const char* type : {"picked_up", "delivered", "failed"}) {
    EXPECT_TRUE(is_invalid(runner_event_with([&](json& j) {
                             j["type"] = type;
                             j.erase("order_id");
                           }),
                           "order_id", "is required"))
        << type;
  }
  for (const char* type : {"arrived_customer", "returned", "sos"}) {
    EXPECT_TRUE(runner_event_with([&](json& j) {
                  j["type"] = type;
                  j.erase("order_id");
                }).is_ok())
        << type;
  }
}

TEST(RunnerEventTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["type"] = "teleported"; }), "type",
                         "unknown value 'teleported'; expected one of picked_up, "
                         "arrived_customer, delivered, failed, returned, sos"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["event_id"] = ""; }), "event_id",
                         "must not be empty"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["event_id"] = "a\tb"; }), "event_id",
                         "must not contain control characters"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["order_id"] = std::string(65, 'o'); }),
                         "order_id", "must be at most 64 characters long"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["reason"] = std::string(257, 'x'); }),
                         "reason", "must be at most 256 characters long"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["lat"] = 91; }), "lat",
                         "must be a number between -90 and 90"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j.erase("lon"); }), "lon",
                         "is required when the other coordinate is given"));
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j.erase("lat"); }), "lat",
                         "is required when the other coordinate is given"));
  EXPECT_TRUE(runner_event_with([](json& j) {
                j.erase("lat");
                j.erase("lon");
              }).is_ok());
  EXPECT_TRUE(is_invalid(runner_event_with([](json& j) { j["ts_ms"] = "now"; }), "ts_ms",
                         "must be a positive integer"));
}

// ---------------------------------------------------------------- assignment

Status assignment_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_assignment());
  edit(j);
  return decode_status<Assignment>(j, &decode_assignment, &parse_assignment);
}

TEST(AssignmentTest, RoundTrip) {
  expect_round_trip(sample_assignment(), &decode_assignment, &parse_assignment);
}

TEST(AssignmentTest, StopCountIsBounded) {
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["stops"] = json::array(); }), "stops",
                         "must have between 1 and 10 items"));
  EXPECT_TRUE(assignment_with([](json& j) {
                while (j["stops"].size() < 10) j["stops"].push_back(j["stops"][0]);
              }).is_ok());
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) {
                           while (j["stops"].size() < 11) j["stops"].push_back(j["stops"][0]);
                         }),
                         "stops", "must have between 1 and 10 items"));
}

TEST(AssignmentTest, RejectsBadFieldsWithPaths) {
  auto three_stops = [](json& j) { j["stops"].push_back(j["stops"][0]); };
  EXPECT_TRUE(is_invalid(assignment_with([&](json& j) {
                           three_stops(j);
                           j["stops"][2]["lat"] = 91;
                         }),
                         "stops[2].lat", "must be a number between -90 and 90"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["stops"][1].erase("promised_at_ms"); }),
                         "stops[1].promised_at_ms", "is required"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["stops"][0]["order_id"] = ""; }),
                         "stops[0].order_id", "must not be empty"));
  EXPECT_TRUE(
      is_invalid(assignment_with([](json& j) { j["stops"][1]["address"] = std::string(257, 'a'); }),
                 "stops[1].address", "must be at most 256 characters long"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["stops"][0] = 5; }), "stops[0]",
                         "must be a JSON object"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["stops"] = json::object(); }), "stops",
                         "must be an array"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["store"]["lon"] = -181; }), "store.lon",
                         "must be a number between -180 and 180"));
  EXPECT_TRUE(
      is_invalid(assignment_with([](json& j) { j.erase("store"); }), "store", "is required"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) {
                           j["store"] = json::array({1, 2});
                         }),
                         "store", "must be a JSON object"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["runner_id"] = "r 1"; }), "runner_id",
                         "must contain only letters, digits, '_' and '-'"));
  EXPECT_TRUE(is_invalid(assignment_with([](json& j) { j["issued_at_ms"] = -5; }), "issued_at_ms",
                         "must be a positive integer"));
}

// ---------------------------------------------------------------- scan

Status scan_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_scan());
  edit(j);
  return decode_status<Scan>(j, &decode_scan, &parse_scan);
}

TEST(ScanTest, RoundTrip) {
  expect_round_trip(sample_scan(), &decode_scan, &parse_scan);
  Scan adjust = sample_scan();
  adjust.action = ScanAction::kAdjust;
  adjust.qty = -100000;
  adjust.reason = "damaged in transit";
  expect_round_trip(adjust, &decode_scan, &parse_scan);
  Scan move{.scan_id = "s2",
            .scanner_id = "h2",
            .code = "8901",
            .action = ScanAction::kMove,
            .bin = "A1",
            .to_bin = "B2"};
  expect_round_trip(move, &decode_scan, &parse_scan);
  Scan count{.scan_id = "s3",
             .scanner_id = "h2",
             .code = "8901",
             .action = ScanAction::kCount,
             .qty = 100000,
             .count_id = "cc-9"};
  expect_round_trip(count, &decode_scan, &parse_scan);
}

TEST(ScanTest, QtyDefaultsToOne) {
  StatusOr<Scan> s =
      parse_scan(R"({"scan_id":"s1","scanner_id":"h1","code":"890","action":"pick"})");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s->qty, 1);
  EXPECT_FALSE(s->ts_ms.has_value());
}

TEST(ScanTest, QtyRangeDependsOnAction) {
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["qty"] = -1; }), "qty",
                         "must be an integer between 1 and 100000"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["qty"] = 0; }), "qty",
                         "must be an integer between 1 and 100000"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["qty"] = 100001; }), "qty",
                         "must be an integer between 1 and 100000"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["qty"] = "2"; }), "qty",
                         "must be an integer between 1 and 100000"));
  auto adjust = [](std::int64_t qty) {
    return scan_with([qty](json& j) {
      j["action"] = "adjust";
      j["reason"] = "recount";
      j["qty"] = qty;
    });
  };
  EXPECT_TRUE(adjust(-5).is_ok());
  EXPECT_TRUE(adjust(100000).is_ok());
  EXPECT_TRUE(is_invalid(adjust(-100001), "qty", "must be an integer between -100000 and 100000"));
  EXPECT_TRUE(
      is_invalid(adjust(0), "qty", "must be a non-zero integer between -100000 and 100000"));
}

TEST(ScanTest, ActionSpecificRequiredFields) {
  EXPECT_TRUE(
      is_invalid(scan_with([](json& j) { j["action"] = "move"; }), "to_bin", "is required"));
  EXPECT_TRUE(
      is_invalid(scan_with([](json& j) { j["action"] = "count"; }), "count_id", "is required"));
  EXPECT_TRUE(
      is_invalid(scan_with([](json& j) { j["action"] = "adjust"; }), "reason", "is required"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) {
                           j["action"] = "adjust";
                           j["reason"] = "";
                         }),
                         "reason", "must not be empty"));
}

TEST(ScanTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j.erase("scan_id"); }), "scan_id", "is required"));
  EXPECT_TRUE(
      is_invalid(scan_with([](json& j) { j["scan_id"] = ""; }), "scan_id", "must not be empty"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["scan_id"] = std::string(65, 's'); }), "scan_id",
                         "must be at most 64 characters long"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["scanner_id"] = "h1/x"; }), "scanner_id",
                         "must contain only letters, digits, '_' and '-'"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["code"] = ""; }), "code", "must not be empty"));
  EXPECT_TRUE(scan_with([](json& j) { j["code"] = std::string(256, '9'); }).is_ok());
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["code"] = std::string(257, '9'); }), "code",
                         "must be at most 256 characters long"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["action"] = "fly"; }), "action",
                         "unknown value 'fly'; expected one of lookup, receive, pick, adjust, "
                         "move, count"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["expiry"] = "2026-02-30"; }), "expiry",
                         "must be a real calendar date in the form YYYY-MM-DD"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["expiry"] = "2026-2-3"; }), "expiry",
                         "must be a real calendar date in the form YYYY-MM-DD"));
  EXPECT_TRUE(
      is_invalid(scan_with([](json& j) { j["expiry"] = 20261231; }), "expiry", "must be a string"));
  EXPECT_TRUE(scan_with([](json& j) { j["expiry"] = "2028-02-29"; }).is_ok());
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["bin"] = ""; }), "bin", "must not be empty"));
  EXPECT_TRUE(is_invalid(scan_with([](json& j) { j["ts_ms"] = 0; }), "ts_ms",
                         "must be a positive integer"));
}

// ---------------------------------------------------------------- stock change

Status stock_change_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_stock_change());
  edit(j);
  return decode_status<StockChange>(j, &decode_stock_change, &parse_stock_change);
}

TEST(StockChangeTest, RoundTrip) {
  expect_round_trip(sample_stock_change(), &decode_stock_change, &parse_stock_change);
  StockChange minimal{.seq = 1,
                      .store_id = "s1",
                      .sku = "X",
                      .delta = 9223372036854775807,
                      .reason = StockReason::kReturn,
                      .actor = "api",
                      .source = "api",
                      .ts_ms = 1,
                      .on_hand_after = -3};
  expect_round_trip(minimal, &decode_stock_change, &parse_stock_change);
}

TEST(StockChangeTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["delta"] = 0; }), "delta",
                         "must be a non-zero integer"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["delta"] = "-2"; }), "delta",
                         "must be an integer"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["seq"] = 0; }), "seq",
                         "must be a positive integer"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["reason"] = "stolen"; }), "reason",
                         "unknown value 'stolen'; expected one of receive, pick, adjust, count, "
                         "damage, expire, return, reserve, release, move"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["store_id"] = "blr 07"; }), "store_id",
                         "must contain only letters, digits, '_' and '-'"));
  EXPECT_TRUE(
      is_invalid(stock_change_with([](json& j) { j["sku"] = ""; }), "sku", "must not be empty"));
  EXPECT_TRUE(
      is_invalid(stock_change_with([](json& j) { j.erase("source"); }), "source", "is required"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["ref"] = std::string(129, 'r'); }),
                         "ref", "must be at most 128 characters long"));
  EXPECT_TRUE(is_invalid(stock_change_with([](json& j) { j["on_hand_after"] = 1.5; }),
                         "on_hand_after", "must be an integer"));
}

// ---------------------------------------------------------------- order

Status order_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_order());
  edit(j);
  return decode_status<Order>(j, &decode_order, &parse_order);
}

TEST(OrderTest, RoundTrip) {
  expect_round_trip(sample_order(), &decode_order, &parse_order);
  Order unrouted = sample_order();
  unrouted.store_id.reset();
  unrouted.delivery.geohash.reset();
  unrouted.status = OrderStatus::kPendingPayment;
  expect_round_trip(unrouted, &decode_order, &parse_order);
}

TEST(OrderTest, LinesAreBoundedAndValidated) {
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"] = json::array(); }), "lines",
                         "must have between 1 and 100 items"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) {
                           while (j["lines"].size() < 101) j["lines"].push_back(j["lines"][0]);
                         }),
                         "lines", "must have between 1 and 100 items"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"][2]["qty"] = -1; }), "lines[2].qty",
                         "must be an integer between 1 and 1000"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"][0]["qty"] = 1001; }), "lines[0].qty",
                         "must be an integer between 1 and 1000"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"][1]["unit_price_cents"] = -1; }),
                         "lines[1].unit_price_cents", "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"][1]["unit_price_cents"] = 1.99; }),
                         "lines[1].unit_price_cents", "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["lines"][0].erase("sku"); }), "lines[0].sku",
                         "is required"));
}

TEST(OrderTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["status"] = "shipped"; }), "status",
                         "unknown value 'shipped'; expected one of pending_payment, confirmed, "
                         "routed, accepted, picking, packed, out_for_delivery, delivered, "
                         "cancelled, refunded, failed"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["customer_id"] = ""; }), "customer_id",
                         "must not be empty"));
  EXPECT_TRUE(
      is_invalid(order_with([](json& j) { j["order_id"] = 778; }), "order_id", "must be a string"));
  EXPECT_TRUE(
      is_invalid(order_with([](json& j) { j["store_id"] = ""; }), "store_id", "must not be empty"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["delivery"]["lat"] = 91; }), "delivery.lat",
                         "must be a number between -90 and 90"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["delivery"].erase("lon"); }), "delivery.lon",
                         "is required"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j["total_cents"] = -100; }), "total_cents",
                         "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(order_with([](json& j) { j.erase("updated_at_ms"); }), "updated_at_ms",
                         "is required"));
}

TEST(OrderTest, ValidatesGeohash) {
  const std::string msg = "must be 1 to 12 geohash characters (0-9 and b-z except i, l, o)";
  for (const char* bad :
       {"tdr1a", "TDR1Y", "tdr1i", "tdr1l", "tdr1o", "tdr-1", "", "0123456789bcd"}) {
    EXPECT_TRUE(is_invalid(order_with([&](json& j) { j["delivery"]["geohash"] = bad; }),
                           "delivery.geohash", msg))
        << bad;
  }
  for (const char* good : {"t", "0123456789bc", "defghjkmnpqr", "stuvwxyz"}) {
    EXPECT_TRUE(order_with([&](json& j) { j["delivery"]["geohash"] = good; }).is_ok()) << good;
  }
}

TEST(OrderTest, TransitionsMatchTheTableExhaustively) {
  using S = OrderStatus;
  const std::set<std::pair<S, S>> legal = {
      {S::kPendingPayment, S::kConfirmed},
      {S::kPendingPayment, S::kCancelled},
      {S::kPendingPayment, S::kFailed},
      {S::kConfirmed, S::kRouted},
      {S::kConfirmed, S::kCancelled},
      {S::kConfirmed, S::kRefunded},
      {S::kConfirmed, S::kFailed},
      {S::kRouted, S::kAccepted},
      {S::kRouted, S::kRouted},
      {S::kRouted, S::kCancelled},
      {S::kRouted, S::kRefunded},
      {S::kRouted, S::kFailed},
      {S::kAccepted, S::kPicking},
      {S::kAccepted, S::kCancelled},
      {S::kAccepted, S::kRefunded},
      {S::kAccepted, S::kFailed},
      {S::kPicking, S::kPacked},
      {S::kPicking, S::kCancelled},
      {S::kPicking, S::kRefunded},
      {S::kPicking, S::kFailed},
      {S::kPacked, S::kOutForDelivery},
      {S::kPacked, S::kCancelled},
      {S::kPacked, S::kRefunded},
      {S::kPacked, S::kFailed},
      {S::kOutForDelivery, S::kDelivered},
      {S::kOutForDelivery, S::kFailed},
      {S::kDelivered, S::kRefunded},
      {S::kFailed, S::kRefunded},
      {S::kCancelled, S::kRefunded},
  };
  const std::size_t n = EnumNames<OrderStatus>::kNames.size();
  ASSERT_EQ(n, 11u);
  int legal_seen = 0;
  for (std::size_t f = 0; f < n; ++f) {
    for (std::size_t t = 0; t < n; ++t) {
      const auto from = static_cast<S>(f);
      const auto to = static_cast<S>(t);
      const bool expected = legal.count({from, to}) > 0;
      EXPECT_EQ(is_legal_transition(from, to), expected)
          << to_string(from) << " -> " << to_string(to);
      legal_seen += expected ? 1 : 0;
    }
  }
  EXPECT_EQ(legal_seen, 29);
  for (std::size_t t = 0; t < n; ++t) {
    EXPECT_FALSE(is_legal_transition(S::kRefunded, static_cast<S>(t)));
  }
}

// ---------------------------------------------------------------- sync

Status sync_batch_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_sync_batch());
  edit(j);
  return decode_status<SyncBatch>(j, &decode_sync_batch, &parse_sync_batch);
}

TEST(SyncBatchTest, RoundTrip) {
  expect_round_trip(sample_sync_batch(), &decode_sync_batch, &parse_sync_batch);
  SyncBatch empty{.store_id = "s1", .first_seq = 1, .downstream_cursor = 0, .sent_at_ms = 1};
  expect_round_trip(empty, &decode_sync_batch, &parse_sync_batch);
}

TEST(SyncBatchTest, BodiesDecodeWithTheirOwnCodec) {
  StatusOr<SyncBatch> b = parse_sync_batch(serialize(sample_sync_batch()));
  ASSERT_TRUE(b.ok());
  StatusOr<StockChange> c = decode_stock_change(b->changes[0].body);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(*c, sample_stock_change());
  // A failing body can be reported at its place in the batch.
  json bad = b->changes[0].body;
  bad["delta"] = 0;
  EXPECT_EQ(decode_stock_change(bad).status().with_field_prefix("changes[0].body").field(),
            "changes[0].body.delta");
}

TEST(SyncBatchTest, SeqsMustBeConsecutiveFromFirstSeq) {
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["changes"][2]["seq"] = 10; }),
                         "changes[2].seq", "must be 9 (seqs are consecutive from first_seq)"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["first_seq"] = 6; }), "changes[0].seq",
                         "must be 6 (seqs are consecutive from first_seq)"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["changes"][1]["seq"] = 7; }),
                         "changes[1].seq", "must be 8 (seqs are consecutive from first_seq)"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["changes"][1]["seq"] = 0; }),
                         "changes[1].seq", "must be a positive integer"));
  // Near the top of int64 the expected seq would overflow; it must be an error, not UB.
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) {
                           j["first_seq"] = FieldReader::kIntMax;
                           j["changes"][0]["seq"] = FieldReader::kIntMax;
                           j["changes"][1]["seq"] = FieldReader::kIntMax;
                         }),
                         "changes[1].seq", "must be 0 (seqs are consecutive from first_seq)"));
}

// One malformed change must not make the whole batch undecodable: the cloud
// quarantines it and goes on with the rest.
TEST(SyncBatchTest, MalformedKindOrBodyDecodesForQuarantine) {
  json text = encode(sample_sync_batch());
  text["changes"][1]["kind"] = "Bogus Kind";
  text["changes"][0]["body"] = json::array();
  text["changes"][2].erase("body");
  StatusOr<SyncBatch> b = decode_sync_batch(text);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->changes[1].kind, "Bogus Kind");
  EXPECT_TRUE(b->changes[0].body.is_array());
  EXPECT_TRUE(b->changes[2].body.is_null());
}

TEST(SyncBatchTest, OutboxIdentityRoundTrips) {
  json text = encode(sample_sync_batch());
  text["outbox_id"] = "0123456789abcdef0123456789abcdef";
  text["head_seq"] = 40;
  text["resync_from_seq"] = text["first_seq"];
  text["downstream_hash"] = downstream_item_hash("catalog_item", {{"sku", "MILK"}});
  text["load"] = {{"open_orders", 7}, {"available_runners", 2}, {"pick_queue", 3}};
  text["oldest_unsent_ts_ms"] = 1700000000123;
  text["near_expiry"] = {
      {{"sku", "CURD-400"}, {"lot", "L2412"}, {"expires_ms", 1700006400000}, {"units", 6}}};
  StatusOr<SyncBatch> b = decode_sync_batch(text);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(b->downstream_hash, downstream_item_hash("catalog_item", {{"sku", "MILK"}}));
  EXPECT_EQ(b->load, (StoreLoadReport{.open_orders = 7, .available_runners = 2, .pick_queue = 3}));
  EXPECT_EQ(b->outbox_id, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(b->head_seq, 40);
  EXPECT_EQ(b->resync_from_seq, b->first_seq);
  EXPECT_EQ(b->oldest_unsent_ts_ms, 1700000000123);
  ASSERT_TRUE(b->near_expiry.has_value());
  EXPECT_EQ(*b->near_expiry,
            (std::vector<NearExpiryLot>{
                {.sku = "CURD-400", .lot = "L2412", .expires_ms = 1700006400000, .units = 6}}));
  EXPECT_EQ(decode_sync_batch(encode(*b)).value(), *b);
}

TEST(SyncBatchTest, NearExpiryAbsentNullOrEmptyAreTold) {
  json text = encode(sample_sync_batch());
  EXPECT_FALSE(decode_sync_batch(text).value().near_expiry.has_value());
  text["near_expiry"] = nullptr;
  EXPECT_FALSE(decode_sync_batch(text).value().near_expiry.has_value());
  // An empty list is news: the store has no lot near expiry any more.
  text["near_expiry"] = json::array();
  const SyncBatch empty = decode_sync_batch(text).value();
  ASSERT_TRUE(empty.near_expiry.has_value());
  EXPECT_TRUE(empty.near_expiry->empty());
}

TEST(SyncBatchTest, NearExpiryListDecodesAloneAsInABatch) {
  const std::vector<NearExpiryLot> lots = {{"CURD-400", "L1", 1700006400000, 2}};
  EXPECT_EQ(decode_near_expiry(encode_near_expiry(lots)).value(), lots);
  json bad = encode_near_expiry(lots);
  bad[0]["units"] = 0;
  EXPECT_TRUE(is_invalid(decode_near_expiry(bad).status(), "near_expiry[0].units",
                         "must be an integer between 1 and 1000000"));
  EXPECT_FALSE(decode_near_expiry(json::object()).ok());
}

TEST(SyncBatchTest, StockCoverRoundTripsAloneAndInABatch) {
  const std::vector<StockCover> cover = {{.sku = "RICE-5KG", .units = 90, .daily_demand = 1.5},
                                         {.sku = "TEA-250", .units = 12, .daily_demand = 0.0},
                                         {.sku = "MILK-1L", .units = 0, .daily_demand = 30.25}};
  EXPECT_EQ(decode_stock_cover(encode_stock_cover(cover)).value(), cover);
  SyncBatch batch = sample_sync_batch();
  batch.stock_cover = cover;
  const SyncBatch back = decode_sync_batch(encode(batch)).value();
  ASSERT_TRUE(back.stock_cover.has_value());
  EXPECT_EQ(*back.stock_cover, cover);
  EXPECT_EQ(back, batch);
  // Integers are numbers too: an edge that sends a whole daily demand is understood.
  json whole = encode_stock_cover(cover);
  whole[0]["daily_demand"] = 2;
  EXPECT_EQ(decode_stock_cover(whole).value()[0].daily_demand, 2.0);
}

TEST(SyncBatchTest, StockCoverAbsentNullOrEmptyAreTold) {
  json text = encode(sample_sync_batch());
  EXPECT_FALSE(decode_sync_batch(text).value().stock_cover.has_value());
  text["stock_cover"] = nullptr;
  EXPECT_FALSE(decode_sync_batch(text).value().stock_cover.has_value());
  // An empty list is news: no SKU is overstocked or scarce any more.
  text["stock_cover"] = json::array();
  const SyncBatch empty = decode_sync_batch(text).value();
  ASSERT_TRUE(empty.stock_cover.has_value());
  EXPECT_TRUE(empty.stock_cover->empty());
}

TEST(SyncBatchTest, StockCoverRejectsBadEntries) {
  const json entry = {{"sku", "RICE-5KG"}, {"units", 90}, {"daily_demand", 1.5}};
  auto with = [&](const std::function<void(json&)>& edit) {
    json bad = entry;
    edit(bad);
    return sync_batch_with([&](json& j) { j["stock_cover"] = {entry, bad}; });
  };
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["daily_demand"] = -0.5;
                         }),
                         "stock_cover[1].daily_demand", "must be a number between 0 and 1e+06"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["daily_demand"] = 1e300;
                         }),
                         "stock_cover[1].daily_demand", "must be a number between 0 and 1e+06"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["daily_demand"] = "2.5";
                         }),
                         "stock_cover[1].daily_demand", "must be a number between 0 and 1e+06"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["units"] = -1;
                         }),
                         "stock_cover[1].units", "must be an integer between 0 and 1000000"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["units"] = 1000001;
                         }),
                         "stock_cover[1].units", "must be an integer between 0 and 1000000"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e["sku"] = "TEA-250";
                           e["units"] = 2.5;
                         }),
                         "stock_cover[1].units", "must be an integer between 0 and 1000000"));
  EXPECT_TRUE(is_invalid(with([](json& e) {
                           e.erase("daily_demand");
                           e["sku"] = "TEA-250";
                         }),
                         "stock_cover[1].daily_demand", "is required"));
  EXPECT_TRUE(
      is_invalid(with([](json& e) { e["sku"] = 7; }), "stock_cover[1].sku", "must be a string"));
  EXPECT_TRUE(
      is_invalid(with([](json& e) { e["sku"] = ""; }), "stock_cover[1].sku", "must not be empty"));
  EXPECT_TRUE(is_invalid(with([](json&) {}), "stock_cover[1].sku", "is listed twice"));
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) { j["stock_cover"] = entry; }), "stock_cover",
                         "must be an array"));
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) { j["stock_cover"] = {42}; }),
                         "stock_cover[0]", "must be a JSON object"));
  json many = json::array();
  for (std::size_t i = 0; i <= kMaxStockCover; ++i) {
    many.push_back({{"sku", "SKU-" + std::to_string(i)}, {"units", 1}, {"daily_demand", 0}});
  }
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) { j["stock_cover"] = many; }), "stock_cover",
                         "must have at most 2000 items"));
  EXPECT_TRUE(
      is_invalid(decode_stock_cover(many).status(), "stock_cover", "must have at most 2000 items"));
  many.erase(many.end() - 1);
  EXPECT_EQ(decode_stock_cover(many).value().size(), kMaxStockCover);
  EXPECT_FALSE(decode_stock_cover(json::object()).ok());
}

TEST(SyncBatchTest, AnItemHashIsTheSameForTheSameItemWhateverItsKeyOrder) {
  const json a = json::parse(R"({"sku":"MILK","price_cents":6500,"lat":12.9716})");
  const json b = json::parse(R"({"lat":12.9716,"price_cents":6500,"sku":"MILK"})");
  EXPECT_EQ(downstream_item_hash("catalog_item", a), downstream_item_hash("catalog_item", b));
  EXPECT_TRUE(is_valid_item_hash(downstream_item_hash("catalog_item", a)));
  EXPECT_NE(downstream_item_hash("catalog_item", a), downstream_item_hash("order", a));
  // Through the text a reply carries, as the store receives it.
  EXPECT_EQ(downstream_item_hash("catalog_item", json::parse(a.dump())),
            downstream_item_hash("catalog_item", a));
}

TEST(SyncBatchTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["outbox_id"] = "ABC"; }), "outbox_id",
                         "must be 32 lower-case hex digits"));
  EXPECT_TRUE(
      is_invalid(sync_batch_with([](json& j) { j["downstream_hash"] = "0123456789ABCDEF"; }),
                 "downstream_hash", "must be 16 lower-case hex digits"));
  EXPECT_TRUE(
      is_invalid(sync_batch_with([](json& j) {
                   j["load"] = {{"open_orders", -1}, {"available_runners", 0}, {"pick_queue", 0}};
                 }),
                 "load.open_orders", "must be an integer between 0 and 1000000"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) {
                           j["load"] = {{"open_orders", 1}};
                         }),
                         "load.available_runners", "is required"));
  const json lot = {
      {"sku", "CURD-400"}, {"lot", "L1"}, {"expires_ms", 1700006400000}, {"units", 2}};
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) {
                           json bad = lot;
                           bad["units"] = 0;
                           j["near_expiry"] = {lot, bad};
                         }),
                         "near_expiry[1].units", "must be an integer between 1 and 1000000"));
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) {
                           json bad = lot;
                           bad.erase("lot");
                           j["near_expiry"] = {bad};
                         }),
                         "near_expiry[0].lot", "is required"));
  EXPECT_TRUE(is_invalid(sync_batch_with([&](json& j) { j["near_expiry"] = lot; }), "near_expiry",
                         "must be an array"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["downstream_hash"] = 7; }),
                         "downstream_hash", "must be a string"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["head_seq"] = -1; }), "head_seq",
                         "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["oldest_unsent_ts_ms"] = "soon"; }),
                         "oldest_unsent_ts_ms", "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["resync_from_seq"] = 99; }),
                         "resync_from_seq", "must equal first_seq"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["first_seq"] = 0; }), "first_seq",
                         "must be a positive integer"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["downstream_cursor"] = -1; }),
                         "downstream_cursor", "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j["store_id"] = ""; }), "store_id",
                         "must not be empty"));
  EXPECT_TRUE(is_invalid(sync_batch_with([](json& j) { j.erase("sent_at_ms"); }), "sent_at_ms",
                         "is required"));
}

TEST(SyncBatchTest, AtMostTenThousandChanges) {
  SyncBatch b{.store_id = "s1", .first_seq = 1, .downstream_cursor = 0, .sent_at_ms = 1};
  for (std::int64_t i = 0; i < 10000; ++i) {
    b.changes.push_back({1 + i, "heartbeat", json::object()});
  }
  const std::string full = serialize(b);
  StatusOr<SyncBatch> ok = parse_sync_batch(full);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->changes.size(), 10000u);
  b.changes.push_back({10001, "heartbeat", json::object()});
  EXPECT_TRUE(is_invalid(parse_sync_batch(serialize(b)).status(), "changes",
                         "must have at most 10000 items"));
}

Status sync_reply_with(const std::function<void(json&)>& edit) {
  json j = encode(sample_sync_reply());
  edit(j);
  return decode_status<SyncReply>(j, &decode_sync_reply, &parse_sync_reply);
}

TEST(SyncReplyTest, RoundTrip) {
  expect_round_trip(sample_sync_reply(), &decode_sync_reply, &parse_sync_reply);
  SyncReply gap{.acked_seq = 6, .expected_seq = 7, .next_cursor = 0};
  expect_round_trip(gap, &decode_sync_reply, &parse_sync_reply);
  EXPECT_EQ(serialize(gap), R"({"acked_seq":6,"downstream":[],"expected_seq":7,"next_cursor":0})");
}

TEST(SyncReplyTest, RejectsBadFields) {
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["downstream"][0]["kind"] = "Menu!"; }),
                         "downstream[0].kind", "must be 1 to 64 of a-z, 0-9, '.' and '_'"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["downstream"][1]["cursor"] = 0; }),
                         "downstream[1].cursor", "must be a positive integer"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["downstream"][1]["body"] = "x"; }),
                         "downstream[1].body", "must be a JSON object"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j.erase("next_cursor"); }), "next_cursor",
                         "is required"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["acked_seq"] = -1; }), "acked_seq",
                         "must be a non-negative integer"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["expected_seq"] = 0; }), "expected_seq",
                         "must be a positive integer"));
  EXPECT_TRUE(is_invalid(sync_reply_with([](json& j) { j["downstream"] = nullptr; }), "downstream",
                         "is required"));
}

TEST(SyncReplyTest, BodiesMayNestUpToTheDepthBound) {
  // reply > downstream > item > body: three levels used, 29 left for the body's content.
  json body = json::object();
  for (int i = 0; i < 28; ++i) body = json{{"n", body}};
  SyncReply r{.acked_seq = 1, .next_cursor = 1};
  r.downstream.push_back({1, "catalog_item", body});
  EXPECT_TRUE(parse_sync_reply(serialize(r)).ok());
  r.downstream[0].body = json{{"n", body}};
  EXPECT_TRUE(
      is_invalid(parse_sync_reply(serialize(r)).status(), "", "JSON nesting exceeds 32 levels"));
}

}  // namespace
}  // namespace shopeasy::wire
