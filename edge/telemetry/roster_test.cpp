#include "edge/telemetry/roster.hpp"

#include <gtest/gtest.h>

#include "tests/harness/temp_dir.hpp"

namespace shopeasy::edge::telemetry {
namespace {

class RosterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::create("roster-test");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }
  std::unique_ptr<Roster> open(const std::vector<std::string>& seed) {
    auto r = Roster::open(dir_->file("runners.db").string(), seed, clock_);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(*r) : nullptr;
  }
  std::vector<std::string> ids(const Roster& r) {
    std::vector<std::string> out;
    auto active = r.active();
    EXPECT_TRUE(active.ok());
    if (active.ok()) {
      for (const auto& e : *active) out.push_back(e.id);
    }
    return out;
  }

  FakeClock clock_;
  std::optional<testing::TempDir> dir_;
};

TEST_F(RosterTest, SeedIsAddedOnce) {
  auto r = open({"r2", "r1"});
  EXPECT_EQ(ids(*r), (std::vector<std::string>{"r1", "r2"}));
  r.reset();
  r = open({"r1", "r2", "r3"});
  EXPECT_EQ(ids(*r), (std::vector<std::string>{"r1", "r2", "r3"}));
}

TEST_F(RosterTest, BadSeedIdIsNamed) {
  auto r = Roster::open(dir_->file("runners.db").string(), {"ok", "no spaces"}, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), "telemetry.runners[1]");
}

TEST_F(RosterTest, RetiredRunnerStaysRetiredDespiteTheSeed) {
  auto r = open({"r1", "r2"});
  ASSERT_TRUE(r->retire("r1").is_ok());
  EXPECT_EQ(r->retire("r1").code(), StatusCode::kNotFound);
  r.reset();
  r = open({"r1", "r2"});
  EXPECT_EQ(ids(*r), (std::vector<std::string>{"r2"}));
  auto found = r->find("r1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_FALSE((*found)->active);
}

TEST_F(RosterTest, PutAddsReactivatesAndRenames) {
  auto r = open({});
  auto created = r->put("r9", std::string_view("Ravi"));
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  auto again = r->put("r9", std::nullopt);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(r->find("r9").value()->name, "Ravi");  // no name given: kept
  ASSERT_TRUE(r->retire("r9").is_ok());
  auto back = r->put("r9", std::string_view("Ravi S"));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back);
  EXPECT_EQ(r->find("r9").value()->name, "Ravi S");
  EXPECT_FALSE(r->find("never").value().has_value());
}

TEST_F(RosterTest, PutValidates) {
  auto r = open({});
  EXPECT_EQ(r->put("bad/id", std::nullopt).status().field(), "id");
  EXPECT_EQ(r->put("", std::nullopt).status().field(), "id");
  EXPECT_EQ(r->put(std::string(65, 'a'), std::nullopt).status().field(), "id");
  EXPECT_EQ(r->put("ok", std::string_view(std::string(65, 'n'))).status().field(), "name");
  EXPECT_TRUE(r->active()->empty());
}

}  // namespace
}  // namespace shopeasy::edge::telemetry
