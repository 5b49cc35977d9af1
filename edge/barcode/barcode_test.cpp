#include "edge/barcode/barcode.hpp"

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shopeasy::edge::barcode {
namespace {

using ::testing::HasSubstr;

constexpr char kGs = kGroupSeparator;

// Asserts the scan is refused as an invalid "code" and returns the message.
std::string refusal(std::string_view text, std::optional<std::string_view> hint = std::nullopt,
                    int reference_year = 2026) {
  auto r = parse_scan(text, hint, reference_year);
  EXPECT_FALSE(r.ok()) << "accepted: " << text;
  if (r.ok()) return {};
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  EXPECT_EQ(r.status().field(), "code") << r.status().to_string();
  return r.status().message();
}

ParsedCode accepted(std::string_view text, std::optional<std::string_view> hint = std::nullopt,
                    int reference_year = 2026) {
  auto r = parse_scan(text, hint, reference_year);
  EXPECT_TRUE(r.ok()) << "refused: " << text << ": " << r.status().to_string();
  return r.ok() ? *r : ParsedCode{};
}

// ---- Check digits and helpers ---------------------------------------------------

TEST(CheckDigit, ComputesMod10WithWeightsThreeOneFromTheRight) {
  EXPECT_EQ(gs1_check_digit("400638133393"), 1);
  EXPECT_EQ(gs1_check_digit("590123412345"), 7);
  EXPECT_EQ(gs1_check_digit("9638507"), 4);
  EXPECT_EQ(gs1_check_digit("0000000"), 0);
  EXPECT_EQ(gs1_check_digit(""), std::nullopt);
  EXPECT_EQ(gs1_check_digit("12a"), std::nullopt);
}

TEST(CheckDigit, ValidatesWholeCodes) {
  EXPECT_TRUE(valid_gs1_check_digit("4006381333931"));
  EXPECT_TRUE(valid_gs1_check_digit("10012345678902"));
  EXPECT_TRUE(valid_gs1_check_digit("106141410000000019"));  // SSCC
  EXPECT_FALSE(valid_gs1_check_digit("4006381333932"));
  EXPECT_FALSE(valid_gs1_check_digit(""));
  EXPECT_FALSE(valid_gs1_check_digit("7"));
  EXPECT_FALSE(valid_gs1_check_digit("40063813 3931"));
}

TEST(ToGtin14, PadsEveryGtinLengthAfterCheckingIt) {
  EXPECT_EQ(to_gtin14("96385074").value_or(""), "00000096385074");
  EXPECT_EQ(to_gtin14("036000291452").value_or(""), "00036000291452");
  EXPECT_EQ(to_gtin14("4006381333931").value_or(""), "04006381333931");
  EXPECT_EQ(to_gtin14("10012345678902").value_or(""), "10012345678902");
  auto bad = to_gtin14("4006381333932");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("check digit mismatch: expected 1, got 2"));
  EXPECT_EQ(bad.status().field(), "code");
  EXPECT_FALSE(to_gtin14("1234567").ok());
  EXPECT_FALSE(to_gtin14("400638133393A").ok());
  EXPECT_FALSE(to_gtin14("").ok());
}

// ---- Published retail codes ------------------------------------------------------

struct GtinCase {
  const char* text;
  const char* hint;  // nullptr: auto-detect
  Symbology symbology;
  const char* gtin14;
};

const std::vector<GtinCase>& published_codes() {
  static const std::vector<GtinCase> kCases = {
      {"4006381333931", nullptr, Symbology::kEan13, "04006381333931"},
      {"5901234123457", nullptr, Symbology::kEan13, "05901234123457"},
      {"96385074", nullptr, Symbology::kEan8, "00000096385074"},
      {"73513537", nullptr, Symbology::kEan8, "00000073513537"},
      {"036000291452", nullptr, Symbology::kUpcA, "00036000291452"},
      {"012345678905", nullptr, Symbology::kUpcA, "00012345678905"},
      {"10012345678902", nullptr, Symbology::kGtin14, "10012345678902"},
      {"04252614", "upc-e", Symbology::kUpcE, "00042100005264"},
      {"01234565", "upc-e", Symbology::kUpcE, "00012345000065"},
      // One per UPC-E expansion rule (last data digit 0..9), number systems 0 and 1.
      {"01234505", "upc-e", Symbology::kUpcE, "00012000003455"},
      {"11234502", "upc-e", Symbology::kUpcE, "00112000003452"},
      {"01234514", "upc-e", Symbology::kUpcE, "00012100003454"},
      {"01234523", "upc-e", Symbology::kUpcE, "00012200003453"},
      {"09876539", "upc-e", Symbology::kUpcE, "00098700000659"},
      {"19876536", "upc-e", Symbology::kUpcE, "00198700000656"},
      {"09876547", "upc-e", Symbology::kUpcE, "00098760000057"},
      {"01234558", "upc-e", Symbology::kUpcE, "00012345000058"},
      {"11234562", "upc-e", Symbology::kUpcE, "00112345000062"},
      {"01234572", "upc-e", Symbology::kUpcE, "00012345000072"},
      {"01234589", "upc-e", Symbology::kUpcE, "00012345000089"},
      {"11234593", "upc-e", Symbology::kUpcE, "00112345000093"},
  };
  return kCases;
}

TEST(PublishedCodes, DecodeToTheirGtin14) {
  for (const GtinCase& c : published_codes()) {
    SCOPED_TRACE(c.text);
    auto hint = c.hint ? std::optional<std::string_view>(c.hint) : std::nullopt;
    ParsedCode p = accepted(c.text, hint);
    EXPECT_EQ(p.symbology, c.symbology);
    EXPECT_EQ(p.gtin14, c.gtin14);
    EXPECT_TRUE(p.raw.empty());
    EXPECT_FALSE(p.lot.has_value());
    EXPECT_FALSE(p.expiry.has_value());
    EXPECT_TRUE(p.other_ais.empty());
  }
}

TEST(PublishedCodes, EverySingleDigitChangeIsRefused) {
  for (const GtinCase& c : published_codes()) {
    const std::string good = c.text;
    auto hint = c.hint ? std::optional<std::string_view>(c.hint) : std::nullopt;
    for (std::size_t i = 0; i < good.size(); ++i) {
      // UPC-E's last data digit picks the expansion rule, so changing it moves digits
      // around and can give another genuine code; see UpcE.RuleDigitIsNotCoveredByCheck.
      if (c.symbology == Symbology::kUpcE && i == 6) continue;
      for (char d = '0'; d <= '9'; ++d) {
        if (d == good[i]) continue;
        std::string bad = good;
        bad[i] = d;
        SCOPED_TRACE(good + " -> " + bad);
        const std::string msg = refusal(bad, hint);
        if (i + 1 == good.size()) {
          EXPECT_THAT(msg, HasSubstr("check digit mismatch"));
        }
      }
    }
  }
}

TEST(PublishedCodes, MismatchMessageNamesBothDigits) {
  EXPECT_THAT(refusal("4006381333932"),
              HasSubstr("check digit mismatch: expected 1, got 2 (ean-13)"));
  EXPECT_THAT(refusal("96385070"), HasSubstr("check digit mismatch: expected 4, got 0 (ean-8)"));
  EXPECT_THAT(refusal("04252615", "upc-e"),
              HasSubstr("check digit mismatch: expected 4, got 5 (upc-e)"));
}

// ---- UPC-E ----------------------------------------------------------------------

TEST(UpcE, ExpandsBySevenAndSixDigitForms) {
  EXPECT_EQ(expand_upce("04252614").value_or(""), "042100005264");
  EXPECT_EQ(expand_upce("0425261").value_or(""), "042100005264");
  EXPECT_EQ(expand_upce("425261").value_or(""), "042100005264");
  EXPECT_EQ(expand_upce("1123456").value_or(""), "112345000062");
  EXPECT_EQ(accepted("425261", "upc-e").gtin14, "00042100005264");
  EXPECT_EQ(accepted("1987654", "upc-e").gtin14, "00198760000054");
}

TEST(UpcE, RuleDigitIsNotCoveredByCheck) {
  // Both are genuine codes differing only in the rule digit, with the same check digit;
  // they name different products, and nothing in the digits can tell a misread apart.
  EXPECT_EQ(accepted("01234565", "upc-e").gtin14, "00012345000065");
  EXPECT_EQ(accepted("01234505", "upc-e").gtin14, "00012000003455");
  // Most rule-digit changes are still caught.
  EXPECT_THAT(refusal("01234515", "upc-e"), HasSubstr("check digit mismatch"));
}

TEST(UpcE, RefusesBadNumberSystemLengthAndCheck) {
  EXPECT_THAT(refusal("24252614", "upc-e"), HasSubstr("number system must be 0 or 1, got 2"));
  EXPECT_THAT(refusal("2425261", "upc-e"), HasSubstr("number system"));
  EXPECT_THAT(refusal("42526", "upc-e"), HasSubstr("6, 7 or 8 digits"));
  EXPECT_THAT(refusal("042526140", "upc-e"), HasSubstr("6, 7 or 8 digits"));
  EXPECT_THAT(refusal("0425A614", "upc-e"), HasSubstr("6, 7 or 8 digits"));
  EXPECT_FALSE(expand_upce("04252615").ok());
  EXPECT_FALSE(expand_upce("").ok());
}

TEST(UpcE, WithoutHintSevenDigitsAreAnInternalCode) {
  ParsedCode p = accepted("0425261");
  EXPECT_EQ(p.symbology, Symbology::kCode128);
  EXPECT_EQ(p.raw, "0425261");
  EXPECT_TRUE(p.gtin14.empty());
  // Eight digits without the hint are an EAN-8, whose check digit this one fails.
  EXPECT_THAT(refusal("04252614"), HasSubstr("(ean-8)"));
}

// ---- Hints and symbology identifiers ---------------------------------------------

TEST(Hints, DemandTheirForm) {
  EXPECT_THAT(refusal("036000291452", "ean-13"), HasSubstr("exactly 13 digits"));
  EXPECT_THAT(refusal("4006381333931", "UPC-A"), HasSubstr("exactly 12 digits"));
  EXPECT_THAT(refusal("4006381333931", "ean8"), HasSubstr("exactly 8 digits"));
  EXPECT_THAT(refusal("4006381333931", "itf-14"), HasSubstr("exactly 14 digits"));
  EXPECT_EQ(accepted("4006381333931", "EAN_13").symbology, Symbology::kEan13);
  EXPECT_EQ(accepted("10012345678902", "ITF-14").symbology, Symbology::kGtin14);
}

TEST(Hints, Code128KeepsDigitsAndBracketsAsText) {
  ParsedCode p = accepted("4006381333932", "code-128");
  EXPECT_EQ(p.symbology, Symbology::kCode128);
  EXPECT_EQ(p.raw, "4006381333932");
  EXPECT_TRUE(p.gtin14.empty());
  EXPECT_EQ(accepted("(01)bin", "Code 128").raw, "(01)bin");
}

TEST(Hints, Gs1ReadsStringsWhoseIdentifierWasStripped) {
  ParsedCode p = accepted(std::string("010950600013435210ABC123") + kGs + "17261231", "gs1-128");
  EXPECT_EQ(p.symbology, Symbology::kGs1);
  EXPECT_EQ(p.gtin14, "09506000134352");
  EXPECT_EQ(p.lot, "ABC123");
  EXPECT_EQ(p.expiry, "2026-12-31");
  EXPECT_EQ(accepted("0109506000134352", "gs1").gtin14, "09506000134352");
  EXPECT_EQ(accepted("(01)09506000134352", "gs1-datamatrix").gtin14, "09506000134352");
}

TEST(Hints, UnknownHintIsRefusedOnItsOwnField) {
  for (std::string_view hint : {"qr", "", "ean-14", "this-hint-is-far-too-long-to-be-a-name"}) {
    auto r = parse_scan("4006381333931", hint);
    ASSERT_FALSE(r.ok()) << hint;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().field(), "symbology");
  }
}

