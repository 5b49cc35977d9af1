#include "common/search/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace shopeasy::search {

namespace {

// ASCII for U+00C0..U+00FF; '_' marks a separator (x, division sign), '*' a letter
// that folds to two (handled in fold_latin1).
constexpr std::string_view kLatin1Fold =
    "aaaaaa*ceeeeiiiidnooooo_ouuuuyt*aaaaaa*ceeeeiiiidnooooo_ouuuuyty";

// Appends the ASCII folding of a Latin-1 letter; false for a separator.
bool fold_latin1(std::uint32_t cp, std::string& out) {
  const char c = kLatin1Fold[cp - 0xC0];
  if (c == '_') return false;
  if (c != '*') {
    out.push_back(c);
    return true;
  }
  if (cp == 0xC6 || cp == 0xE6)
    out += "ae";
  else
    out += "ss";  // U+00DF sharp s
  return true;
}

// Decodes one UTF-8 sequence at s[i]; nullopt (and one byte consumed) when invalid.
std::optional<std::uint32_t> decode_utf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++i;
    return std::nullopt;
  }
  if (i + static_cast<std::size_t>(len) > s.size()) {
    ++i;
    return std::nullopt;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms and surrogates are invalid.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return std::nullopt;
  }
  i += static_cast<std::size_t>(len);
  return cp;
}

// Whether a code point above Latin-1 separates words (punctuation, symbols, spaces).
bool is_separator_cp(std::uint32_t cp) {
  return cp < 0xC0 || (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFE30 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFF20) || cp == 0xFEFF ||
         (cp >= 0x1F000 && cp <= 0x1FAFF);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

struct Unit {
  std::string_view word;
  char kind;  // 'l' volume (ml), 'w' weight (g), 'c' count (pc)
  double factor;
};

constexpr std::array kUnits = {
    Unit{"ml", 'l', 1},          Unit{"mls", 'l', 1},         Unit{"millilitre", 'l', 1},
    Unit{"millilitres", 'l', 1}, Unit{"milliliter", 'l', 1},  Unit{"milliliters", 'l', 1},
    Unit{"l", 'l', 1000},        Unit{"lt", 'l', 1000},       Unit{"ltr", 'l', 1000},
    Unit{"ltrs", 'l', 1000},     Unit{"litre", 'l', 1000},    Unit{"litres", 'l', 1000},
    Unit{"liter", 'l', 1000},    Unit{"liters", 'l', 1000},   Unit{"lit", 'l', 1000},
    Unit{"g", 'w', 1},           Unit{"gm", 'w', 1},          Unit{"gms", 'w', 1},
    Unit{"gram", 'w', 1},        Unit{"grams", 'w', 1},       Unit{"gr", 'w', 1},
    Unit{"grm", 'w', 1},         Unit{"grms", 'w', 1},        Unit{"gramme", 'w', 1},
    Unit{"kg", 'w', 1000},       Unit{"kgs", 'w', 1000},      Unit{"kilo", 'w', 1000},
    Unit{"kilos", 'w', 1000},    Unit{"kilogram", 'w', 1000}, Unit{"kilograms", 'w', 1000},
    Unit{"pc", 'c', 1},          Unit{"pcs", 'c', 1},         Unit{"piece", 'c', 1},
    Unit{"pieces", 'c', 1},      Unit{"pack", 'c', 1},        Unit{"packs", 'c', 1},
    Unit{"pk", 'c', 1},          Unit{"pkt", 'c', 1},         Unit{"nos", 'c', 1},
    Unit{"units", 'c', 1},       Unit{"dozen", 'c', 12},
};

const Unit* unit_of(std::string_view word) {
  for (const Unit& u : kUnits) {
    if (u.word == word) return &u;
  }
  return nullptr;
}

std::string quantity_word(double amount, const Unit& unit) {
  const double v = amount * unit.factor;
  char buf[48];
  if (std::fabs(v - std::round(v)) < 1e-6) {
    std::snprintf(buf, sizeof buf, "%.0f", std::round(v));
  } else {
    std::snprintf(buf, sizeof buf, "%.3f", v);
    std::string s(buf);
    while (!s.empty() && s.back() == '0') s.pop_back();
    return s + (unit.kind == 'l' ? "ml" : unit.kind == 'w' ? "g" : "pc");
  }
  return std::string(buf) + (unit.kind == 'l' ? "ml" : unit.kind == 'w' ? "g" : "pc");
}

bool is_number(std::string_view w) {
  if (w.empty() || !is_digit(w.front()) || !is_digit(w.back())) return false;
  return std::all_of(w.begin(), w.end(), [](char c) { return is_digit(c) || c == '.'; });
}

// Splits the raw words of `text` (before quantities are merged).
std::vector<std::string> raw_words(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      if (c >= 'A' && c <= 'Z') {
        cur.push_back(static_cast<char>(c - 'A' + 'a'));
      } else if ((c >= 'a' && c <= 'z') || is_digit(c)) {
        cur.push_back(c);
      } else if (c == '.' && !cur.empty() && is_digit(cur.back()) && i + 1 < text.size() &&
                 is_digit(text[i + 1])) {
        cur.push_back(c);  // a decimal point
      } else {
        flush();
      }
      ++i;
      continue;
    }
    const std::size_t start = i;
    std::optional<std::uint32_t> cp = decode_utf8(text, i);
    if (!cp) {
      flush();
    } else if (*cp >= 0xC0 && *cp <= 0xFF) {
      if (!fold_latin1(*cp, cur)) flush();
    } else if (is_separator_cp(*cp)) {
      flush();
    } else {
      cur.append(text.substr(start, i - start));
    }
  }
  flush();
  return out;
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> raw = raw_words(text);
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const std::string& w = raw[i];
    // "500g", "1.5kg": a number glued to a unit.
    std::size_t split = 0;
    while (split < w.size() && (is_digit(w[split]) || w[split] == '.')) ++split;
    if (split > 0 && split < w.size() && is_number(std::string_view(w).substr(0, split))) {
      if (const Unit* unit = unit_of(std::string_view(w).substr(split))) {
        out.push_back(quantity_word(std::stod(w.substr(0, split)), *unit));
        continue;
      }
    }
    // "500 g", "1 litre": a number, then a unit word.
    if (is_number(w) && i + 1 < raw.size()) {
      if (const Unit* unit = unit_of(raw[i + 1])) {
        out.push_back(quantity_word(std::stod(w), *unit));
        ++i;
        continue;
      }
    }
    // "1.5" alone keeps its point; a stray one was never kept.
    out.push_back(w);
  }
  return out;
}

