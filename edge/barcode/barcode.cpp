#include "edge/barcode/barcode.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>

namespace shopeasy::edge::barcode {
namespace {

constexpr const char* kField = "code";

Status code_error(std::string message) { return invalid_argument(std::move(message), kField); }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Messages quote input characters; GS is invisible, so it gets a name.
std::string describe_char(char c) {
  if (c == kGroupSeparator) return "<GS>";
  return std::string("'") + c + "'";
}

// Bounded and sanitised copy of caller text for an error message.
std::string excerpt(std::string_view s) {
  constexpr std::size_t kMax = 32;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    out += (u >= 0x20 && u <= 0x7e) ? s[i] : '?';
  }
  if (s.size() > kMax) out += "...";
  return out;
}

Status check_digit_mismatch(int expected, char got, std::string_view what) {
  std::string msg = "check digit mismatch: expected ";
  msg += static_cast<char>('0' + expected);
  msg += ", got ";
  msg += got;
  msg += " (";
  msg += what;
  msg += ')';
  return code_error(std::move(msg));
}

// `digits` is known to be all digits and at least 2 long.
Status verify_check_digit(std::string_view digits, std::string_view what) {
  const int expected = *gs1_check_digit(digits.substr(0, digits.size() - 1));
  if (digits.back() - '0' != expected) return check_digit_mismatch(expected, digits.back(), what);
  return Status::ok();
}

std::string make_gtin14(std::string_view digits) {
  std::string out(14 - digits.size(), '0');
  out.append(digits);
  return out;
}

// ---- Retail GTIN codes ----------------------------------------------------------

std::size_t gtin_length(Symbology s) {
  switch (s) {
    case Symbology::kEan13:
      return 13;
    case Symbology::kEan8:
      return 8;
    case Symbology::kUpcA:
      return 12;
    case Symbology::kGtin14:
      return 14;
    default:
      return 0;
  }
}

StatusOr<ParsedCode> parse_gtin_code(std::string_view digits, Symbology sym) {
  const std::size_t want = gtin_length(sym);
  if (digits.size() != want || !all_digits(digits)) {
    return code_error(std::string(symbology_name(sym)) + " code must be exactly " +
                      std::to_string(want) + " digits, got \"" + excerpt(digits) + "\"");
  }
  SHOPEASY_RETURN_IF_ERROR(verify_check_digit(digits, symbology_name(sym)));
  ParsedCode p;
  p.symbology = sym;
  p.gtin14 = make_gtin14(digits);
  return p;
}

// Writes the 12-digit UPC-A expansion into `out`; no allocation on success.
Status expand_upce_into(std::string_view s, std::array<char, 12>& out) {
  if ((s.size() < 6 || s.size() > 8) || !all_digits(s)) {
    return code_error("UPC-E code must be 6, 7 or 8 digits, got \"" + excerpt(s) + "\"");
  }
  const char ns = s.size() == 6 ? '0' : s[0];
  if (ns != '0' && ns != '1') {
    return code_error(std::string("UPC-E number system must be 0 or 1, got ") + ns);
  }
  const std::string_view d = s.size() == 6 ? s : s.substr(1, 6);
  const char last = d[5];
  // The last data digit says where the zeros suppressed by UPC-E go back in.
  std::array<char, 10> body{};
  switch (last) {
    case '0':
    case '1':
    case '2':
      body = {d[0], d[1], last, '0', '0', '0', '0', d[2], d[3], d[4]};
      break;
    case '3':
      body = {d[0], d[1], d[2], '0', '0', '0', '0', '0', d[3], d[4]};
      break;
    case '4':
      body = {d[0], d[1], d[2], d[3], '0', '0', '0', '0', '0', d[4]};
      break;
    default:
      body = {d[0], d[1], d[2], d[3], d[4], '0', '0', '0', '0', last};
      break;
  }
  out[0] = ns;
  for (std::size_t i = 0; i < body.size(); ++i) out[i + 1] = body[i];
  const int check = *gs1_check_digit(std::string_view(out.data(), 11));
  out[11] = static_cast<char>('0' + check);
  if (s.size() == 8 && s[7] != out[11]) return check_digit_mismatch(check, s[7], "upc-e");
  return Status::ok();
}

StatusOr<ParsedCode> parse_upce_code(std::string_view digits) {
  std::array<char, 12> upca{};
  SHOPEASY_RETURN_IF_ERROR(expand_upce_into(digits, upca));
  ParsedCode p;
  p.symbology = Symbology::kUpcE;
  p.gtin14 = make_gtin14(std::string_view(upca.data(), upca.size()));
  return p;
}

StatusOr<ParsedCode> parse_code128(std::string_view text) {
  if (text.empty()) return code_error("empty Code 128 text");
  if (text.size() > kMaxCode128Length) {
    return code_error("Code 128 text is " + std::to_string(text.size()) +
                      " characters, longer than the " + std::to_string(kMaxCode128Length) +
                      " allowed");
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u > 0x7e) {
      return code_error("Code 128 text has " + describe_char(text[i]) + " at offset " +
                        std::to_string(i) + "; only printable ASCII is allowed");
    }
  }
  ParsedCode p;
  p.symbology = Symbology::kCode128;
  p.raw.assign(text);
  return p;
}