TEST(AimIdentifiers, SelectTheSymbologyAndOverrideTheHint) {
  EXPECT_EQ(accepted("]E04006381333931").symbology, Symbology::kEan13);
  EXPECT_EQ(accepted("]E0036000291452").symbology, Symbology::kUpcA);
  EXPECT_EQ(accepted("]E496385074").gtin14, "00000096385074");
  EXPECT_EQ(accepted("]I110012345678902").gtin14, "10012345678902");
  EXPECT_EQ(accepted("]E04006381333931", "code-128").symbology, Symbology::kEan13);
  ParsedCode c = accepted("]C0BIN-A-01");
  EXPECT_EQ(c.symbology, Symbology::kCode128);
  EXPECT_EQ(c.raw, "BIN-A-01");
  EXPECT_THAT(refusal("]E04006381333932"), HasSubstr("check digit mismatch"));
  EXPECT_THAT(refusal("]E496385"), HasSubstr("exactly 8 digits"));
  EXPECT_THAT(refusal("]X9123"), HasSubstr("unsupported symbology identifier \"]X9\""));
  EXPECT_THAT(refusal("]C1"), HasSubstr("no data after symbology identifier"));
}

TEST(AimIdentifiers, TextThatMerelyStartsWithBracketIsCode128) {
  EXPECT_EQ(accepted("]abc").raw, "]abc");
  EXPECT_EQ(accepted("]").raw, "]");
}

