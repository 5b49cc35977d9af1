#include "tools/vision-gen/encoders.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <exception>

#include <ZXing/BarcodeFormat.h>
#include <ZXing/BitMatrix.h>
#include <ZXing/MultiFormatWriter.h>

namespace shopeasy::vision_gen {
namespace {

constexpr const char* kField = "content";

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// EAN/UPC digit patterns as 7 modules, most significant bit first. The right-hand
// (R) set is the complement of the L set and the G set is R reversed, so only L is
// tabled.
constexpr std::array<std::uint8_t, 10> kLPatterns = {0x0d, 0x19, 0x13, 0x3d, 0x23,
                                                     0x31, 0x2f, 0x3b, 0x37, 0x0b};
// Parity of the six left digits of EAN-13 chosen by its first digit (bit set = G).
constexpr std::array<std::uint8_t, 10> kEan13Parity = {0x00, 0x0b, 0x0d, 0x0e, 0x13,
                                                       0x19, 0x1c, 0x15, 0x16, 0x1a};
// UPC-E parity of the six digits for number system 0, chosen by the check digit
// (bit set = even/G). Number system 1 uses the complement.
constexpr std::array<std::uint8_t, 10> kUpcEParity = {0x38, 0x34, 0x32, 0x31, 0x2c,
                                                      0x26, 0x23, 0x2a, 0x29, 0x25};

enum class DigitSet { kL, kG, kR };

std::array<bool, 7> digit_modules(int digit, DigitSet set) {
  const std::uint8_t l = kLPatterns[static_cast<std::size_t>(digit)];
  std::array<bool, 7> out{};
  for (int i = 0; i < 7; ++i) {
    const bool l_bit = ((l >> (6 - i)) & 1) != 0;
    switch (set) {
      case DigitSet::kL:
        out[static_cast<std::size_t>(i)] = l_bit;
        break;
      case DigitSet::kR:
        out[static_cast<std::size_t>(i)] = !l_bit;
        break;
      case DigitSet::kG:
        // G is R read backwards.
        out[static_cast<std::size_t>(6 - i)] = !l_bit;
        break;
    }
  }
  return out;
}

class LinearBuilder {
 public:
  void add(std::string_view pattern, bool guard) {
    for (char c : pattern) push(c == '1', guard);
  }
  void add_digit(int digit, DigitSet set) {
    for (bool b : digit_modules(digit, set)) push(b, false);
  }
  // Bars and spaces by width, starting with a bar.
  void add_widths(std::string_view widths) {
    bool dark = true;
    for (char w : widths) {
      for (int i = 0; i < w - '0'; ++i) push(dark, false);
      dark = !dark;
    }
  }
  Symbol finish(CodeKind kind, int quiet_left, int quiet_right, std::string content) {
    Symbol s;
    s.kind = kind;
    s.modules = cv::Mat(1, static_cast<int>(bits_.size()), CV_8UC1);
    for (std::size_t i = 0; i < bits_.size(); ++i) {
      s.modules.at<std::uint8_t>(0, static_cast<int>(i)) = bits_[i] ? 1 : 0;
    }
    s.guard = std::move(guard_);
    s.quiet_left = quiet_left;
    s.quiet_right = quiet_right;
    s.content = std::move(content);
    return s;
  }

