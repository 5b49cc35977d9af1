#include "tests/bench/sync/stock_events.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "common/wire/json_fields.hpp"

namespace shopeasy::syncbench {

namespace {

constexpr std::array<const char*, 10> kCategories = {
    "DAIRY", "BAKERY", "FRUIT", "VEG", "SNACK", "BEV", "HOME", "CARE", "FROZEN", "STAPLE"};
// Fresh categories carry lots with expiry dates.
constexpr std::array<bool, 10> kLotTracked = {true,  true,  true,  true, false,
                                              false, false, false, true, false};

void append_int(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;
  out.append(buf.data(), end);
}

// Zero-padded decimal.
std::string padded(std::int64_t v, int width) {
  std::string digits;
  append_int(digits, v);
  if (static_cast<int>(digits.size()) < width) {
    digits.insert(0, static_cast<std::size_t>(width) - digits.size(), '0');
  }
  return digits;
}

// The event body in the edge's stored form: compact JSON, keys in byte order (as
// nlohmann::json dumps an object), the keys ledger.cpp writes.
struct BodyWriter {
  std::string out = "{";
  void key(const char* k) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += k;
    out += "\":";
  }
  void str(const char* k, const std::string& v) {
    key(k);
    out += '"';
    out += v;
    out += '"';
  }
  void num(const char* k, std::int64_t v) {
    key(k);
    append_int(out, v);
  }
};

}  // namespace

StoreSimulator::StoreSimulator(std::string store_id, int skus, std::uint64_t seed)
    : store_id_(std::move(store_id)), rng_(seed), scan_no_(12, 0) {
  const int n = std::max(1, skus);
  skus_.reserve(static_cast<std::size_t>(n));
  std::uniform_int_distribution<int> stock(20, 200);
  std::uniform_int_distribution<int> version(1, 500);
  std::uniform_int_distribution<int> aisle(0, 7);
  std::uniform_int_distribution<int> bay(1, 24);
  std::uniform_int_distribution<int> level(1, 5);
  std::uniform_int_distribution<int> day(1, 28);
  std::uniform_int_distribution<int> month(1, 12);
  for (int i = 0; i < n; ++i) {
    Sku s;
    const std::size_t cat = static_cast<std::size_t>(i) % kCategories.size();
    s.name = std::string(kCategories[cat]) + "-" + padded(i, 6);
    auto bin_code = [&] {
      return std::string(1, static_cast<char>('A' + aisle(rng_))) + "-" + padded(bay(rng_), 2) +
             "-" + std::to_string(level(rng_));
    };
    s.bins.push_back(Bin{bin_code(), stock(rng_), 0});
    if (i % 5 == 0) s.bins.push_back(Bin{bin_code(), stock(rng_) / 4, 0});
    s.lot_tracked = kLotTracked[cat];
    if (s.lot_tracked) {
      const int m = month(rng_);
      const int d = day(rng_);
      s.lot = "L26" + padded(m, 2) + padded(d, 2) + "-" + padded(i % 97, 2);
      s.expiry = "2026-" + padded(m, 2) + "-" + padded(d, 2);
    }
    for (const Bin& b : s.bins) s.on_hand += b.on_hand;
    s.version = version(rng_);
    skus_.push_back(std::move(s));
  }
  ledger_id_ = 3'000'000 + static_cast<std::int64_t>(seed % 1000) * 1000;
  order_no_ = 400'000;
}

int StoreSimulator::pick_sku() {
  // Popularity falls off as a power of rank: a few hundred SKUs move most of the stock.
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double x = std::pow(u(rng_), 2.2);
  return std::min(sku_count() - 1, static_cast<int>(x * sku_count()));
}

std::string StoreSimulator::order_ref() {
  // Orders are mostly fresh; a reservation and its pick share an order number.
  std::uniform_int_distribution<int> back(0, 40);
  const std::int64_t no = order_no_ - back(rng_);
  if (std::uniform_int_distribution<int>(0, 2)(rng_) == 0) ++order_no_;
  return store_id_ + "-" + padded(no, 7);
}

std::string StoreSimulator::scan_ref(int scanner) {
  const std::size_t i = static_cast<std::size_t>(scanner) % scan_no_.size();
  return "h" + padded(scanner, 2) + "-" + padded(++scan_no_[i], 6);
}