// ---- GS1 element strings ----------------------------------------------------------

TEST(Gs1, AllThreeFormsDecodeTheSame) {
  const std::string tail = std::string("010950600013435210ABC123") + kGs + "17261231";
  const std::vector<std::string> forms = {"]C1" + tail, "]d2" + tail,
                                          "]Q3" + tail, "]e0" + tail,
                                          kGs + tail,   "(01)09506000134352(10)ABC123(17)261231"};
  for (const std::string& form : forms) {
    SCOPED_TRACE(form);
    ParsedCode p = accepted(form);
    EXPECT_EQ(p.symbology, Symbology::kGs1);
    EXPECT_EQ(p.gtin14, "09506000134352");
    EXPECT_FALSE(p.gtin_is_content);
    EXPECT_EQ(p.lot, "ABC123");
    EXPECT_EQ(p.expiry, "2026-12-31");
    EXPECT_FALSE(p.count.has_value());
    EXPECT_FALSE(p.serial.has_value());
    EXPECT_TRUE(p.other_ais.empty());
    EXPECT_TRUE(p.raw.empty());
  }
}

TEST(Gs1, VariableFieldAtTheEndNeedsNoSeparator) {
  ParsedCode p = accepted("]C1010950600013435221SN-0042");
  EXPECT_EQ(p.serial, "SN-0042");
  p = accepted(std::string("]C11726123110LOT7") + kGs);  // Trailing GS is harmless too.
  EXPECT_EQ(p.lot, "LOT7");
  EXPECT_TRUE(p.gtin14.empty());
}

