#include "edge/api/catalog_import.hpp"

#include <charconv>
#include <map>
#include <set>

#include "common/wire/json_fields.hpp"

namespace shopeasy::edge::api {

namespace {

using inventory::ProductInput;
using Rows = std::vector<StatusOr<ProductInput>>;

// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas,
// quotes doubled, and line breaks). kInvalidArgument for an unterminated quote.
StatusOr<std::vector<std::vector<std::string>>> split_csv(std::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  std::size_t line = 1;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    end_field();
    const bool blank = record.size() == 1 && record[0].empty();
    if (!blank) records.push_back(std::move(record));
    record.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_record();
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) {
    return invalid_argument("unterminated quoted field starting before line " +
                            std::to_string(line));
  }
  if (!field.empty() || !record.empty()) end_record();
  return records;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

StatusOr<std::int64_t> to_int(const std::string& text, const std::string& field) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return invalid_argument("must be an integer, got '" + text + "'", field);
  }
  return v;
}

std::vector<std::string> split_barcodes(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  for (char c : text) {
    if (c == '|' || c == ';') {
      if (!trim(current).empty()) out.push_back(trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!trim(current).empty()) out.push_back(trim(current));
  return out;
}

}  // namespace

StatusOr<std::vector<StatusOr<ProductInput>>> parse_catalog_csv(std::string_view text) {
  auto records = split_csv(text);
  if (!records.ok()) return records.status();
  if (records->empty()) return invalid_argument("the CSV has no header line");
  std::map<std::string, std::size_t> columns;
  const auto& header = records->front();
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string name = trim(header[i]);
    if (i == 0 && name.rfind("\xEF\xBB\xBF", 0) == 0) name = name.substr(3);  // BOM
    static const std::set<std::string> kKnown = {"sku",  "name",     "category", "price_cents",
                                                 "unit", "barcodes", "home_bin", "reorder_point"};
    if (!kKnown.count(name)) {
      return invalid_argument("unknown column '" + name +
                              "'; expected sku, name, category, price_cents, unit, barcodes, "
                              "home_bin, reorder_point");
    }
    if (!columns.emplace(name, i).second) return invalid_argument("column '" + name + "' twice");
  }
  for (const char* required : {"sku", "name"}) {
    if (!columns.count(required)) {
      return invalid_argument(std::string("the header lacks the required column '") + required +
                              "'");
    }
  }
  if (records->size() - 1 > kMaxCatalogRows) {
    return Status(StatusCode::kPayloadTooLarge,
                  "at most " + std::to_string(kMaxCatalogRows) + " rows per import");
  }
  Rows rows;
  for (std::size_t r = 1; r < records->size(); ++r) {
    const auto& rec = (*records)[r];
    auto get = [&](const char* col) -> std::optional<std::string> {
      auto it = columns.find(col);
      if (it == columns.end() || it->second >= rec.size()) return std::nullopt;
      std::string v = trim(rec[it->second]);
      if (v.empty()) return std::nullopt;
      return v;
    };
    if (rec.size() > header.size()) {
      rows.emplace_back(invalid_argument("has " + std::to_string(rec.size()) +
                                             " fields but the header has " +
                                             std::to_string(header.size()),
                                         "line " + std::to_string(r + 1)));
      continue;
    }
    ProductInput p;
    p.sku = get("sku").value_or("");
    p.name = get("name").value_or("");
    p.category = get("category").value_or("");
    p.unit = get("unit").value_or("each");
    p.home_bin = get("home_bin");
    if (auto b = get("barcodes")) p.barcodes = split_barcodes(*b);
    Status st;
    if (auto v = get("price_cents")) {
      auto n = to_int(*v, "price_cents");
      if (n.ok())
        p.price_cents = *n;
      else
        st = n.status();
    }
    if (auto v = get("reorder_point"); v && st.is_ok()) {
      auto n = to_int(*v, "reorder_point");
      if (n.ok())
        p.reorder_point = *n;
      else
        st = n.status();
    }
    if (st.is_ok()) {
      rows.emplace_back(std::move(p));
    } else {
      rows.emplace_back(st);
    }
  }
  return rows;
}

StatusOr<std::vector<StatusOr<ProductInput>>> parse_catalog_json(std::string_view text) {
  auto doc = wire::parse_json(text, 64 << 20);
  if (!doc.ok()) return doc.status();
  const nlohmann::json* list = nullptr;
  if (doc->is_object() && doc->contains("products")) {
    list = &(*doc)["products"];
  } else if (doc->is_array()) {
    list = &*doc;
  }
  if (list == nullptr || !list->is_array()) {
    return invalid_argument("expected {\"products\": [...]} or an array of products", "products");
  }
  if (list->size() > kMaxCatalogRows) {
    return Status(StatusCode::kPayloadTooLarge,
                  "at most " + std::to_string(kMaxCatalogRows) + " rows per import");
  }
  Rows rows;
  for (const auto& item : *list) {
    wire::FieldReader r(item, "");
    ProductInput p;
    r.required_string("sku", &p.sku, {.max_len = 64, .non_empty = true});
    r.required_string("name", &p.name, {.max_len = 200, .non_empty = true});
    std::optional<std::string> category, unit, home_bin;
    r.optional_string("category", &category, {.max_len = 64});
    r.optional_string("unit", &unit, {.max_len = 16});
    r.optional_string("home_bin", &home_bin, {.max_len = 64});
    std::optional<std::int64_t> price, reorder;
    r.optional_int("price_cents", &price, std::int64_t{0}, std::int64_t{100'000'000});
    r.optional_int("reorder_point", &reorder, std::int64_t{0}, std::int64_t{1'000'000});
    if (!r.ok()) {
      rows.emplace_back(r.status());
      continue;
    }
    if (item.contains("barcodes") && !item["barcodes"].is_null() &&
        (!item["barcodes"].is_array() || item["barcodes"].size() > 20)) {
      rows.emplace_back(invalid_argument("must be an array of at most 20 strings", "barcodes"));
      continue;
    }
    if (item.contains("barcodes") && item["barcodes"].is_array()) {
      bool bad = false;
      for (std::size_t i = 0; i < item["barcodes"].size(); ++i) {
        const auto& code = item["barcodes"][i];
        if (!code.is_string()) {
          rows.emplace_back(
              invalid_argument("must be a string", "barcodes[" + std::to_string(i) + "]"));
          bad = true;
          break;
        }
        p.barcodes.push_back(code.get<std::string>());
      }
      if (bad) continue;
    }
    p.category = category.value_or("");
    p.unit = unit.value_or("each");
    p.home_bin = home_bin;
    p.price_cents = price.value_or(0);
    p.reorder_point = reorder.value_or(0);
    rows.emplace_back(std::move(p));
  }
  return rows;
}

}  // namespace shopeasy::edge::api
