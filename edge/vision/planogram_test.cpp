#include "edge/vision/planogram.hpp"

#include <gtest/gtest.h>

namespace shopeasy::edge::vision {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({
    "camera": "aisle-1",
    "image": {"width": 640, "height": 480},
    "reference": {"full": "full.jpg", "empty": "empty.jpg"},
    "slots": [
      {"id": "A1", "sku": "MILK-1L", "gtins": ["4006381333931"], "facings": 3,
       "polygon": [[10, 10], [200, 10], [200, 200], [10, 200]]},
      {"id": "A2", "sku": "TEA-500", "facings": 2,
       "polygon": [[210, 10], [400, 10], [400, 200], [210, 200]]}
    ]})");
}

Status error_of(const json& j) {
  auto p = parse_planogram(j);
  return p.ok() ? Status::ok() : p.status();
}

TEST(Planogram, ParsesAValidOneAndResolvesPaths) {
  auto p = parse_planogram(valid(), "/etc/shopeasy/planograms");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->camera, "aisle-1");
  EXPECT_EQ(p->image, cv::Size(640, 480));
  EXPECT_EQ(p->reference_full, "/etc/shopeasy/planograms/full.jpg");
  ASSERT_EQ(p->slots.size(), 2u);
  EXPECT_EQ(p->slots[0].gtins, std::vector<std::string>{"04006381333931"});
  EXPECT_EQ(p->slots[1].facings, 2);
  EXPECT_EQ(p->registration, Registration::kAuto);
}

TEST(Planogram, RefusesOverlappingSlots) {
  json j = valid();
  j["slots"][1]["polygon"] = json::parse("[[100, 10], [300, 10], [300, 200], [100, 200]]");
  const Status s = error_of(j);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "slots[1].polygon");
  EXPECT_NE(s.message().find("A1 overlaps slot A2"), std::string::npos) << s.message();
}

TEST(Planogram, RefusesEmptyOrDegenerateSlots) {
  json j = valid();
  j["slots"] = json::array();
  EXPECT_EQ(error_of(j).field(), "slots");
  j = valid();
  j["slots"][0]["polygon"] = json::parse("[[10, 10], [200, 10], [100, 10]]");
  EXPECT_EQ(error_of(j).field(), "slots[0].polygon");
  j = valid();
  j["slots"][0]["polygon"] = json::array();
  EXPECT_EQ(error_of(j).field(), "slots[0].polygon");
  j = valid();
  j["slots"][0]["polygon"] = json::parse("[[10, 10], [200, 10], [50, 50], [200, 200], [10, 200]]");
  EXPECT_NE(error_of(j).message().find("convex"), std::string::npos);
}

TEST(Planogram, RefusesSlotsOutsideTheImage) {
  json j = valid();
  j["slots"][0]["polygon"][1] = json::array({700, 10});
  const Status s = error_of(j);
  EXPECT_EQ(s.field(), "slots[0].polygon[1]");
  EXPECT_NE(s.message().find("640x480"), std::string::npos);
}

TEST(Planogram, RefusesBadFields) {
  json j = valid();
  j["slots"][1]["id"] = "A1";
  EXPECT_EQ(error_of(j).field(), "slots[1].id");
  j = valid();
  j["slots"][0]["gtins"][0] = "4006381333932";
  EXPECT_EQ(error_of(j).field(), "slots[0].gtins[0]");
  j = valid();
  j["slots"][0]["facings"] = 0;
  EXPECT_EQ(error_of(j).field(), "slots[0].facings");
  j = valid();
  j.erase("reference");
  EXPECT_EQ(error_of(j).field(), "reference");
  j = valid();
  j["image"]["width"] = 5;
  EXPECT_EQ(error_of(j).field(), "image.width");
  j = valid();
  j["thresholds"] = {{"empty_below", 0.6}, {"low_below", 0.5}};
  EXPECT_EQ(error_of(j).field(), "thresholds");
  j = valid();
  j["registration"] = "magic";
  EXPECT_EQ(error_of(j).field(), "registration");
  EXPECT_EQ(error_of(json::array()).field(), "planogram");
}

TEST(Planogram, ChecksFrameSize) {
  auto p = parse_planogram(valid());
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(check_frame_size(*p, cv::Size(640, 480)).is_ok());
  const Status s = check_frame_size(*p, cv::Size(1280, 720));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("1280x720"), std::string::npos);
}

TEST(Planogram, LoadReportsMissingAndMalformedFiles) {
  EXPECT_EQ(load_planogram("/nonexistent/p.json").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace shopeasy::edge::vision