TEST(Gs1, SeparatorAfterPredefinedLengthFieldIsTolerated) {
  ParsedCode p = accepted(std::string("]C10109506000134352") + kGs + "10A" + kGs + "21B");
  EXPECT_EQ(p.gtin14, "09506000134352");
  EXPECT_EQ(p.lot, "A");
  EXPECT_EQ(p.serial, "B");
}

TEST(Gs1, VariableCountAndOtherAisAreKept) {
  ParsedCode p = accepted("(01)09506000134352(30)12(3103)001250(15)270100(21)X1");
  EXPECT_EQ(p.count, 12);
  EXPECT_EQ(p.serial, "X1");
  ASSERT_EQ(p.other_ais.size(), 2u);
  EXPECT_EQ(p.other_ais[0], std::make_pair(std::string("3103"), std::string("001250")));
  EXPECT_EQ(p.other_ais[1], std::make_pair(std::string("15"), std::string("270100")));
}

TEST(Gs1, LogisticLabelGivesContainedGtinAndCount) {
  ParsedCode p =
      accepted(std::string("]C1001061414100000000190209506000134352370024") + kGs + "10L1");
  EXPECT_EQ(p.gtin14, "09506000134352");
  EXPECT_TRUE(p.gtin_is_content);
  EXPECT_EQ(p.count, 24);
  EXPECT_EQ(p.lot, "L1");
  ASSERT_EQ(p.other_ais.size(), 1u);
  EXPECT_EQ(p.other_ais[0].first, "00");
  EXPECT_EQ(p.other_ais[0].second, "106141410000000019");
}

TEST(Gs1, RepeatedAiWithSameValueIsAcceptedOnce) {
  ParsedCode p = accepted("(10)A(01)09506000134352(10)A");
  EXPECT_EQ(p.lot, "A");
  EXPECT_THAT(refusal("(10)A(01)09506000134352(10)B"),
              HasSubstr("AI 10 appears twice with different values"));
}

TEST(Gs1, AmbiguousIdentityOrCountIsRefused) {
  EXPECT_THAT(refusal("(01)09506000134352(02)10012345678902(37)5"), HasSubstr("AI 01 and AI 02"));
  EXPECT_THAT(refusal("(02)09506000134352(30)5(37)5"), HasSubstr("AI 30 and AI 37"));
}