// ---- GS1 application identifiers --------------------------------------------------

enum class Cset : std::uint8_t {
  // GS1 AI encodable character set 82: printable ASCII without space # $ @ [ \ ] ^ ` { | } ~
  kCset82,
  kCset39,  // Digits, upper-case letters, # - /
  kCset64,  // Base64url with '=' padding (digital signatures)
};

enum class DateRule : std::uint8_t {
  kNone,
  kDay00,    // YYMMDD where DD "00" means "the month, no day given"
  kRealDay,  // YYMMDD naming a real day
};

// One AI or a block of AIs whose last one or two digits range over a set of values.
// Value layout: `digits_len` leading digits, then characters of `rest`, `min_len` to
// `max_len` in all; values with digits_len == max_len are purely numeric.
struct AiSpec {
  std::string_view prefix;
  char w1_lo = 0, w1_hi = 0;  // Range of the digit after the prefix, if any.
  char w2_lo = 0, w2_hi = 0;  // Range of the digit after that, if any.
  bool predefined = false;    // In the GS1 table of predefined lengths: no GS after it.
  std::uint8_t min_len = 1, max_len = 1;
  std::uint8_t digits_len = 0;
  Cset rest = Cset::kCset82;
  std::uint8_t csum_from = 0, csum_len = 0;  // Slice ending in a check digit; 0 = none.
  DateRule date = DateRule::kNone;

  constexpr std::size_t ai_len() const {
    return prefix.size() + (w1_lo != 0 ? 1 : 0) + (w2_lo != 0 ? 1 : 0);
  }
  constexpr AiSpec wild(char lo, char hi) const {
    AiSpec s = *this;
    if (s.w1_lo == 0) {
      s.w1_lo = lo;
      s.w1_hi = hi;
    } else {
      s.w2_lo = lo;
      s.w2_hi = hi;
    }
    return s;
  }
  constexpr AiSpec predef() const {
    AiSpec s = *this;
    s.predefined = true;
    return s;
  }
  constexpr AiSpec csum(std::uint8_t from, std::uint8_t len) const {
    AiSpec s = *this;
    s.csum_from = from;
    s.csum_len = len;
    return s;
  }
  constexpr AiSpec dated(DateRule rule) const {
    AiSpec s = *this;
    s.date = rule;
    return s;
  }
  constexpr AiSpec min(std::uint8_t len) const {
    AiSpec s = *this;
    s.min_len = len;
    return s;
  }
  constexpr AiSpec charset(Cset c) const {
    AiSpec s = *this;
    s.rest = c;
    return s;
  }
};

// Fixed-length numeric ("N13").
constexpr AiSpec num(std::string_view p, std::uint8_t len) {
  return AiSpec{.prefix = p, .min_len = len, .max_len = len, .digits_len = len};
}
// Variable-length numeric ("N..8").
constexpr AiSpec num_var(std::string_view p, std::uint8_t max) {
  return AiSpec{.prefix = p, .min_len = 1, .max_len = max, .digits_len = max};
}
// Variable-length alphanumeric ("X..20").
constexpr AiSpec text(std::string_view p, std::uint8_t max) {
  return AiSpec{.prefix = p, .min_len = 1, .max_len = max};
}
// Numeric head then alphanumeric tail ("N3+X..9").
constexpr AiSpec mixed(std::string_view p, std::uint8_t digits, std::uint8_t max) {
  return AiSpec{.prefix = p, .min_len = digits, .max_len = max, .digits_len = digits};
}