 private:
  void push(bool dark, bool guard) {
    bits_.push_back(dark);
    guard_.push_back(guard);
  }
  std::vector<bool> bits_;
  std::vector<bool> guard_;
};

// Accepts `n - 1` digits (check appended) or `n` digits with a correct check digit.
StatusOr<std::string> with_check_digit(std::string_view digits, std::size_t n,
                                       std::string_view what) {
  if (!all_digits(digits) || (digits.size() != n && digits.size() != n - 1)) {
    return invalid_argument(std::string(what) + " needs " + std::to_string(n - 1) + " or " +
                                std::to_string(n) + " digits",
                            kField);
  }
  if (digits.size() == n - 1) {
    return std::string(digits) + static_cast<char>('0' + gs1_check_digit(digits));
  }
  if (gs1_check_digit(digits.substr(0, n - 1)) != digits.back() - '0') {
    return invalid_argument(std::string(what) + " check digit mismatch", kField);
  }
  return std::string(digits);
}

Symbol encode_ean13_digits(const std::string& d, CodeKind kind) {
  LinearBuilder b;
  const std::uint8_t parity = kEan13Parity[static_cast<std::size_t>(d[0] - '0')];
  b.add("101", true);
  for (int i = 1; i <= 6; ++i) {
    const bool g = ((parity >> (6 - i)) & 1) != 0;
    b.add_digit(d[static_cast<std::size_t>(i)] - '0', g ? DigitSet::kG : DigitSet::kL);
  }
  b.add("01010", true);
  for (int i = 7; i <= 12; ++i) b.add_digit(d[static_cast<std::size_t>(i)] - '0', DigitSet::kR);
  b.add("101", true);
  if (kind == CodeKind::kUpcA) return b.finish(kind, 9, 9, d.substr(1));
  return b.finish(kind, 11, 7, d);
}

// The 12-digit UPC-A number a UPC-E number system + 6 digits stands for.
std::string expand_upce(std::string_view ns_and_six) {
  const char ns = ns_and_six[0];
  const std::string_view x = ns_and_six.substr(1, 6);
  std::string body(1, ns);
  switch (x[5]) {
    case '0':
    case '1':
    case '2':
      body += std::string(x.substr(0, 2)) + x[5] + "0000" + std::string(x.substr(2, 3));
      break;
    case '3':
      body += std::string(x.substr(0, 3)) + "00000" + std::string(x.substr(3, 2));
      break;
    case '4':
      body += std::string(x.substr(0, 4)) + "00000" + x[4];
      break;
    default:
      body += std::string(x.substr(0, 5)) + "0000" + x[5];
      break;
  }
  return body + static_cast<char>('0' + gs1_check_digit(body));
}

StatusOr<Symbol> encode_upce(std::string_view content) {
  if (!all_digits(content) || (content.size() != 7 && content.size() != 8)) {
    return invalid_argument("UPC-E needs 7 or 8 digits", kField);
  }
  if (content[0] != '0' && content[0] != '1') {
    return invalid_argument("UPC-E number system must be 0 or 1", kField);
  }
  const std::string upca = expand_upce(content.substr(0, 7));
  const char check = upca.back();
  if (content.size() == 8 && content[7] != check) {
    return invalid_argument("UPC-E check digit mismatch", kField);
  }
  std::uint8_t parity = kUpcEParity[static_cast<std::size_t>(check - '0')];
  if (content[0] == '1') parity = static_cast<std::uint8_t>(~parity & 0x3f);
  LinearBuilder b;
  b.add("101", true);
  for (int i = 0; i < 6; ++i) {
    const bool g = ((parity >> (5 - i)) & 1) != 0;
    b.add_digit(content[static_cast<std::size_t>(i) + 1] - '0', g ? DigitSet::kG : DigitSet::kL);
  }
  b.add("010101", true);
  return b.finish(CodeKind::kUpcE, 9, 7, std::string(content.substr(0, 7)) + check);
}

StatusOr<Symbol> encode_ean8(std::string_view content) {
  auto d = with_check_digit(content, 8, "EAN-8");
  if (!d.ok()) return d.status();
  LinearBuilder b;
  b.add("101", true);
  for (int i = 0; i < 4; ++i) b.add_digit((*d)[static_cast<std::size_t>(i)] - '0', DigitSet::kL);
  b.add("01010", true);
  for (int i = 4; i < 8; ++i) b.add_digit((*d)[static_cast<std::size_t>(i)] - '0', DigitSet::kR);
  b.add("101", true);
  return b.finish(CodeKind::kEan8, 7, 7, *d);
}

// Code 128 symbol character widths (bar, space, bar, space, bar, space) for values
// 0..105; the stop pattern has a seventh element.
constexpr std::array<const char*, 106> kCode128Widths = {
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232"};
constexpr const char* kCode128Stop = "2331112";
constexpr int kCodeC = 99;
constexpr int kCodeB = 100;
constexpr int kFnc1 = 102;
constexpr int kStartB = 104;
constexpr int kStartC = 105;
// In the input sequence, FNC1 is a value outside the byte range.
constexpr int kFnc1Marker = -1;

// Length of the digit run starting at `i`.
std::size_t digit_run(const std::vector<int>& in, std::size_t i) {
  std::size_t n = 0;
  while (i + n < in.size() && in[i + n] >= '0' && in[i + n] <= '9') ++n;
  return n;
}

// Symbol values (start .. data, without checksum and stop) for `in`, switching to
// code set C for digit runs where that is shorter.
std::vector<int> code128_values(const std::vector<int>& in) {
  std::vector<int> out;
  const std::size_t first_run = digit_run(in, 0);
  bool set_c = first_run >= 4 || (first_run == in.size() && first_run == 2) ||
               (!in.empty() && in[0] == kFnc1Marker);
  out.push_back(set_c ? kStartC : kStartB);
  std::size_t i = 0;
  while (i < in.size()) {
    if (in[i] == kFnc1Marker) {
      out.push_back(kFnc1);
      ++i;
      continue;
    }
    const std::size_t run = digit_run(in, i);
    if (set_c) {
      if (run >= 2) {
        out.push_back((in[i] - '0') * 10 + (in[i + 1] - '0'));
        i += 2;
        continue;
      }
      out.push_back(kCodeB);
      set_c = false;
    }
    // A run of 4+ digits is cheaper in set C; an odd run sends its first digit in B.
    if (run >= 4) {
      if (run % 2 == 1) {
        out.push_back(in[i] - 32);
        ++i;
      }
      out.push_back(kCodeC);
      set_c = true;
      continue;
    }
    out.push_back(in[i] - 32);
    ++i;
  }
  return out;
}

Symbol code128_symbol(const std::vector<int>& input, CodeKind kind, std::string content) {
  std::vector<int> values = code128_values(input);
  long sum = values[0];
  for (std::size_t i = 1; i < values.size(); ++i) sum += static_cast<long>(i) * values[i];
  values.push_back(static_cast<int>(sum % 103));
  LinearBuilder b;
  for (int v : values) b.add_widths(kCode128Widths[static_cast<std::size_t>(v)]);
  b.add_widths(kCode128Stop);
  return b.finish(kind, 10, 10, std::move(content));
}

StatusOr<Symbol> encode_code128(std::string_view content) {
  if (content.empty() || content.size() > 80) {
    return invalid_argument("Code 128 text must be 1..80 characters", kField);
  }
  std::vector<int> in;
  for (char c : content) {
    if (c < 0x20 || c > 0x7e) {
      return invalid_argument("Code 128 text must be printable ASCII", kField);
    }
    in.push_back(c);
  }
  return code128_symbol(in, CodeKind::kCode128, std::string(content));
}

// AIs whose data has a predefined length (no FNC1 needed after them), by their first
// two digits, per the GS1 General Specifications table.
bool ai_has_fixed_length(std::string_view ai) {
  static constexpr std::array<std::string_view, 22> kFixed = {
      "00", "01", "02", "03", "04", "11", "12", "13", "14", "15", "16",
      "17", "18", "19", "20", "31", "32", "33", "34", "35", "36", "41"};
  for (std::string_view p : kFixed) {
    if (ai.substr(0, 2) == p) return true;
  }
  return false;
}

StatusOr<Symbol> encode_gs1_128(std::string_view content) {
  std::vector<int> in{kFnc1Marker};
  std::string element;
  std::size_t i = 0;
  if (content.empty() || content[0] != '(') {
    return invalid_argument("GS1-128 content must be in the bracketed form \"(01)...\"", kField);
  }
  while (i < content.size()) {
    const std::size_t close = content.find(')', i);
    if (content[i] != '(' || close == std::string_view::npos) {
      return invalid_argument("malformed GS1 element string", kField);
    }
    const std::string_view ai = content.substr(i + 1, close - i - 1);
    if (ai.size() < 2 || ai.size() > 4 || !all_digits(ai)) {
      return invalid_argument("GS1 AI must be 2..4 digits", kField);
    }
    const std::size_t next = content.find('(', close);
    const std::string_view value = content.substr(
        close + 1, (next == std::string_view::npos ? content.size() : next) - close - 1);
    if (value.empty()) return invalid_argument("empty GS1 value", kField);
    for (char c : ai) in.push_back(c);
    element += ai;
    for (char c : value) {
      if (c < 0x20 || c > 0x7e) return invalid_argument("GS1 value must be printable", kField);
      in.push_back(c);
      element += c;
    }
    i = next == std::string_view::npos ? content.size() : next;
    if (i < content.size() && !ai_has_fixed_length(ai)) {
      in.push_back(kFnc1Marker);
      element += '\x1d';
    }
  }
  if (in.size() > 49) return invalid_argument("GS1-128 content too long", kField);
  return code128_symbol(in, CodeKind::kGs1_128, element);
}

constexpr std::size_t kMaxMatrixContent = 600;

StatusOr<Symbol> encode_matrix(CodeKind kind, std::string_view content) {
  if (content.empty() || content.size() > kMaxMatrixContent) {
    return invalid_argument("matrix code content must be 1..600 characters", kField);
  }
  for (char c : content) {
    if (c < 0x20 || c > 0x7e) return invalid_argument("content must be printable ASCII", kField);
  }
  try {
    ZXing::MultiFormatWriter writer(kind == CodeKind::kQr ? ZXing::BarcodeFormat::QRCode
                                                          : ZXing::BarcodeFormat::DataMatrix);
    writer.setMargin(0);
    if (kind == CodeKind::kQr) writer.setEccLevel(2);
    const ZXing::BitMatrix m = writer.encode(std::string(content), 1, 1);
    Symbol s;
    s.kind = kind;
    s.modules = cv::Mat(m.height(), m.width(), CV_8UC1);
    for (int y = 0; y < m.height(); ++y) {
      for (int x = 0; x < m.width(); ++x) s.modules.at<std::uint8_t>(y, x) = m.get(x, y) ? 1 : 0;
    }
    s.quiet_left = s.quiet_right = kind == CodeKind::kQr ? 4 : 2;
    s.content = std::string(content);
    return s;
  } catch (const std::exception& e) {
    return invalid_argument(std::string("cannot encode: ") + e.what(), kField);
  }
}

std::string random_digits(std::mt19937& rng, int n, char first_min = '0') {
  std::uniform_int_distribution<int> d(0, 9);
  std::uniform_int_distribution<int> f(first_min - '0', 9);
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('0' + (i == 0 ? f(rng) : d(rng)));
  return s;
}

std::string random_text(std::mt19937& rng, int n, std::string_view alphabet) {
  std::uniform_int_distribution<std::size_t> d(0, alphabet.size() - 1);
  std::string s;
  for (int i = 0; i < n; ++i) s += alphabet[d(rng)];
  return s;
}

std::string with_check(const std::string& body) {
  return body + static_cast<char>('0' + gs1_check_digit(body));
}

}  // namespace

const std::vector<CodeKind>& all_code_kinds() {
  static const std::vector<CodeKind> kAll = {
      CodeKind::kEan13,   CodeKind::kEan8,    CodeKind::kUpcA, CodeKind::kUpcE,
      CodeKind::kCode128, CodeKind::kGs1_128, CodeKind::kQr,   CodeKind::kDataMatrix};
  return kAll;
}

std::string_view code_kind_name(CodeKind kind) {
  switch (kind) {
    case CodeKind::kEan13:
      return "ean-13";
    case CodeKind::kEan8:
      return "ean-8";
    case CodeKind::kUpcA:
      return "upc-a";
    case CodeKind::kUpcE:
      return "upc-e";
    case CodeKind::kCode128:
      return "code-128";
    case CodeKind::kGs1_128:
      return "gs1-128";
    case CodeKind::kQr:
      return "qr";
    case CodeKind::kDataMatrix:
      return "datamatrix";
  }
  return "unknown";
}

std::optional<CodeKind> parse_code_kind(std::string_view name) {
  for (CodeKind k : all_code_kinds()) {
    if (code_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

bool is_linear(CodeKind kind) { return kind != CodeKind::kQr && kind != CodeKind::kDataMatrix; }

int gs1_check_digit(std::string_view body) {
  int sum = 0;
  bool triple = true;
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    sum += (*it - '0') * (triple ? 3 : 1);
    triple = !triple;
  }
  return (10 - sum % 10) % 10;
}

StatusOr<Symbol> encode(CodeKind kind, std::string_view content) {
  switch (kind) {
    case CodeKind::kEan13: {
      auto d = with_check_digit(content, 13, "EAN-13");
      if (!d.ok()) return d.status();
      return encode_ean13_digits(*d, kind);
    }
    case CodeKind::kUpcA: {
      auto d = with_check_digit(content, 12, "UPC-A");
      if (!d.ok()) return d.status();
      return encode_ean13_digits("0" + *d, kind);
    }
    case CodeKind::kEan8:
      return encode_ean8(content);
    case CodeKind::kUpcE:
      return encode_upce(content);
    case CodeKind::kCode128:
      return encode_code128(content);
    case CodeKind::kGs1_128:
      return encode_gs1_128(content);
    case CodeKind::kQr:
    case CodeKind::kDataMatrix:
      return encode_matrix(kind, content);
  }
  return invalid_argument("unknown symbology", "symbology");
}

std::string random_content(CodeKind kind, std::mt19937& rng) {
  switch (kind) {
    case CodeKind::kEan13:
      return with_check(random_digits(rng, 12, '1'));
    case CodeKind::kEan8:
      return with_check(random_digits(rng, 7));
    case CodeKind::kUpcA:
      return with_check(random_digits(rng, 11));
    case CodeKind::kUpcE: {
      std::uniform_int_distribution<int> ns(0, 1);
      const std::string body =
          std::string(1, static_cast<char>('0' + ns(rng))) + random_digits(rng, 6);
      return body + expand_upce(body).back();
    }
    case CodeKind::kCode128: {
      std::uniform_int_distribution<int> style(0, 2);
      switch (style(rng)) {
        case 0:
          return "SKU-" + random_text(rng, 6, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789");
        case 1:
          return "BIN-" + random_digits(rng, 2) + "-" + random_digits(rng, 3);
        default:
          return random_text(rng, 8, "abcdefghijkmnopqrstuvwxyzABCDEFGH0123456789-./");
      }
    }
    case CodeKind::kGs1_128: {
      std::uniform_int_distribution<int> month(1, 12);
      std::uniform_int_distribution<int> day(10, 28);
      const std::string gtin = with_check("0" + random_digits(rng, 12, '1'));
      const int m = month(rng);
      return "(01)" + gtin + "(17)27" + (m < 10 ? "0" : "") + std::to_string(m) +
             std::to_string(day(rng)) + "(10)" +
             random_text(rng, 5, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789");
    }
    case CodeKind::kQr: {
      const std::string gtin = with_check("0" + random_digits(rng, 12, '1'));
      return "https://id.gs1.org/01/" + gtin + "/10/" + random_text(rng, 4, "ABCDEFGH0123456789");
    }
    case CodeKind::kDataMatrix:
      return with_check("0" + random_digits(rng, 12, '1'));
  }
  return {};
}

std::string random_large_content(CodeKind kind, std::mt19937& rng) {
  std::uniform_int_distribution<int> words(0, 2);
  switch (kind) {
    case CodeKind::kQr: {
      // A GS1 Digital Link with lot, serial and a long query (about versions 7 to 15).
      const std::string gtin = with_check("0" + random_digits(rng, 12, '1'));
      std::uniform_int_distribution<int> extra(70, 240);
      return "https://id.gs1.org/01/" + gtin + "/10/" + random_text(rng, 6, "ABCDEFGH0123456789") +
             "/21/" + random_text(rng, 10, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") +
             "?info=" + random_text(rng, extra(rng), "abcdefghijklmnopqrstuvwxyz0123456789-._~");
    }
    case CodeKind::kDataMatrix: {
      // A GS1-like element string in plain text with a long free-text tail (about 32x32
      // to 64x64 modules): mixed case, so no encodation packs it much.
      std::uniform_int_distribution<int> extra(40, 200);
      const std::string gtin = with_check("0" + random_digits(rng, 12, '1'));
      return "01" + gtin + "21" + random_text(rng, 12, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") + " " +
             random_text(rng, extra(rng) + words(rng),
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-");
    }
    default:
      return random_content(kind, rng);
  }
}

std::vector<std::string> shared_prefix_catalog(int items, std::mt19937& rng) {
  std::uniform_int_distribution<int> prefix_len(7, 9);
  std::uniform_int_distribution<int> changed(1, 3);
  std::uniform_int_distribution<int> digit(0, 9);
  const int prefix = prefix_len(rng);
  // 12 digits without the check digit: the company prefix, then the item reference.
  const std::string base = random_digits(rng, 12, '1');
  std::uniform_int_distribution<int> position(prefix, 11);
  std::vector<std::string> out;
  std::vector<std::string> bodies;
  out.push_back(with_check(base));
  bodies.push_back(base);
  for (int guard = 0; static_cast<int>(out.size()) < std::max(1, items) && guard < 100 * items;
       ++guard) {
    std::string body = base;
    for (int c = changed(rng); c > 0; --c) {
      body[static_cast<std::size_t>(position(rng))] = static_cast<char>('0' + digit(rng));
    }
    if (std::find(bodies.begin(), bodies.end(), body) != bodies.end()) continue;
    bodies.push_back(body);
    out.push_back(with_check(body));
  }
  return out;
}

}  // namespace shopeasy::vision_gen