TEST(Gs1Dates, DayZeroIsTheLastDayOfTheMonth) {
  EXPECT_EQ(accepted("(17)240200").expiry, "2024-02-29");
  EXPECT_EQ(accepted("(17)250200").expiry, "2025-02-28");
  EXPECT_EQ(accepted("(17)261100").expiry, "2026-11-30");
  EXPECT_EQ(accepted("(17)261200").expiry, "2026-12-31");
  EXPECT_EQ(accepted("(17)000200").expiry, "2000-02-29");  // 2000 is a leap year.
  EXPECT_EQ(accepted("(17)240229").expiry, "2024-02-29");
}

TEST(Gs1Dates, TwoDigitYearsSlideAroundTheReferenceYear) {
  EXPECT_EQ(accepted("(17)760101", std::nullopt, 2026).expiry, "2076-01-01");  // +50: ahead
  EXPECT_EQ(accepted("(17)770101", std::nullopt, 2026).expiry, "1977-01-01");  // +51: behind
  EXPECT_EQ(accepted("(17)000101", std::nullopt, 2026).expiry, "2000-01-01");
  EXPECT_EQ(accepted("(17)300101", std::nullopt, 2080).expiry, "2130-01-01");  // -50: ahead
  EXPECT_EQ(accepted("(17)310101", std::nullopt, 2080).expiry, "2031-01-01");  // -49
  EXPECT_EQ(accepted("(17)990101", std::nullopt, 2048).expiry, "1999-01-01");  // +51
  EXPECT_EQ(accepted("(17)990101", std::nullopt, 2049).expiry, "2099-01-01");  // +50
  // 2100 is not a leap year.
  EXPECT_THAT(refusal("(17)000229", std::nullopt, 2080), HasSubstr("2100-02 has 28 days"));
}

TEST(Gs1Dates, InvalidDatesAreRefused) {
  EXPECT_THAT(refusal("(17)261301"), HasSubstr("invalid date \"261301\": month 13"));
  EXPECT_THAT(refusal("(17)260001"), HasSubstr("month 0"));
  EXPECT_THAT(refusal("(17)260132"), HasSubstr("day 32"));
  EXPECT_THAT(refusal("(17)260230"), HasSubstr("day 30 but 2026-02 has 28 days"));
  EXPECT_THAT(refusal("(17)250229"), HasSubstr("2025-02 has 28 days"));
  EXPECT_THAT(refusal("(17)260431"), HasSubstr("2026-04 has 30 days"));
  EXPECT_THAT(refusal("]C101095060001343521726133110A"), HasSubstr("AI 17"));
  // Other date AIs are validated too; some do not allow day 00.
  EXPECT_THAT(refusal("(15)261301"), HasSubstr("AI 15"));
  EXPECT_THAT(refusal("(01)09506000134352(7006)260100"), HasSubstr("day 00"));
  EXPECT_EQ(accepted("(11)260100").other_ais.at(0).second, "260100");
}

TEST(Gs1Errors, CheckDigitsInsideElementStringsAreVerified) {
  EXPECT_THAT(refusal("(01)09506000134353"),
              HasSubstr("check digit mismatch: expected 2, got 3 (AI 01)"));
  EXPECT_THAT(refusal("]C10109506000134353"), HasSubstr("check digit mismatch"));
  EXPECT_THAT(refusal("(00)106141410000000010"), HasSubstr("(AI 00)"));
  EXPECT_THAT(refusal("(02)09506000134353(37)1"), HasSubstr("(AI 02)"));
  EXPECT_THAT(refusal("(414)9506000134353"), HasSubstr("(AI 414)"));
}

TEST(Gs1Errors, WrongLengthAndContentAreRefused) {
  EXPECT_THAT(refusal("(01)123"), HasSubstr("AI 01 must be exactly 14 digits, got 3"));
  EXPECT_THAT(refusal("(01)095060001343520"), HasSubstr("AI 01 must be exactly 14 digits"));
  EXPECT_THAT(refusal("(01)0950600013435X"), HasSubstr("non-digit 'X'"));
  EXPECT_THAT(refusal("]C101ABCDEFGHIJKLMN"), HasSubstr("non-digit 'A'"));
  EXPECT_THAT(refusal("(30)12A"), HasSubstr("AI 30: non-digit 'A'"));
  EXPECT_THAT(refusal("(30)123456789"), HasSubstr("AI 30 must be 1 to 8 digits, got 9"));
  EXPECT_THAT(refusal("(10)ABCDEFGHIJKLMNOPQRSTU"),
              HasSubstr("AI 10 must be 1 to 20 characters, got 21"));
  EXPECT_THAT(refusal("(10)AB#C"), HasSubstr("character '#' is not allowed"));
  EXPECT_THAT(refusal("(10)AB C"), HasSubstr("character ' ' is not allowed"));
  // A missing separator makes a variable field swallow the next AI; too long is caught.
  EXPECT_THAT(refusal("]C110ABCDEFGHIJKLMN17261231"), HasSubstr("AI 10 must be 1 to 20"));
}