constexpr DateRule kD0 = DateRule::kDay00;
constexpr DateRule kDd = DateRule::kRealDay;

// The GS1 General Specifications AI table (lengths, character sets, check digits and
// dates). Association rules between AIs are not enforced beyond those in assemble().
constexpr std::array kAis = {
    num("00", 18).predef().csum(0, 18),  // SSCC
    num("01", 14).predef().csum(0, 14),  // GTIN
    num("02", 14).predef().csum(0, 14),  // GTIN of contained items
    text("10", 20),                      // Batch/lot
    num("11", 6).predef().dated(kD0),    // Production date
    num("12", 6).predef().dated(kD0),    // Due date
    num("13", 6).predef().dated(kD0),    // Packaging date
    num("15", 6).predef().dated(kD0),    // Best before
    num("16", 6).predef().dated(kD0),    // Sell by
    num("17", 6).predef().dated(kD0),    // Expiry
    num("20", 2).predef(),               // Variant
    text("21", 20),                      // Serial
    text("22", 20),                      // Consumer product variant
    text("235", 28),
    text("240", 30),
    text("241", 30),
    num_var("242", 6),
    text("243", 20),
    text("250", 30),
    text("251", 30),
    mixed("253", 13, 30).min(13).csum(0, 13),  // GDTI
    text("254", 20),
    num_var("255", 25).min(13).csum(0, 13),               // GCN
    num_var("30", 8),                                     // Variable count
    num("31", 6).predef().wild('0', '6').wild('0', '5'),  // Trade measures, n decimals
    num("32", 6).predef().wild('0', '9').wild('0', '5'),
    num("33", 6).predef().wild('0', '7').wild('0', '5'),
    num("34", 6).predef().wild('0', '9').wild('0', '5'),
    num("35", 6).predef().wild('0', '7').wild('0', '5'),
    num("36", 6).predef().wild('0', '9').wild('0', '5'),
    num_var("37", 8),  // Count of trade items
    num_var("390", 15).wild('0', '9'),
    num_var("391", 18).min(4).wild('0', '9'),
    num_var("392", 15).wild('0', '9'),
    num_var("393", 18).min(4).wild('0', '9'),
    num("394", 4).wild('0', '3'),
    num("395", 6).wild('0', '5'),
    text("400", 30),
    text("401", 30),
    num("402", 17).csum(0, 17),
    text("403", 30),
    num("41", 13).predef().wild('0', '7').csum(0, 13),  // GLNs
    text("420", 20),
    mixed("421", 3, 12).min(4),
    num("422", 3),
    num_var("423", 15).min(3),
    num("424", 3),
    num_var("425", 15).min(3),
    num("426", 3),
    text("427", 3),
    text("4300", 35),
    text("4301", 35),
    text("4302", 70),
    text("4303", 70),
    text("4304", 70),
    text("4305", 70),
    text("4306", 70),
    text("4307", 2).min(2),
    text("4308", 30),
    num("4309", 20),
    text("4310", 35),
    text("4311", 35),
    text("4312", 70),
    text("4313", 70),
    text("4314", 70),
    text("4315", 70),
    text("4316", 70),
    text("4317", 2).min(2),
    text("4318", 20),
    text("4319", 30),
    text("4320", 35),
    num("4321", 1),
    num("4322", 1),
    num("4323", 1),
    num("4324", 10).dated(kD0),
    num("4325", 10).dated(kD0),
    num("4326", 6).dated(kDd),
    mixed("433", 6, 7).wild('0', '3'),
    num("7001", 13),
    text("7002", 30),
    num("7003", 10).dated(kDd),
    num_var("7004", 4),
    text("7005", 12),
    num("7006", 6).dated(kDd),
    num_var("7007", 12).min(6).dated(kDd),
    text("7008", 3),
    text("7009", 10),
    text("7010", 2),
    num_var("7011", 10).min(6).dated(kDd),
    text("7020", 20),
    text("7021", 20),
    text("7022", 20),
    text("7023", 30),
    mixed("703", 3, 30).min(4).wild('0', '9'),
    mixed("7040", 1, 4).min(4),
    text("71", 20).wild('0', '5'),  // National healthcare reimbursement numbers
    text("723", 30).min(3).wild('0', '9'),
    text("7240", 20),
    num("7241", 2),
    text("7242", 25),
    num("8001", 14),
    text("8002", 20),
    mixed("8003", 14, 30).csum(1, 13),  // GRAI
    text("8004", 30),
    num("8005", 6),
    num("8006", 18).csum(0, 14),
    text("8007", 34),
    num_var("8008", 12).min(8).dated(kDd),
    text("8009", 50),
    text("8010", 30).charset(Cset::kCset39),
    num_var("8011", 12),
    text("8012", 20),
    text("8013", 25),
    num("8017", 18).csum(0, 18),
    num("8018", 18).csum(0, 18),
    num_var("8019", 10),
    text("8020", 25),
    num("8026", 18).csum(0, 14),
    text("8030", 90).charset(Cset::kCset64),
    text("8110", 70),
    num("8111", 4),
    text("8112", 70),
    text("8200", 70),
    text("90", 30),
    text("9", 90).wild('1', '9'),  // Company internal
};