StockMove StoreSimulator::next(std::int64_t ts_ms) {
  const int index = pick_sku();
  Sku& s = skus_[static_cast<std::size_t>(index)];
  std::uniform_int_distribution<int> percent(0, 99);
  std::uniform_int_distribution<int> few(1, 3);
  std::uniform_int_distribution<int> scanner(1, 12);
  const bool second_bin = s.bins.size() > 1 && percent(rng_) < 20;
  Bin& bin = s.bins[second_bin ? 1 : 0];
  const std::int64_t free = bin.on_hand - bin.reserved;

  std::int64_t delta = 0;
  std::int64_t reserved_delta = 0;
  std::string reason;
  std::string ref;
  std::string note;
  std::string actor;
  std::string source;
  const int roll = percent(rng_);
  const int qty = few(rng_);
  const int device = scanner(rng_);
  auto receive = [&] {
    delta = std::uniform_int_distribution<int>(6, 24)(rng_);
    reason = "receive";
    ref = scan_ref(device);
    actor = "picker-" + padded(device, 2);
    source = "scanner:h" + padded(device, 2);
  };
  auto reserve = [&] {
    reserved_delta = qty;
    reason = "reserve";
    ref = order_ref();
    actor = "orders";
    source = "api";
  };
  if (free < 4) {
    // Low stock gets replenished, which keeps the store's stock level steady.
    receive();
  } else if (roll < 55) {
    if (bin.reserved > 0) {
      // A picker takes reserved units out for an order.
      delta = reserved_delta = -std::min<std::int64_t>(qty, bin.reserved);
      reason = "pick";
      ref = order_ref();
      actor = "picker-" + padded(device, 2);
      source = "scanner:h" + padded(device, 2);
    } else {
      reserve();
    }
  } else if (roll < 80) {
    reserve();
  } else if (roll < 88) {
    receive();
  } else if (roll < 91) {
    if (bin.reserved > 0) {
      reserved_delta = -std::min<std::int64_t>(qty, bin.reserved);
      reason = "release";
      ref = order_ref();
      actor = "orders";
      source = "api";
    } else {
      reserve();
    }
  } else {
    static constexpr std::array<const char*, 5> kManual = {"damage", "expire", "count", "adjust",
                                                           "return"};
    reason = kManual[static_cast<std::size_t>(roll) % kManual.size()];
    if (reason == "return") {
      delta = 1;
    } else if (reason == "count" || reason == "adjust") {
      delta = roll % 2 == 0 ? qty : -1;
    } else {
      delta = -std::min<std::int64_t>(qty, free);
    }
    ref = scan_ref(device);
    if (reason == "damage") note = "damaged packaging";
    actor = "manager-1";
    source = "api";
  }
  bin.on_hand += delta;
  bin.reserved += reserved_delta;
  s.on_hand += delta;
  s.reserved += reserved_delta;
  ++s.version;
  ++ledger_id_;

  BodyWriter w;
  w.str("actor", actor);
  w.str("bin", bin.code);
  w.num("delta", delta);
  if (s.lot_tracked) w.str("expiry", s.expiry);
  w.num("ledger_id", ledger_id_);
  if (s.lot_tracked) w.str("lot", s.lot);
  if (!note.empty()) w.str("note", note);
  w.num("on_hand_after", bin.on_hand);
  w.str("reason", reason);
  w.str("ref", ref);
  w.num("reserved_after", bin.reserved);
  w.num("reserved_delta", reserved_delta);
  w.str("sku", s.name);
  w.num("sku_available", s.on_hand - s.reserved);
  w.num("sku_on_hand", s.on_hand);
  w.num("sku_reserved", s.reserved);
  w.str("source", source);
  w.str("store_id", store_id_);
  w.num("ts_ms", ts_ms);
  w.num("version", s.version);
  w.out += '}';
  return StockMove{ts_ms, std::move(w.out), index, s.on_hand, s.reserved, s.version};
}

nlohmann::json compact_body(std::string_view type, std::string_view stored_body) {
  auto body = nlohmann::json::parse(stored_body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return nlohmann::json::object();
  if (type != kStockChanged) return body;
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : {"sku", "bin", "lot", "delta", "reserved_delta", "reason", "ref", "ts_ms",
                          "sku_on_hand", "sku_reserved", "version"}) {
    if (auto it = body.find(key); it != body.end()) out[key] = std::move(*it);
  }
  return out;
}

nlohmann::json sync_change(std::int64_t seq, std::string_view type, std::string_view stored_body) {
  return {{"seq", seq}, {"kind", type}, {"body", compact_body(type, stored_body)}};
}

std::string sync_batch_text(const std::string& store_id, std::int64_t first_seq,
                            nlohmann::json changes, std::int64_t downstream_cursor,
                            std::int64_t sent_at_ms) {
  const nlohmann::json batch = {{"store_id", store_id},
                                {"first_seq", first_seq},
                                {"changes", std::move(changes)},
                                {"downstream_cursor", downstream_cursor},
                                {"sent_at_ms", sent_at_ms}};
  return wire::dump_compact(batch);
}

std::string gzip_like_client(const std::string& text) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(text.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

}  // namespace shopeasy::syncbench