TEST(Gs1Errors, UnknownAisAreRefused) {
  EXPECT_THAT(refusal("(14)123456"), HasSubstr("unknown AI 14"));
  EXPECT_THAT(refusal("(3106)001250"), HasSubstr("unknown AI 3106"));  // 0-5 decimals only
  EXPECT_THAT(refusal("(01)09506000134352(99"), HasSubstr("unclosed"));
  EXPECT_THAT(refusal("]C10109506000134352141234"), HasSubstr("unknown AI 14"));
  EXPECT_THAT(refusal("]C13106001250"), HasSubstr("unknown AI 3106"));
  EXPECT_THAT(refusal("]C1AB"), HasSubstr("expected an AI at offset 0, found 'A'"));
  EXPECT_THAT(refusal("(1)2", "gs1"), HasSubstr("expected an AI at offset 0, found '('"));
  EXPECT_THAT(refusal("(01)09506000134352(1)2"), HasSubstr("invalid AI \"(1)\""));
  EXPECT_THAT(refusal("(01)09506000134352(0x)2"), HasSubstr("invalid AI \"(0x)\""));
  EXPECT_THAT(refusal("(01)09506000134352(12345)2"), HasSubstr("invalid AI"));
  EXPECT_THAT(refusal("(01)09506000134352x(10)A", "gs1"),
              HasSubstr("AI 01 must be exactly 14 digits, got 15"));
  // Company-internal AIs are known.
  EXPECT_EQ(accepted("(01)09506000134352(91)anything").other_ais.at(0).first, "91");
}

TEST(Gs1Errors, TruncatedStringsAreRefused) {
  EXPECT_THAT(refusal("]C1010950600013"),
              HasSubstr("truncated element string: AI 01 needs 14 characters, 10 present"));
  EXPECT_THAT(refusal(std::string("]C10109506") + kGs + "10A"),
              HasSubstr("AI 01 needs 14 characters, 5 present"));
  EXPECT_THAT(refusal("]C10"), HasSubstr("incomplete AI \"0\""));
  EXPECT_THAT(refusal("]C1010950600013435231"), HasSubstr("incomplete AI \"31\""));
  EXPECT_THAT(refusal("]C1010950600013435239"), HasSubstr("incomplete AI"));
  EXPECT_THAT(refusal("]C1010950600013435210"), HasSubstr("AI 10 has no value"));
  EXPECT_THAT(refusal(std::string("]C110A") + kGs + kGs + "21B"), HasSubstr("empty field"));
  EXPECT_THAT(refusal(std::string(1, kGs)), HasSubstr("empty GS1 element string"));
  EXPECT_THAT(refusal("(01)09506000134352(10)"), HasSubstr("AI 10 has no value"));
  EXPECT_THAT(refusal("(17)2612"), HasSubstr("AI 17 must be exactly 6 digits, got 4"));
}

// ---- Input bounds and plain text ---------------------------------------------------

TEST(Input, EmptyLongAndNonPrintableAreRefused) {
  EXPECT_THAT(refusal(""), HasSubstr("empty code"));
  EXPECT_THAT(refusal(std::string(257, 'A')), HasSubstr("257 bytes, longer than the 256"));
  EXPECT_THAT(refusal("4006381333931\n"), HasSubstr("non-printable byte 0x0A at offset 13"));
  EXPECT_THAT(refusal(std::string("AB\0C", 4)), HasSubstr("0x00 at offset 2"));
  EXPECT_THAT(refusal("caf\xc3\xa9"), HasSubstr("0xC3"));
  EXPECT_THAT(refusal("\x7f"), HasSubstr("0x7F"));
}

TEST(Input, ReferenceYearIsBounded) {
  for (int year : {1899, 9900, -1}) {
    auto r = parse_scan("4006381333931", std::nullopt, year);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().field(), "reference_year");
  }
}