bool spec_matches(const AiSpec& s, std::string_view digits) {
  if (digits.size() < s.ai_len() || digits.substr(0, s.prefix.size()) != s.prefix) return false;
  std::size_t i = s.prefix.size();
  if (s.w1_lo != 0) {
    if (digits[i] < s.w1_lo || digits[i] > s.w1_hi) return false;
    ++i;
  }
  if (s.w2_lo != 0 && (digits[i] < s.w2_lo || digits[i] > s.w2_hi)) return false;
  return true;
}

// The AI at the start of `s` (which may run on into the value), or nullptr.
const AiSpec* match_ai(std::string_view s) {
  for (const AiSpec& spec : kAis) {
    if (spec_matches(spec, s)) return &spec;
  }
  return nullptr;
}

// An AI given on its own, as in the bracketed form: the whole of `ai` must match.
const AiSpec* match_exact_ai(std::string_view ai) {
  const AiSpec* spec = match_ai(ai);
  return spec != nullptr && spec->ai_len() == ai.size() ? spec : nullptr;
}

// How many digits an AI starting with these two has (GS1 allocates AI lengths by
// their first two digits); used to tell an incomplete AI from an unknown one.
std::size_t ai_length_for(char a, char b) {
  const int p = (a - '0') * 10 + (b - '0');
  if (p >= 23 && p <= 25) return 3;
  if (p >= 31 && p <= 36) return 4;
  if (p == 39 || p == 43 || p == 70 || p == 72 || (p >= 80 && p <= 82)) return 4;
  if ((p >= 40 && p <= 42) || p == 71) return 3;
  return 2;
}

struct Ymd {
  int year = 0;
  int month = 0;
  int day = 0;
};

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// GS1 General Specifications 7.12: a two-digit year more than 50 years ahead of the
// reference year is in the previous century, one 50 or more years behind in the next.
int full_year(int yy, int reference_year) {
  const int cur = reference_year % 100;
  const int base = reference_year - cur;
  const int diff = yy - cur;
  if (diff >= 51) return base - 100 + yy;
  if (diff <= -50) return base + 100 + yy;
  return base + yy;
}