bool is_quantity(std::string_view w) {
  std::size_t i = 0;
  while (i < w.size() && (is_digit(w[i]) || w[i] == '.')) ++i;
  if (i == 0) return false;
  const std::string_view rest = w.substr(i);
  return rest == "ml" || rest == "g" || rest == "pc";
}

bool has_digit(std::string_view w) { return std::any_of(w.begin(), w.end(), is_digit); }

int max_edits(std::size_t length) {
  if (length < 4) return 0;
  if (length <= 8) return 1;
  return 2;
}

OsaDistances osa_distances(std::string_view a, std::string_view b, int k) {
  constexpr std::size_t kMaxLen = 64;
  const OsaDistances none{k + 1, k + 1};
  if (k < 0) return none;
  if (a.size() > kMaxLen) a = a.substr(0, kMaxLen);
  if (b.size() > kMaxLen) b = b.substr(0, kMaxLen);
  const std::size_t m = a.size();
  // No prefix of b longer than |a| + k can be within k edits; the whole of b only when
  // it is that short.
  const std::size_t n = std::min(b.size(), m + static_cast<std::size_t>(k));
  const bool whole = n == b.size();
  // Three rows, rotated (row i - 2 for transpositions, i - 1, i).
  std::array<int, kMaxLen + 1> rows[3];
  int* prev2 = rows[0].data();
  int* prev = rows[1].data();
  int* cur = rows[2].data();
  for (std::size_t j = 0; j <= n; ++j) prev[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= m; ++i) {
    cur[0] = static_cast<int>(i);
    int row_min = cur[0];
    for (std::size_t j = 1; j <= n; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        v = std::min(v, prev2[j - 2] + 1);
      }
      cur[j] = v;
      row_min = std::min(row_min, v);
    }
    if (row_min > k) return none;
    int* spare = prev2;
    prev2 = prev;
    prev = cur;
    cur = spare;
  }
  OsaDistances out;
  out.prefix = std::min(*std::min_element(prev, prev + n + 1), k + 1);
  out.full = whole ? std::min(prev[n], k + 1) : k + 1;
  return out;
}

int osa_distance(std::string_view a, std::string_view b, int k) {
  const std::size_t diff = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (k < 0 || diff > static_cast<std::size_t>(k)) return k + 1;
  return osa_distances(a, b, k).full;
}

int prefix_osa_distance(std::string_view query, std::string_view term, int k) {
  return osa_distances(query, term, k).prefix;
}

}  // namespace shopeasy::search