TEST(Code128, TextWithLettersOrOddDigitCountsIsAnInternalCode) {
  for (std::string_view text : {"BIN-A-01-03", "SKU 12345", "1234567890", "7", "(A)1"}) {
    ParsedCode p = accepted(text);
    EXPECT_EQ(p.symbology, Symbology::kCode128) << text;
    EXPECT_EQ(p.raw, text);
    EXPECT_TRUE(p.gtin14.empty());
  }
  EXPECT_EQ(accepted(std::string(80, 'Z')).raw.size(), 80u);
  EXPECT_THAT(refusal(std::string(81, 'Z')), HasSubstr("longer than the 80 allowed"));
  EXPECT_THAT(refusal(std::string("]C0AB") + kGs + "C"), HasSubstr("<GS>"));
}

TEST(Names, SymbologyNamesAreStable) {
  EXPECT_EQ(symbology_name(Symbology::kEan13), "ean-13");
  EXPECT_EQ(symbology_name(Symbology::kUpcE), "upc-e");
  EXPECT_EQ(symbology_name(Symbology::kGtin14), "gtin-14");
  EXPECT_EQ(symbology_name(Symbology::kCode128), "code-128");
  EXPECT_EQ(symbology_name(Symbology::kGs1), "gs1");
  EXPECT_EQ(symbology_name(Symbology::kUnknown), "unknown");
}

// The camera decoder (edge/vision) reports its reads with this enum too; its wire names
// are the ones the camera routes always sent, and each name belongs to one value.
TEST(Names, CameraCarriersShareTheEnumWithTheirOwnNames) {
  EXPECT_EQ(symbology_name(Symbology::kEan8), "ean-8");
  EXPECT_EQ(symbology_name(Symbology::kUpcA), "upc-a");
  EXPECT_EQ(symbology_name(Symbology::kGs1_128), "gs1-128");
  EXPECT_EQ(symbology_name(Symbology::kQr), "qr");
  EXPECT_EQ(symbology_name(Symbology::kDataMatrix), "datamatrix");
  const Symbology all[] = {Symbology::kEan13,      Symbology::kEan8,    Symbology::kUpcA,
                           Symbology::kUpcE,       Symbology::kGtin14,  Symbology::kCode128,
                           Symbology::kGs1,        Symbology::kGs1_128, Symbology::kQr,
                           Symbology::kDataMatrix, Symbology::kUnknown};
  std::set<std::string_view> names;
  for (Symbology s : all) names.insert(symbology_name(s));
  EXPECT_EQ(names.size(), std::size(all));
  // Carriers are not parse_scan hints (a camera read goes through its AIM identifier).
  for (std::string_view hint : {"qr", "datamatrix"}) {
    auto r = parse_scan("4006381333931", hint);
    ASSERT_FALSE(r.ok()) << hint;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().field(), "symbology");
  }
}

// ---- Fuzz -------------------------------------------------------------------------

bool is_real_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)),
            d = std::stoi(s.substr(8, 2));
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= (m == 2 && leap ? 29 : kDays[m - 1]);
}

// Re-encodes a GS1 result (less AI 17, whose day-00 spelling is not kept) as an element
// string with a separator after every field.
std::string reencode_gs1(const ParsedCode& p) {
  std::string s = "]C1";
  const auto add = [&s](std::string_view ai, std::string_view value) {
    if (s.size() > 3) s += kGs;
    s.append(ai).append(value);
  };
  if (!p.gtin14.empty()) add(p.gtin_is_content ? "02" : "01", p.gtin14);
  if (p.lot) add("10", *p.lot);
  if (p.serial) add("21", *p.serial);
  if (p.count) add(p.gtin_is_content ? "37" : "30", std::to_string(*p.count));
  for (const auto& [ai, value] : p.other_ais) add(ai, value);
  return s;
}