int two_digits(std::string_view s, std::size_t at) {
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// `v` starts with six digits (already checked). Day 00, where allowed, resolves to
// the last day of the month.
Status parse_date(std::string_view ai, std::string_view v, DateRule rule, int reference_year,
                  Ymd& out) {
  const auto bad = [&](const std::string& why) {
    return code_error("AI " + std::string(ai) + ": invalid date \"" + std::string(v.substr(0, 6)) +
                      "\": " + why);
  };
  const int month = two_digits(v, 2);
  const int day = two_digits(v, 4);
  if (month < 1 || month > 12) return bad("month " + std::to_string(month));
  const int year = full_year(two_digits(v, 0), reference_year);
  const int last = days_in_month(year, month);
  if (day == 0 && rule != DateRule::kDay00) return bad("day 00");
  if (day > last) {
    return bad("day " + std::to_string(day) + " but " + std::to_string(year) + "-" +
               (month < 10 ? "0" : "") + std::to_string(month) + " has " + std::to_string(last) +
               " days");
  }
  out = Ymd{year, month, day == 0 ? last : day};
  return Status::ok();
}

bool in_cset(char c, Cset set) {
  switch (set) {
    case Cset::kCset82:
      if (is_digit(c) || is_alpha(c)) return true;
      return std::string_view("!\"%&'()*+,-./:;<=>?_").find(c) != std::string_view::npos;
    case Cset::kCset39:
      return is_digit(c) || (c >= 'A' && c <= 'Z') || c == '#' || c == '-' || c == '/';
    case Cset::kCset64:
      return is_digit(c) || is_alpha(c) || c == '-' || c == '_' || c == '=';
  }
  return false;
}

struct Element {
  const AiSpec* spec = nullptr;
  std::string_view ai;
  std::string_view value;
  Ymd date;  // Set when spec->date != kNone.
};

// Every element of a scan; each takes at least 3 bytes, which bounds the count.
struct ElementList {
  std::array<Element, kMaxScanLength / 3 + 1> items{};
  std::size_t size = 0;
};

Status validate_value(Element& e, int reference_year) {
  const AiSpec& s = *e.spec;
  const std::string_view v = e.value;
  const std::string ai(e.ai);
  if (v.size() < s.min_len || v.size() > s.max_len) {
    const bool numeric = s.digits_len == s.max_len;
    std::string want = s.min_len == s.max_len
                           ? "exactly " + std::to_string(s.max_len)
                           : std::to_string(s.min_len) + " to " + std::to_string(s.max_len);
    return code_error("AI " + ai + " must be " + want + (numeric ? " digits" : " characters") +
                      ", got " + std::to_string(v.size()));
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i < s.digits_len) {
      if (!is_digit(v[i])) {
        return code_error("AI " + ai + ": non-digit " + describe_char(v[i]) +
                          " in a numeric field at position " + std::to_string(i + 1));
      }
    } else if (!in_cset(v[i], s.rest)) {
      return code_error("AI " + ai + ": character " + describe_char(v[i]) + " is not allowed");
    }
  }
  if (s.csum_len != 0) {
    std::string what = "AI " + ai;
    SHOPEASY_RETURN_IF_ERROR(verify_check_digit(v.substr(s.csum_from, s.csum_len), what));
  }
  if (s.date != DateRule::kNone) {
    SHOPEASY_RETURN_IF_ERROR(parse_date(e.ai, v, s.date, reference_year, e.date));
  }
  return Status::ok();
}

Status add_element(ElementList& list, Element e, int reference_year) {
  SHOPEASY_RETURN_IF_ERROR(validate_value(e, reference_year));
  for (std::size_t i = 0; i < list.size; ++i) {
    if (list.items[i].ai != e.ai) continue;
    // GS1 allows an element to be repeated, but not with a different value.
    if (list.items[i].value == e.value) return Status::ok();
    return code_error("AI " + std::string(e.ai) + " appears twice with different values");
  }
  if (list.size == list.items.size()) return code_error("too many element strings");
  list.items[list.size++] = e;
  return Status::ok();
}

Status unknown_ai(std::string_view ai) { return code_error("unknown AI " + std::string(ai)); }

