// Barcode encoders for generated test images. The linear symbologies (EAN-13, EAN-8,
// UPC-A, UPC-E, Code 128 and GS1-128) are encoded here from their specifications; QR
// Code and DataMatrix use zxing-cpp's writer. A Symbol is the module grid only: how
// big it is drawn, and in what scene, is render.hpp's and scene.hpp's business.
// All functions are pure and thread-safe; none throws.
#pragma once

#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "common/status/status.hpp"

namespace shopeasy::vision_gen {

enum class CodeKind { kEan13, kEan8, kUpcA, kUpcE, kCode128, kGs1_128, kQr, kDataMatrix };

// Every kind, in the order above.
const std::vector<CodeKind>& all_code_kinds();
// "ean-13", "ean-8", "upc-a", "upc-e", "code-128", "gs1-128", "qr", "datamatrix".
std::string_view code_kind_name(CodeKind kind);
// Parses the names above; nullopt for anything else.
std::optional<CodeKind> parse_code_kind(std::string_view name);
bool is_linear(CodeKind kind);

// A symbol as modules. Linear codes have one row; matrix codes are square or
// rectangular grids. Quiet zones are not part of `modules`.
struct Symbol {
  CodeKind kind = CodeKind::kEan13;
  cv::Mat modules;          // CV_8UC1, 1 = dark module, 0 = light
  std::vector<bool> guard;  // linear: modules drawn longer (EAN/UPC guard bars)
  int quiet_left = 0;       // quiet zone, in modules (top/bottom too for matrix)
  int quiet_right = 0;
  std::string content;  // what a reader should return (see encode())
};

// The GS1 mod-10 check digit of `body` (digits only, without the check digit).
int gs1_check_digit(std::string_view body);

// Encodes `content`:
// - EAN-13 / UPC-A / EAN-8: 12 / 11 / 7 digits (check digit appended) or 13 / 12 / 8
//   digits with a correct check digit. `content` of the Symbol is the full number.
// - UPC-E: 7 digits (number system 0 or 1 + 6) or 8 with a correct check digit, which
//   is that of the expanded UPC-A number.
// - Code 128: 1..80 printable ASCII characters.
// - GS1-128: the bracketed form "(01)09506000134352(10)AB1"; the Symbol's content is
//   the element string with ASCII GS (0x1D) after each variable-length field that is
//   not last, as readers return it.
// - QR / DataMatrix: 1..600 printable ASCII characters.
// kInvalidArgument with field "content" when the input does not fit the symbology.
StatusOr<Symbol> encode(CodeKind kind, std::string_view content);

// A random valid content for `kind` (GTINs with correct check digits; product-like
// Code 128 text; GS1 element strings with GTIN, lot and expiry; URLs for QR).
std::string random_content(CodeKind kind, std::mt19937& rng);

// Longer payloads than random_content() for larger matrix symbols: QR Codes of about
// versions 7 to 15 (GS1 Digital Links with a long query) and DataMatrix symbols of
// about 32x32 to 64x64 modules (element strings with a free-text tail). Other kinds
// get random_content().
std::string random_large_content(CodeKind kind, std::mt19937& rng);

// `items` distinct EAN-13 numbers (check digit included) sharing one GS1 company
// prefix of 7 to 9 digits, each differing from the first in 1 to 3 digits of its item
// reference: one brand's products, whose codes a misread could confuse.
std::vector<std::string> shared_prefix_catalog(int items, std::mt19937& rng);

}  // namespace shopeasy::vision_gen
