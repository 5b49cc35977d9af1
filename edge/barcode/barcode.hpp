// Barcode decoding for the scan pipeline: turns the text a handheld scanner sends into
// a product identity (a normalised GTIN-14 plus lot, expiry, serial and count when the
// code carries them) or an internal code (bin labels, SKUs printed as Code 128).
//
// Recognised forms:
// - Retail GTIN codes: EAN-13, EAN-8, UPC-A, UPC-E and bare GTIN-14 (ITF-14) digits.
// - GS1 element strings (GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar): with an AIM
//   symbology identifier ("]C1", "]d2", "]Q3", "]e0", "]J1"), with a leading FNC1 sent
//   as ASCII GS (0x1D), or in human-readable form "(01)09506000134352(10)ABC".
// - Plain Code 128 text.
// Every check digit is verified (GTINs, SSCC, GLNs, ...); a code that fails one is
// refused, never corrected or guessed. Dates are validated, unknown AIs refused.
// All functions are pure, allocation-light and thread-safe; none throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.hpp"

namespace shopeasy::edge::barcode {

// Longest scanner text parse_scan accepts, in bytes.
inline constexpr std::size_t kMaxScanLength = 256;
// Longest plain Code 128 text accepted as an internal code.
inline constexpr std::size_t kMaxCode128Length = 80;
// The ASCII group separator scanners send for GS1 FNC1.
inline constexpr char kGroupSeparator = '\x1d';

// The symbologies of the edge: what a scanner's text parses to (parse_scan) and what a
// camera frame's decoder (edge/vision) read. One enum for both, so a name means the same
// in the scan API, the camera routes and the ledger.
enum class Symbology {
  kEan13,
  kEan8,
  kUpcA,
  kUpcE,
  kGtin14,   // 14 bare digits: an ITF-14 case code, or a GTIN-14 keyed in by hand.
  kCode128,  // Plain (non-GS1) Code 128 text; ParsedCode::raw holds it.
  kGs1,      // A GS1 element string from any GS1 carrier.
  // Carriers a camera frame reads (edge/vision); parse_scan never produces them.
  kGs1_128,     // Code 128 with FNC1 first: a GS1 element string.
  kQr,          // QR Code (GS1 when its AIM identifier is "]Q3").
  kDataMatrix,  // Data Matrix (GS1 when its AIM identifier is "]d2").
  kUnknown,     // Never produced by parse_scan; the value of a default ParsedCode.
};

// Stable lower-case name: "ean-13", "ean-8", "upc-a", "upc-e", "gtin-14", "code-128",
// "gs1", "gs1-128", "qr", "datamatrix", "unknown". These are wire names (scan results,
// camera reads). parse_scan accepts the first seven (and "gs1-128") as hints.
std::string_view symbology_name(Symbology s);

// What a scan decodes to. Exactly one of gtin14 and raw is non-empty, except for a GS1
// string without AI 01/02 (e.g. only an SSCC), where both are empty.
struct ParsedCode {
  Symbology symbology = Symbology::kUnknown;
  // Normalised GTIN-14 (14 digits, zero-padded, check digit verified) for EAN/UPC/
  // GTIN-14 codes and for GS1 strings with AI 01 or AI 02; else empty.
  std::string gtin14{};
  // True when gtin14 came from AI 02: the GTIN of the trade items inside a logistic unit
  // (a pallet or case label "(00)...(02)...(37)n"); count is then how many there are.
  bool gtin_is_content = false;
  // Plain Code 128 only: the scanned text (1..80 printable ASCII characters), used for
  // internal codes such as bin labels or SKUs.
  std::string raw{};
  std::optional<std::string> lot{};  // AI 10, 1..20 characters.
  // AI 17 as "YYYY-MM-DD": day "00" is read as the last day of the month, and the
  // two-digit year is placed by the GS1 sliding-century rule around reference_year.
  std::optional<std::string> expiry{};
  // AI 30 (variable count) or AI 37 (count of trade items), 0..99999999.
  std::optional<std::int64_t> count{};
  std::optional<std::string> serial{};  // AI 21, 1..20 characters.
  // Every other AI with its raw value ("00" SSCC, "15" best-before YYMMDD, "3103" net
  // weight, ...), in the order they appear. Already validated like the named fields.
  std::vector<std::pair<std::string, std::string>> other_ais{};