// Element string as carried in the barcode: AIs and values back to back, GS after each
// value whose AI is not of predefined length (except at the end).
Status parse_element_string(std::string_view s, int reference_year, ElementList& out) {
  std::size_t pos = 0;
  if (!s.empty() && s[0] == kGroupSeparator) ++pos;  // The FNC1 that marks GS1 data.
  if (pos == s.size()) return code_error("empty GS1 element string");
  while (pos < s.size()) {
    const std::string_view rest = s.substr(pos);
    if (rest[0] == kGroupSeparator) {
      return code_error("truncated element string: empty field at offset " + std::to_string(pos));
    }
    std::size_t digits = 0;
    while (digits < rest.size() && digits < 4 && is_digit(rest[digits])) ++digits;
    if (digits == 0) {
      return code_error("expected an AI at offset " + std::to_string(pos) + ", found " +
                        describe_char(rest[0]));
    }
    const AiSpec* spec = match_ai(rest);
    if (spec == nullptr) {
      const std::size_t want = digits >= 2 ? ai_length_for(rest[0], rest[1]) : 2;
      if (digits < want) {
        return code_error("truncated element string: incomplete AI \"" +
                          std::string(rest.substr(0, digits)) + "\"");
      }
      return unknown_ai(rest.substr(0, std::min(want, digits)));
    }
    Element e;
    e.spec = spec;
    e.ai = rest.substr(0, spec->ai_len());
    pos += spec->ai_len();
    if (spec->predefined) {
      const std::size_t need = spec->max_len;
      std::size_t have = 0;
      while (have < need && pos + have < s.size() && s[pos + have] != kGroupSeparator) ++have;
      if (have < need) {
        return code_error("truncated element string: AI " + std::string(e.ai) + " needs " +
                          std::to_string(need) + " characters, " + std::to_string(have) +
                          " present");
      }
      e.value = s.substr(pos, need);
      pos += need;
      // A separator is not needed here, but some printers add one anyway.
      if (pos < s.size() && s[pos] == kGroupSeparator) ++pos;
    } else {
      std::size_t end = s.find(kGroupSeparator, pos);
      if (end == std::string_view::npos) end = s.size();
      e.value = s.substr(pos, end - pos);
      if (e.value.empty()) {
        return code_error("truncated element string: AI " + std::string(e.ai) + " has no value");
      }
      pos = end == s.size() ? end : end + 1;
    }
    SHOPEASY_RETURN_IF_ERROR(add_element(out, e, reference_year));
  }
  return Status::ok();
}

// "(" + 2-4 digits + ")" at the start: the human-readable bracketed form.
bool looks_bracketed(std::string_view s) {
  std::size_t i = 1;
  if (s.empty() || s[0] != '(') return false;
  while (i < s.size() && is_digit(s[i])) ++i;
  return i >= 3 && i <= 5 && i < s.size() && s[i] == ')';
}

Status parse_bracketed(std::string_view s, int reference_year, ElementList& out) {
  std::size_t pos = 0;
  if (s.empty()) return code_error("empty GS1 element string");
  while (pos < s.size()) {
    if (s[pos] != '(') {
      return code_error("expected \"(\" at offset " + std::to_string(pos) + ", found " +
                        describe_char(s[pos]));
    }
    const std::size_t close = s.find(')', pos + 1);
    if (close == std::string_view::npos) {
      return code_error("truncated element string: unclosed \"(\" at offset " +
                        std::to_string(pos));
    }
    const std::string_view ai = s.substr(pos + 1, close - pos - 1);
    if (ai.size() < 2 || ai.size() > 4 || !all_digits(ai)) {
      return code_error("invalid AI \"(" + excerpt(ai) + ")\"");
    }
    const AiSpec* spec = match_exact_ai(ai);
    if (spec == nullptr) return unknown_ai(ai);
    std::size_t end = s.find('(', close + 1);
    if (end == std::string_view::npos) end = s.size();
    Element e;
    e.spec = spec;
    e.ai = ai;
    e.value = s.substr(close + 1, end - close - 1);
    if (e.value.empty()) {
      return code_error("truncated element string: AI " + std::string(ai) + " has no value");
    }
    SHOPEASY_RETURN_IF_ERROR(add_element(out, e, reference_year));
    pos = end;
  }
  return Status::ok();
}

std::string format_date(const Ymd& d) {
  std::string out(10, '-');
  const auto put = [&out](std::size_t at, int v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, d.year, 4);
  put(5, d.month, 2);
  put(8, d.day, 2);
  return out;
}