// What every accepted code must satisfy.
void expect_revalidates(const std::string& input, const std::optional<std::string_view>& hint,
                        const ParsedCode& p) {
  SCOPED_TRACE(input);
  ASSERT_NE(p.symbology, Symbology::kUnknown);
  if (!p.gtin14.empty()) {
    EXPECT_EQ(p.gtin14.size(), 14u);
    EXPECT_TRUE(valid_gs1_check_digit(p.gtin14));
    EXPECT_EQ(to_gtin14(p.gtin14).value_or(""), p.gtin14);
  }
  if (p.symbology == Symbology::kCode128) {
    EXPECT_GE(p.raw.size(), 1u);
    EXPECT_LE(p.raw.size(), kMaxCode128Length);
    for (char c : p.raw) EXPECT_TRUE(c >= 0x20 && c <= 0x7e);
    EXPECT_TRUE(p.gtin14.empty());
  } else {
    EXPECT_TRUE(p.raw.empty());
  }
  if (p.symbology != Symbology::kCode128 && p.symbology != Symbology::kGs1) {
    EXPECT_FALSE(p.gtin14.empty());
  }
  if (p.expiry) {
    EXPECT_TRUE(is_real_date(*p.expiry)) << *p.expiry;
  }
  if (p.lot) {
    EXPECT_TRUE(!p.lot->empty() && p.lot->size() <= 20);
  }
  if (p.serial) {
    EXPECT_TRUE(!p.serial->empty() && p.serial->size() <= 20);
  }
  if (p.count) {
    EXPECT_TRUE(*p.count >= 0 && *p.count <= 99999999);
  }
  auto again = parse_scan(input, hint);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, p);
  if (p.symbology == Symbology::kGs1 &&
      !(p.gtin14.empty() && p.other_ais.empty() && !p.lot && !p.serial && !p.count)) {
    auto round = parse_scan(reencode_gs1(p));
    ASSERT_TRUE(round.ok()) << round.status().to_string();
    ParsedCode expected = p;
    expected.expiry.reset();
    EXPECT_EQ(*round, expected);
  }
}

std::vector<std::string> seed_corpus() {
  std::vector<std::string> seeds;
  for (const GtinCase& c : published_codes()) seeds.emplace_back(c.text);
  const std::string gs(1, kGs);
  seeds.push_back("]C1010950600013435210ABC123" + gs + "17261231");
  seeds.push_back("(01)09506000134352(10)ABC123(17)261231(30)12");
  seeds.push_back("]C1001061414100000000190209506000134352370024" + gs + "10L1");
  seeds.push_back(gs + "0109506000134352211234" + gs + "3103001250");
  seeds.push_back("]E04006381333931");
  seeds.push_back("BIN-A-01-03");
  return seeds;
}

TEST(Fuzz, RandomBytesNeverCrashAndAcceptedCodesRevalidate) {
  std::mt19937 rng(20260101);  // Fixed seed: failures reproduce.
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 300);
  int accepted_count = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s(static_cast<std::size_t>(len(rng)), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    StatusOr<ParsedCode> r = Status(StatusCode::kInternal, "unset");
    EXPECT_NO_THROW(r = parse_scan(s));
    if (r.ok()) {
      ++accepted_count;
      expect_revalidates(s, std::nullopt, *r);
    }
  }
  // Random bytes are almost never printable; the structured runs below cover acceptance.
  EXPECT_LT(accepted_count, 100);
}

TEST(Fuzz, StructuredAndMutatedInputsRevalidate) {
  std::mt19937 rng(7);
  const std::string alphabet = std::string("0123456789012345678901234567890()]CdQE1A#x -") + kGs;
  const std::vector<std::string> seeds = seed_corpus();
  const std::vector<std::optional<std::string_view>> hints = {
      std::nullopt, "gs1", "upc-e", "code-128", "ean-13", "ean-8", "upc-a", "itf-14"};
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int accepted_count = 0;
  for (int i = 0; i < 60000; ++i) {
    std::string s;
    if (i % 2 == 0) {
      const std::size_t n = pick(40);
      for (std::size_t k = 0; k < n; ++k) s += alphabet[pick(alphabet.size())];
    } else {
      s = seeds[pick(seeds.size())];
      const std::size_t edits = 1 + pick(3);
      for (std::size_t k = 0; k < edits && !s.empty(); ++k) {
        const std::size_t at = pick(s.size());
        switch (pick(3)) {
          case 0:
            s[at] = alphabet[pick(alphabet.size())];
            break;
          case 1:
            s.insert(at, 1, alphabet[pick(alphabet.size())]);
            break;
          default:
            s.erase(at, 1);
            break;
        }
      }
    }
    const auto hint = hints[pick(hints.size())];
    StatusOr<ParsedCode> r = Status(StatusCode::kInternal, "unset");
    EXPECT_NO_THROW(r = parse_scan(s, hint));
    if (r.ok()) {
      ++accepted_count;
      expect_revalidates(s, hint, *r);
    } else {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  EXPECT_GT(accepted_count, 1000);  // The invariants were exercised, not vacuous.
}

}  // namespace
}  // namespace shopeasy::edge::barcode
