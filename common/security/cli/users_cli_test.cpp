#include "common/security/cli/users_cli.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "common/security/user_store.hpp"

namespace shopeasy::security {
namespace {

class UsersCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "users-cli-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    db_ = (dir_ / "users.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs the command with `input` on stdin; keeps the outputs in out_/err_.
  int run(std::vector<std::string> args, const std::string& input = {}, bool interactive = false) {
    args.insert(args.begin(), {"--db", db_});
    std::istringstream in(input);
    out_.str("");
    err_.str("");
    UsersCliContext ctx{in, out_, err_, clock_, "alice", interactive, PasswordParams::weak()};
    return run_users_cli(args, ctx);
  }

  std::unique_ptr<UserStore> open() {
    UserStoreOptions o;
    o.path = db_;
    o.password_params = PasswordParams::weak();
    auto s = UserStore::open(o, clock_);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(*s) : nullptr;
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::string db_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(UsersCliTest, AddsAUserWithThePasswordFromStdin) {
  ASSERT_EQ(run({"add", "asha", "manager"}, "s3cret pass\n"), 0) << err_.str();
  EXPECT_EQ(out_.str(), "added asha (manager)\n");
  auto store = open();
  ASSERT_NE(store, nullptr);
  auto session = store->login("asha", "s3cret pass", clock_.wall_now());
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  EXPECT_EQ(session->role, "manager");
  AuditQuery q;
  q.action = "user.add";
  auto page = store->audit().query(q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->entries.size(), 1u);
  EXPECT_EQ(page->entries[0].actor, "cli:alice");
}

TEST_F(UsersCliTest, AcceptsWindowsLineEndingsAndNoTrailingNewline) {
  ASSERT_EQ(run({"add", "a", "viewer"}, "pw-a\r\n"), 0) << err_.str();
  ASSERT_EQ(run({"add", "b", "viewer"}, "pw-b"), 0) << err_.str();
  auto store = open();
  EXPECT_TRUE(store->login("a", "pw-a", clock_.wall_now()).ok());
  EXPECT_TRUE(store->login("b", "pw-b", clock_.wall_now()).ok());
}

TEST_F(UsersCliTest, RefusesMissingOrEmptyPasswords) {
  EXPECT_EQ(run({"add", "asha", "picker"}, ""), 1);
  EXPECT_NE(err_.str().find("no password"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"add", "asha", "picker"}, "\n"), 1);
  EXPECT_NE(err_.str().find("must not be empty"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"add", "asha", "picker"}, std::string(1025, 'x') + "\n"), 1);
  EXPECT_FALSE(std::filesystem::exists(db_)) << "nothing is created for a refused command";
}

TEST_F(UsersCliTest, InteractiveEntryAsksTwice) {
  EXPECT_EQ(run({"add", "asha", "picker"}, "one\ntwo\n", true), 1);
  EXPECT_NE(err_.str().find("do not match"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"add", "asha", "picker"}, "same\nsame\n", true), 0) << err_.str();
  EXPECT_NE(err_.str().find("Repeat password"), std::string::npos);
}

TEST_F(UsersCliTest, PasswdDisableEnableAndList) {
  ASSERT_EQ(run({"add", "root", "admin"}, "root pw\n"), 0);
  ASSERT_EQ(run({"add", "asha", "picker"}, "old pw\n"), 0);
  ASSERT_EQ(run({"passwd", "asha"}, "new pw\n"), 0) << err_.str();
  ASSERT_EQ(run({"disable", "asha"}), 0) << err_.str();
  ASSERT_EQ(run({"list"}), 0);
  EXPECT_NE(out_.str().find("asha\tpicker\tdisabled"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("root\tadmin\tenabled"), std::string::npos) << out_.str();
  ASSERT_EQ(run({"enable", "asha"}), 0);
  ASSERT_EQ(run({"set-role", "asha", "viewer"}), 0) << err_.str();
  ASSERT_EQ(run({"list", "--json"}), 0);
  auto users = nlohmann::json::parse(out_.str());
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0]["name"], "asha");
  EXPECT_EQ(users[0]["role"], "viewer");
  EXPECT_EQ(users[0]["disabled"], false);
  EXPECT_EQ(out_.str().find("pw"), std::string::npos) << "no hashes or passwords in listings";

  auto store = open();
  EXPECT_FALSE(store->login("asha", "old pw", clock_.wall_now()).ok());
  EXPECT_TRUE(store->login("asha", "new pw", clock_.wall_now()).ok());
}

TEST_F(UsersCliTest, ReportsFailuresWithExitCode1) {
  ASSERT_EQ(run({"add", "root", "admin"}, "root pw\n"), 0);
  EXPECT_EQ(run({"add", "root", "admin"}, "again\n"), 1);
  EXPECT_NE(err_.str().find("already exists"), std::string::npos) << err_.str();
  EXPECT_EQ(run({"passwd", "ghost"}, "pw\n"), 1);
  EXPECT_EQ(run({"disable", "root"}), 1);
  EXPECT_NE(err_.str().find("last enabled admin"), std::string::npos) << err_.str();
}

TEST_F(UsersCliTest, BadUsageExitsWith2) {
  EXPECT_EQ(run({}), 2);
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"add", "asha"}), 2);
  EXPECT_EQ(run({"add", "asha", "customer"}, "pw\n"), 2);
  EXPECT_EQ(run({"add", "bad name", "picker"}, "pw\n"), 2);
  EXPECT_EQ(run({"passwd"}), 2);
  EXPECT_EQ(run({"list", "--yaml"}), 2);
  EXPECT_EQ(run({"audit", "--limit", "0"}), 2);
  EXPECT_EQ(run({"audit", "--limit"}), 2);
  EXPECT_NE(err_.str().find("usage:"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(db_));
  // A password given as an argument is not accepted anywhere.
  EXPECT_EQ(run({"add", "asha", "picker", "hunter2"}), 2);

  std::istringstream in;
  std::ostringstream out, err;
  UsersCliContext ctx{in, out, err, clock_, "alice", false, PasswordParams::weak()};
  EXPECT_EQ(run_users_cli({"--db"}, ctx), 2);
  EXPECT_EQ(run_users_cli({"--help"}, ctx), 0);
  EXPECT_NE(out.str().find("usage:"), std::string::npos);
}

TEST_F(UsersCliTest, PrintsAndVerifiesTheAuditLog) {
  ASSERT_EQ(run({"add", "root", "admin"}, "root pw\n"), 0);
  ASSERT_EQ(run({"add", "asha", "picker"}, "pw\n"), 0);
  ASSERT_EQ(run({"disable", "asha"}), 0);
  ASSERT_EQ(run({"audit", "--limit", "2"}), 0) << err_.str();
  std::istringstream lines(out_.str());
  std::string line;
  std::vector<nlohmann::json> entries;
  while (std::getline(lines, line)) entries.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["action"], "user.add");
  EXPECT_EQ(entries[0]["target"], "asha");
  EXPECT_EQ(entries[1]["action"], "user.disable");
  EXPECT_EQ(entries[1]["actor"], "cli:alice");
  ASSERT_EQ(run({"audit", "--action", "user.add", "--actor", "cli:alice"}), 0);
  const std::string filtered = out_.str();
  EXPECT_EQ(std::count(filtered.begin(), filtered.end(), '\n'), 2);
  ASSERT_EQ(run({"verify-audit"}), 0) << err_.str();
  EXPECT_NE(out_.str().find("audit log intact"), std::string::npos);
}

}  // namespace
}  // namespace shopeasy::security