StatusOr<ParsedCode> assemble(const ElementList& list) {
  bool has01 = false, has02 = false, has30 = false, has37 = false;
  for (std::size_t i = 0; i < list.size; ++i) {
    const std::string_view ai = list.items[i].ai;
    has01 = has01 || ai == "01";
    has02 = has02 || ai == "02";
    has30 = has30 || ai == "30";
    has37 = has37 || ai == "37";
  }
  // Either pair leaves it unclear what was scanned or how many; refuse rather than pick.
  if (has01 && has02) return code_error("AI 01 and AI 02 cannot both be present");
  if (has30 && has37) return code_error("AI 30 and AI 37 cannot both be present");

  ParsedCode p;
  p.symbology = Symbology::kGs1;
  for (std::size_t i = 0; i < list.size; ++i) {
    const Element& e = list.items[i];
    if (e.ai == "01" || e.ai == "02") {
      p.gtin14.assign(e.value);
      p.gtin_is_content = e.ai == "02";
    } else if (e.ai == "10") {
      p.lot.emplace(e.value);
    } else if (e.ai == "17") {
      p.expiry = format_date(e.date);
    } else if (e.ai == "21") {
      p.serial.emplace(e.value);
    } else if (e.ai == "30" || e.ai == "37") {
      std::int64_t n = 0;
      for (char c : e.value) n = n * 10 + (c - '0');  // At most 8 digits: cannot overflow.
      p.count = n;
    } else {
      p.other_ais.emplace_back(std::string(e.ai), std::string(e.value));
    }
  }
  return p;
}

StatusOr<ParsedCode> parse_gs1(std::string_view s, bool bracketed, int reference_year) {
  ElementList list;
  SHOPEASY_RETURN_IF_ERROR(bracketed ? parse_bracketed(s, reference_year, list)
                                     : parse_element_string(s, reference_year, list));
  return assemble(list);
}

// ---- Detection ------------------------------------------------------------------

enum class Hint { kEan13, kEan8, kUpcA, kUpcE, kGtin14, kCode128, kGs1 };

StatusOr<Hint> parse_hint(std::string_view hint) {
  std::array<char, 24> buf{};
  std::size_t n = 0;
  for (char c : hint) {
    if (c == '-' || c == '_' || c == ' ') continue;
    if (n == buf.size())
      return invalid_argument("unknown symbology hint \"" + excerpt(hint) + "\"", "symbology");
    buf[n++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view h(buf.data(), n);
  if (h == "ean13") return Hint::kEan13;
  if (h == "ean8") return Hint::kEan8;
  if (h == "upca") return Hint::kUpcA;
  if (h == "upce") return Hint::kUpcE;
  if (h == "gtin14" || h == "itf14") return Hint::kGtin14;
  if (h == "code128") return Hint::kCode128;
  if (h == "gs1" || h == "gs1128" || h == "gs1datamatrix" || h == "gs1qr" || h == "gs1databar") {
    return Hint::kGs1;
  }
  return invalid_argument("unknown symbology hint \"" + excerpt(hint) + "\"", "symbology");
}

// Text after an AIM symbology identifier ("]" + letter + modifier digit).
StatusOr<ParsedCode> parse_with_aim_id(std::string_view id, std::string_view body,
                                       int reference_year) {
  if (body.empty()) return code_error("no data after symbology identifier " + std::string(id));
  if (id == "]C1" || id == "]d2" || id == "]Q3" || id == "]e0" || id == "]J1") {
    return parse_gs1(body, false, reference_year);
  }
  if (id == "]C0") return parse_code128(body);
  if (id == "]E0") {
    return parse_gtin_code(body, body.size() == 12 ? Symbology::kUpcA : Symbology::kEan13);
  }
  if (id == "]E4") return parse_gtin_code(body, Symbology::kEan8);
  if (id == "]I1") return parse_gtin_code(body, Symbology::kGtin14);
  return code_error("unsupported symbology identifier \"" + std::string(id) + "\"");
}

}  // namespace

std::string_view symbology_name(Symbology s) {
  switch (s) {
    case Symbology::kEan13:
      return "ean-13";
    case Symbology::kEan8:
      return "ean-8";
    case Symbology::kUpcA:
      return "upc-a";
    case Symbology::kUpcE:
      return "upc-e";
    case Symbology::kGtin14:
      return "gtin-14";
    case Symbology::kCode128:
      return "code-128";
    case Symbology::kGs1:
      return "gs1";
    case Symbology::kGs1_128:
      return "gs1-128";
    case Symbology::kQr:
      return "qr";
    case Symbology::kDataMatrix:
      return "datamatrix";
    case Symbology::kUnknown:
      break;
  }
  return "unknown";
}

std::optional<int> gs1_check_digit(std::string_view body) {
  if (body.empty()) return std::nullopt;
  int sum = 0;
  bool triple = true;  // The digit next to the check digit weighs 3.
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    if (!is_digit(*it)) return std::nullopt;
    const int d = *it - '0';
    sum += triple ? 3 * d : d;
    triple = !triple;
  }
  return (10 - sum % 10) % 10;
}

