#include "edge/vision/cli.hpp"

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "edge/vision/test_support.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::vision {
namespace {

struct CliRun {
  int status;
  std::string out;
  std::string err;
};

CliRun run(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  const int status = run_cli(args, out, err);
  return {status, out.str(), err.str()};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = shopeasy::testing::TempDir::create("vision-cli");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  std::string path(const std::string& name) const { return dir_->file(name).string(); }
  std::optional<shopeasy::testing::TempDir> dir_;
};

TEST_F(CliTest, DecodePrintsOneJsonLinePerCode) {
  ASSERT_TRUE(cv::imwrite(path("a.png"),
                          testing::code_scene(vision_gen::CodeKind::kEan13, "4006381333931")));
  const CliRun r = run({"decode", path("a.png")});
  EXPECT_EQ(r.status, 0) << r.err;
  const nlohmann::json line = nlohmann::json::parse(r.out);
  EXPECT_EQ(line["symbology"], "ean-13");
  EXPECT_EQ(line["text"], "4006381333931");
  EXPECT_EQ(line["gtin14"], "04006381333931");
  EXPECT_EQ(line["image"], path("a.png"));
  EXPECT_EQ(line["corners"].size(), 4u);
}

TEST_F(CliTest, DecodeEscapesSeparatorsInJson) {
  const std::string iso =
      "[)>\x1e"
      "06\x1dP4711\x1e\x04";
  ASSERT_TRUE(cv::imwrite(path("iso.png"), testing::plain_matrix_code(false, iso, 6, 4)));
  const CliRun r = run({"decode", path("iso.png")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("[)>\\u001e06\\u001dP4711\\u001e\\u0004"), std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["text"], iso);
}

TEST_F(CliTest, DecodeFailsClearlyOnUnreadableInputButReadsTheRest) {
  ASSERT_TRUE(dir_->write_file("bad.jpg", "not an image").is_ok());
  ASSERT_TRUE(
      cv::imwrite(path("a.png"), testing::code_scene(vision_gen::CodeKind::kQr, "hello shelf")));
  const CliRun r = run({"decode", path("bad.jpg"), path("missing.png"), path("a.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bad.jpg"), std::string::npos);
  EXPECT_NE(r.err.find("not a supported image format"), std::string::npos);
  EXPECT_NE(r.err.find("missing.png"), std::string::npos);
  EXPECT_NE(r.out.find("hello shelf"), std::string::npos);
}

TEST_F(CliTest, ShelfPrintsSlotStatesAndWritesTheAnnotatedImage) {
  testing::SmallShelf shelf = testing::small_shelf(42);
  ASSERT_TRUE(cv::imwrite(path("full.png"), shelf.full));
  ASSERT_TRUE(cv::imwrite(path("empty.png"), shelf.empty));
  ASSERT_TRUE(dir_->write_file("plan.json", shelf.planogram.dump()).is_ok());
  ASSERT_TRUE(cv::imwrite(path("frame.png"), shelf.empty));
  const CliRun r =
      run({"shelf", "--planogram", path("plan.json"), "--out", path("out.jpg"), path("frame.png")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("R1S1      empty"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(path("out.jpg")));
}

TEST_F(CliTest, ShelfReadsAFolderOfFramesInOrderAndKeepsWhatItLearned) {
  testing::SmallShelf shelf = testing::small_shelf(42);
  ASSERT_TRUE(cv::imwrite(path("full.png"), shelf.full));
  nlohmann::json plan = shelf.planogram;
  plan["reference"].erase("empty");
  ASSERT_TRUE(dir_->write_file("plan.json", plan.dump()).is_ok());
  std::filesystem::create_directories(path("frames"));
  vision_gen::ShelfState st = vision_gen::full_state(shelf.layout);
  std::fill(st.present[0].begin(), st.present[0].end(), false);
  for (int f = 0; f < 3; ++f) {
    std::mt19937 rng(static_cast<std::uint32_t>(f));
    ASSERT_TRUE(cv::imwrite(path("frames/2026-12-07T10-0" + std::to_string(f) + ".png"),
                            vision_gen::render_shelf(shelf.layout, st, {}, rng)));
  }
  ASSERT_TRUE(dir_->write_file("frames/notes.txt", "not a frame").is_ok());
  const CliRun r = run({"shelf", "--planogram", path("plan.json"), "--state", path("cam1.shelf"),
                        "--out", path("out.jpg"), path("frames")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("frame 0 2026-12-07T10-00.png: 1 empty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("frame 2 2026-12-07T10-02.png"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("learned empty looks 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ms\n"), std::string::npos);
  EXPECT_NE(r.out.find("R1S1      empty"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(path("cam1.shelf.json")));
  EXPECT_TRUE(std::filesystem::exists(path("out.jpg")));
  // An empty folder is an error naming it.
  std::filesystem::create_directories(path("none"));
  const CliRun e = run({"shelf", "--planogram", path("plan.json"), path("none")});
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.err.find("no images"), std::string::npos) << e.err;
}

TEST_F(CliTest, ShelfFailsClearlyOnABadPlanogramOrImage) {
  ASSERT_TRUE(dir_->write_file("plan.json", "{\"camera\": \"x\"}").is_ok());
  const CliRun r = run({"shelf", "--planogram", path("plan.json"), path("frame.png")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bad planogram"), std::string::npos);
  EXPECT_NE(r.err.find("image"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(run({}).status, 2);
  EXPECT_EQ(run({"decode"}).status, 2);
  EXPECT_EQ(run({"decode", "--engine", "magic", "x.png"}).status, 2);
  EXPECT_EQ(run({"shelf", "x.png"}).status, 2);
  EXPECT_EQ(run({"paint"}).status, 2);
  EXPECT_EQ(run({"--help"}).status, 0);
}

}  // namespace
}  // namespace shopeasy::edge::vision