  friend bool operator==(const ParsedCode&, const ParsedCode&) = default;
};

// Decodes one scan. `text` is what the scanner sent (no trailing CR/LF). Detection,
// in order:
// 1. An AIM symbology identifier: "]C1" "]d2" "]Q3" "]e0" "]J1" (GS1), "]C0" (Code 128),
//    "]E0" (EAN-13 or UPC-A), "]E4" (EAN-8), "]I1" (ITF-14). It overrides the hint;
//    other identifiers are refused.
// 2. A GS (0x1D) anywhere means GS1 (a leading GS is the FNC1 and is dropped).
// 3. The hint (case-insensitive, '-', '_' and spaces ignored): "ean-13", "ean-8",
//    "upc-a", "upc-e", "gtin-14"/"itf-14" demand that form; "code-128" reads the text
//    as plain Code 128 even if it is all digits; "gs1"/"gs1-128"/"gs1-datamatrix"/
//    "gs1-qr"/"gs1-databar" read it as a GS1 element string (bracketed or not, for
//    scanners that strip the identifier). UPC-E needs the hint: 8 digits are number
//    system + 6 + check; 7 digits are number system + 6 and 6 digits are the 6 data
//    digits with number system 0, both with the check digit (already verified by the
//    scanner against the symbol's parity pattern) computed here.
// 4. Without hint: "(" + 2-4 digits + ")" starts the bracketed GS1 form; all digits of
//    length 8, 12, 13, 14 are EAN-8, UPC-A, EAN-13, GTIN-14; any other printable text
//    (including all-digit strings of other lengths) is plain Code 128.
// In the bracketed form "(" always starts the next AI, so values containing "(" can
// only be scanned from the barcode itself. A repeated AI with the same value is
// accepted once; AI 01 with AI 02, or AI 30 with AI 37, are refused as ambiguous.
// Errors, all kInvalidArgument with field "code" unless noted: empty or longer than
// 256 bytes; a byte outside printable ASCII other than GS; a check digit mismatch
// ("check digit mismatch: expected 7, got 2 (EAN-13)"); wrong length for the hint or
// identifier; an unknown or incomplete AI; a truncated element string; a value of the
// wrong length or character set (e.g. AI 01 not 14 digits); an invalid date (month 13,
// day 32, 30 February); Code 128 text over 80 characters. An unknown hint is
// kInvalidArgument with field "symbology"; reference_year outside 1900..9899 with
// field "reference_year".
[[nodiscard]] StatusOr<ParsedCode> parse_scan(
    std::string_view text, std::optional<std::string_view> symbology_hint = std::nullopt,
    int reference_year = 2026);

// The GS1 mod-10 check digit (weights 3, 1, 3, ... from the right) of `body`, a
// string of digits without its check digit. nullopt if body is empty or not all digits.
std::optional<int> gs1_check_digit(std::string_view body);

// True iff `digits` is at least 2 digits long, all digits, and its last digit is the
// GS1 check digit of the ones before it. Works for GTIN-8/12/13/14, SSCC, GLN, GSIN.
bool valid_gs1_check_digit(std::string_view digits);

// Expands a UPC-E code to its 12-digit UPC-A form by the rule its last data digit
// selects. Accepts 8 digits (number system, 6 data digits, check digit: verified),
// 7 digits (number system + 6 data digits) or 6 data digits (number system 0); the
// number system must be 0 or 1. Errors: kInvalidArgument, field "code".
[[nodiscard]] StatusOr<std::string> expand_upce(std::string_view upce);

// The GTIN-14 form (left-padded with zeros) of a GTIN-8, -12, -13 or -14 given as
// digits, after verifying its check digit. Errors: kInvalidArgument, field "code".
[[nodiscard]] StatusOr<std::string> to_gtin14(std::string_view gtin);

}  // namespace shopeasy::edge::barcode