bool valid_gs1_check_digit(std::string_view digits) {
  if (digits.size() < 2 || !all_digits(digits)) return false;
  return *gs1_check_digit(digits.substr(0, digits.size() - 1)) == digits.back() - '0';
}

StatusOr<std::string> expand_upce(std::string_view upce) {
  std::array<char, 12> out{};
  SHOPEASY_RETURN_IF_ERROR(expand_upce_into(upce, out));
  return std::string(out.data(), out.size());
}

StatusOr<std::string> to_gtin14(std::string_view gtin) {
  if (!all_digits(gtin) ||
      (gtin.size() != 8 && gtin.size() != 12 && gtin.size() != 13 && gtin.size() != 14)) {
    return code_error("a GTIN must be 8, 12, 13 or 14 digits, got \"" + excerpt(gtin) + "\"");
  }
  SHOPEASY_RETURN_IF_ERROR(verify_check_digit(gtin, "gtin"));
  return make_gtin14(gtin);
}

StatusOr<ParsedCode> parse_scan(std::string_view text, std::optional<std::string_view> hint_text,
                                int reference_year) {
  if (reference_year < 1900 || reference_year > 9899) {
    return invalid_argument("reference year must be 1900..9899", "reference_year");
  }
  if (text.empty()) return code_error("empty code");
  if (text.size() > kMaxScanLength) {
    return code_error("code is " + std::to_string(text.size()) + " bytes, longer than the " +
                      std::to_string(kMaxScanLength) + " allowed");
  }
  bool has_gs = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (text[i] == kGroupSeparator) {
      has_gs = true;
    } else if (u < 0x20 || u > 0x7e) {
      static constexpr std::string_view kHex = "0123456789ABCDEF";
      std::string msg = "non-printable byte 0x";
      msg += kHex[u >> 4];
      msg += kHex[u & 0xf];
      return code_error(msg + " at offset " + std::to_string(i));
    }
  }
  std::optional<Hint> hint;
  if (hint_text.has_value()) {
    auto h = parse_hint(*hint_text);
    if (!h.ok()) return h.status();
    hint = *h;
  }

  if (text.size() >= 3 && text[0] == ']' && is_alpha(text[1]) && is_digit(text[2])) {
    return parse_with_aim_id(text.substr(0, 3), text.substr(3), reference_year);
  }
  // GS is FNC1, which exists only in GS1 data.
  if (has_gs) return parse_gs1(text, false, reference_year);

  if (hint.has_value()) {
    switch (*hint) {
      case Hint::kEan13:
        return parse_gtin_code(text, Symbology::kEan13);
      case Hint::kEan8:
        return parse_gtin_code(text, Symbology::kEan8);
      case Hint::kUpcA:
        return parse_gtin_code(text, Symbology::kUpcA);
      case Hint::kGtin14:
        return parse_gtin_code(text, Symbology::kGtin14);
      case Hint::kUpcE:
        return parse_upce_code(text);
      case Hint::kCode128:
        return parse_code128(text);
      case Hint::kGs1:
        return parse_gs1(text, looks_bracketed(text), reference_year);
    }
  }
  if (looks_bracketed(text)) return parse_gs1(text, true, reference_year);
  if (all_digits(text)) {
    switch (text.size()) {
      case 8:
        return parse_gtin_code(text, Symbology::kEan8);
      case 12:
        return parse_gtin_code(text, Symbology::kUpcA);
      case 13:
        return parse_gtin_code(text, Symbology::kEan13);
      case 14:
        return parse_gtin_code(text, Symbology::kGtin14);
      default:
        break;
    }
  }
  return parse_code128(text);
}

}  // namespace shopeasy::edge::barcode
