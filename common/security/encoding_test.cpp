#include "common/security/encoding.hpp"

#include <gtest/gtest.h>

#include <set>

namespace shopeasy::security {
namespace {

TEST(EncodingTest, HexRoundTripsAndRejectsJunk) {
  EXPECT_EQ(hex_encode(std::string("\x00\xff\x10", 3)), "00ff10");
  auto back = hex_decode("00FF10");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, std::string("\x00\xff\x10", 3));
  EXPECT_EQ(hex_decode("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(hex_decode("zz").status().code(), StatusCode::kInvalidArgument);
}

TEST(EncodingTest, Base64MatchesRfc4648VectorsWithoutPadding) {
  // RFC 4648 section 10, padding removed.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode_unpadded(plain), encoded);
    auto back = base64_decode_unpadded(encoded);
    ASSERT_TRUE(back.ok()) << encoded;
    EXPECT_EQ(*back, plain);
  }
}

TEST(EncodingTest, Base64UrlUsesTheUrlAlphabet) {
  const std::string bytes("\xfb\xff\xfe", 3);
  EXPECT_EQ(base64_encode_unpadded(bytes), "+//+");
  EXPECT_EQ(base64url_encode(bytes), "-__-");
  auto back = base64url_decode("-__-");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, bytes);
  // Each alphabet refuses the other's special characters.
  EXPECT_FALSE(base64url_decode("+//+").ok());
  EXPECT_FALSE(base64_decode_unpadded("-__-").ok());
}

TEST(EncodingTest, DecodersAreStrict) {
  EXPECT_FALSE(base64url_decode("Zm9v=").ok()) << "padding";
  EXPECT_FALSE(base64url_decode("Zm9vY").ok()) << "impossible length";
  EXPECT_FALSE(base64url_decode("Zh").ok()) << "non-zero trailing bits (Zg is canonical)";
  EXPECT_FALSE(base64url_decode("Zm 9v").ok()) << "whitespace";
  EXPECT_FALSE(base64url_decode(std::string("Zm\0v", 4)).ok()) << "NUL";
}

TEST(EncodingTest, RandomBytesHaveTheRequestedSizeAndDiffer) {
  auto a = random_hex(32);
  auto b = random_hex(32);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  auto empty = random_bytes(0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace shopeasy::security
