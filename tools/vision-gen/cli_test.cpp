#include "tools/vision-gen/cli.hpp"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace shopeasy::vision_gen {
namespace {

namespace fs = std::filesystem;

TEST(GenCli, SceneWritesTheFrameAndEveryCodeInIt) {
  const fs::path dir = fs::temp_directory_path() / ("vision-gen-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string file = (dir / "two.png").string();
  std::ostringstream out, err;
  ASSERT_EQ(run_gen_cli({"scene", "--type", "two-codes", "--symbology", "ean-13", "--seed", "3",
                         "--out", file},
                        out, err),
            0)
      << err.str();
  EXPECT_TRUE(fs::exists(file));
  const auto line = nlohmann::json::parse(out.str());
  EXPECT_EQ(line["type"], "two-codes");
  ASSERT_EQ(line["codes"].size(), 2u);
  EXPECT_NE(line["codes"][0]["content"], line["codes"][1]["content"]);
  EXPECT_EQ(line["catalog"].size(), 24u);
  fs::remove_all(dir);
}

TEST(GenCli, SceneNamesWhatIsWrong) {
  std::ostringstream out, err;
  EXPECT_EQ(run_gen_cli({"scene", "--type", "three-codes", "--symbology", "qr", "--out", "x.png"},
                        out, err),
            2);
  EXPECT_NE(err.str().find("--type"), std::string::npos);
  std::ostringstream out2, err2;
  EXPECT_EQ(
      run_gen_cli({"scene", "--type", "large-matrix", "--symbology", "ean-13", "--out", "x.png"},
                  out2, err2),
      1);
  EXPECT_NE(err2.str().find("large-matrix"), std::string::npos);
}

}  // namespace
}  // namespace shopeasy::vision_gen
