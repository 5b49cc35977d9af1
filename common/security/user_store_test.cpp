#include "common/security/user_store.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/db/database.hpp"

namespace shopeasy::security {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

const Actor kOps{"ops", "admin", "10.0.0.5"};

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "users-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = (dir_ / "users.db").string();
    open_store();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void open_store(PasswordParams params = PasswordParams::weak(), std::size_t max_sessions = 16) {
    store_.reset();
    UserStoreOptions o;
    o.path = path_;
    o.password_params = params;
    o.session_ttl = hours(8);
    o.max_sessions_per_user = max_sessions;
    o.durable = false;
    auto opened = UserStore::open(o, clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(*opened);
  }

  std::string login_ok(const std::string& name, const std::string& password) {
    auto s = store_->login(name, password, clock_.wall_now(), "10.1.1.1");
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? s->token : std::string();
  }

  std::vector<AuditEntry> audit(const std::string& action = {}) {
    AuditQuery q;
    q.action = action;
    q.limit = 1000;
    auto page = store_->audit().query(q);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    return page.ok() ? page->entries : std::vector<AuditEntry>{};
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::string path_;
  std::unique_ptr<UserStore> store_;
};

TEST_F(UserStoreTest, LoginGivesATokenThatAuthenticatesAsTheUser) {
  ASSERT_TRUE(store_->add_user("asha", "picker", "pick-pick-pick", kOps).is_ok());
  auto session = store_->login("asha", "pick-pick-pick", clock_.wall_now());
  ASSERT_TRUE(session.ok()) << session.status().to_string();
  EXPECT_EQ(session->token.size(), 64u);
  EXPECT_EQ(session->user, "asha");
  EXPECT_EQ(session->role, "picker");
  EXPECT_EQ(session->expires_at, clock_.wall_now() + hours(8));

  auto who = store_->authenticate(session->token, clock_.wall_now());
  ASSERT_TRUE(who.ok()) << who.status().to_string();
  EXPECT_EQ(who->subject, "asha");
  EXPECT_EQ(who->role, "picker");

  const std::string second = login_ok("asha", "pick-pick-pick");
  EXPECT_NE(second, session->token);
}

TEST_F(UserStoreTest, WrongPasswordUnknownUserAndDisabledUserLookTheSame) {
  ASSERT_TRUE(store_->add_user("asha", "admin", "right password", kOps).is_ok());
  ASSERT_TRUE(store_->add_user("ben", "viewer", "bens password", kOps).is_ok());
  ASSERT_TRUE(store_->disable_user("ben", kOps).is_ok());
  auto wrong = store_->login("asha", "wrong password", clock_.wall_now());
  auto unknown = store_->login("nobody", "right password", clock_.wall_now());
  auto disabled = store_->login("ben", "bens password", clock_.wall_now());
  auto empty = store_->login("asha", "", clock_.wall_now());
  for (const auto* r : {&wrong, &unknown, &disabled, &empty}) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->status().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(r->status().message(), wrong.status().message());
  }
  // The audit log knows the real reasons.
  auto failures = audit("session.login_failed");
  ASSERT_EQ(failures.size(), 4u);
  EXPECT_EQ(failures[0].details["reason"], "wrong_password");
  EXPECT_EQ(failures[1].details["reason"], "unknown_user");
  EXPECT_EQ(failures[1].target, "nobody");
  EXPECT_EQ(failures[2].details["reason"], "disabled");
  EXPECT_EQ(failures[3].details["reason"], "malformed");
}

TEST_F(UserStoreTest, AFailedLoginDoesNotRecordAPasswordTypedAsTheName) {
  auto r = store_->login("my secret pw!", "x", clock_.wall_now());
  ASSERT_FALSE(r.ok());
  auto failures = audit("session.login_failed");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].target, "<invalid>");
}

TEST_F(UserStoreTest, FailedSignInsAreAuditedWithinABudgetAndTheRestCounted) {
  // A spray of 1,000 failed sign-ins in one minute writes at most the budget (30).
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(store_->login("nobody", "guess-" + std::to_string(i), clock_.wall_now()).ok());
  }
  const auto burst = audit("session.login_failed");
  EXPECT_EQ(burst.size(), 30u);
  // Once the budget refills, the next entry says how many were left out.
  clock_.advance(std::chrono::minutes(1));
  ASSERT_FALSE(store_->login("nobody", "again", clock_.wall_now()).ok());
  const auto after = audit("session.login_failed");
  ASSERT_EQ(after.size(), 31u);
  EXPECT_EQ(after.back().details.value("suppressed_before", 0), 970);
}

TEST_F(UserStoreTest, SessionsExpire) {
  ASSERT_TRUE(store_->add_user("asha", "manager", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  const WallTime start = clock_.wall_now();
  EXPECT_TRUE(store_->authenticate(token, start + hours(8) - milliseconds(1)).ok());
  auto expired = store_->authenticate(token, start + hours(8));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(expired.status().message(), "session expired");

  auto purged = store_->purge_expired_sessions(start + hours(9));
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(store_->authenticate(token, start).status().message(), "unknown or revoked session");
}

TEST_F(UserStoreTest, RefusesBadTokens) {
  ASSERT_TRUE(store_->add_user("asha", "manager", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  std::string flipped = token;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  std::string upper = token;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad : {std::string(), std::string("x"), token.substr(0, 63), token + "0",
                                 flipped, std::string(64, 'g'), upper, std::string(64, '0')}) {
    auto r = store_->authenticate(bad, clock_.wall_now());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated) << bad;
  }
}

TEST_F(UserStoreTest, LogoutRevokesTheSession) {
  ASSERT_TRUE(store_->add_user("asha", "manager", "pw-asha-123", kOps).is_ok());
  const std::string a = login_ok("asha", "pw-asha-123");
  const std::string b = login_ok("asha", "pw-asha-123");
  ASSERT_TRUE(store_->revoke_session(a, Actor{"asha", "manager", ""}).is_ok());
  EXPECT_FALSE(store_->authenticate(a, clock_.wall_now()).ok());
  EXPECT_TRUE(store_->authenticate(b, clock_.wall_now()).ok()) << "other sessions live on";
  EXPECT_EQ(store_->revoke_session(a, kOps).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->revoke_session("junk", kOps).code(), StatusCode::kNotFound);

  auto ended = store_->revoke_user_sessions("asha", kOps);
  ASSERT_TRUE(ended.ok());
  EXPECT_EQ(*ended, 1);
  EXPECT_FALSE(store_->authenticate(b, clock_.wall_now()).ok());
}

TEST_F(UserStoreTest, PasswordChangeEndsSessionsAndSwapsThePassword) {
  ASSERT_TRUE(store_->add_user("asha", "manager", "old password", kOps).is_ok());
  const std::string token = login_ok("asha", "old password");
  clock_.advance(minutes(5));
  ASSERT_TRUE(store_->set_password("asha", "new password", kOps).is_ok());
  EXPECT_FALSE(store_->authenticate(token, clock_.wall_now()).ok());
  EXPECT_FALSE(store_->login("asha", "old password", clock_.wall_now()).ok());
  EXPECT_TRUE(store_->login("asha", "new password", clock_.wall_now()).ok());
  auto user = store_->get_user("asha");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->updated_ms - user->created_ms, 5 * 60 * 1000);

  EXPECT_EQ(store_->set_password("ghost", "whatever", kOps).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->set_password("asha", "", kOps).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->set_password("asha", std::string(1025, 'x'), kOps).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(UserStoreTest, DisableEndsSessionsUntilEnabled) {
  ASSERT_TRUE(store_->add_user("root", "admin", "admin password", kOps).is_ok());
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  ASSERT_TRUE(store_->disable_user("asha", kOps).is_ok());
  EXPECT_FALSE(store_->authenticate(token, clock_.wall_now()).ok());
  EXPECT_FALSE(store_->login("asha", "pw-asha-123", clock_.wall_now()).ok());
  ASSERT_TRUE(store_->enable_user("asha", kOps).is_ok());
  EXPECT_FALSE(store_->authenticate(token, clock_.wall_now()).ok()) << "old sessions stay dead";
  EXPECT_TRUE(store_->login("asha", "pw-asha-123", clock_.wall_now()).ok());
  EXPECT_EQ(store_->disable_user("ghost", kOps).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->enable_user("ghost", kOps).code(), StatusCode::kNotFound);
}

TEST_F(UserStoreTest, KeepsAtLeastOneEnabledAdmin) {
  ASSERT_TRUE(store_->add_user("root", "admin", "admin password", kOps).is_ok());
  EXPECT_EQ(store_->disable_user("root", kOps).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->set_role("root", "manager", kOps).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store_->add_user("second", "admin", "admin password 2", kOps).is_ok());
  EXPECT_TRUE(store_->disable_user("root", kOps).is_ok());
  EXPECT_EQ(store_->set_role("second", "viewer", kOps).code(), StatusCode::kFailedPrecondition);
}

TEST_F(UserStoreTest, RoleChangesApplyToLiveSessions) {
  ASSERT_TRUE(store_->add_user("root", "admin", "admin password", kOps).is_ok());
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  ASSERT_TRUE(store_->set_role("asha", "manager", kOps).is_ok());
  auto who = store_->authenticate(token, clock_.wall_now());
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->role, "manager");
  EXPECT_EQ(store_->set_role("asha", "owner", kOps).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->set_role("ghost", "viewer", kOps).code(), StatusCode::kNotFound);
  auto changes = audit("user.role");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].details, (nlohmann::json{{"from", "picker"}, {"to", "manager"}}));
}

TEST_F(UserStoreTest, ValidatesNewUsers) {
  EXPECT_EQ(store_->add_user("", "picker", "pw", kOps).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("-dash", "picker", "pw", kOps).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("a b", "picker", "pw", kOps).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user(std::string(65, 'a'), "picker", "pw", kOps).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->add_user("asha", "customer", "pw", kOps).field(), "role");
  EXPECT_EQ(store_->add_user("asha", "picker", "", kOps).field(), "password");
  ASSERT_TRUE(store_->add_user("asha.k_1", "picker", "pw", kOps).is_ok());
  EXPECT_EQ(store_->add_user("asha.k_1", "viewer", "pw", kOps).code(), StatusCode::kAlreadyExists);
  auto users = store_->list_users();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].role, "picker");
}

TEST_F(UserStoreTest, CapsSessionsPerUserEndingTheOldest) {
  open_store(PasswordParams::weak(), 2);
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string first = login_ok("asha", "pw-asha-123");
  clock_.advance(milliseconds(1));
  const std::string second = login_ok("asha", "pw-asha-123");
  clock_.advance(milliseconds(1));
  const std::string third = login_ok("asha", "pw-asha-123");
  EXPECT_FALSE(store_->authenticate(first, clock_.wall_now()).ok());
  EXPECT_TRUE(store_->authenticate(second, clock_.wall_now()).ok());
  EXPECT_TRUE(store_->authenticate(third, clock_.wall_now()).ok());
}

TEST_F(UserStoreTest, SurvivesReopenAndStoresOnlyTokenHashes) {
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  open_store();
  EXPECT_TRUE(store_->authenticate(token, clock_.wall_now()).ok());

  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto raw = db::Database::open(path_);
  ASSERT_TRUE(raw.ok());
  auto found = raw->query_one<std::int64_t>(
      "SELECT count(*) FROM sessions WHERE token_hash = ? OR token_hash = ?", token,
      http::sha256_hex(token));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->value_or(-1), 1);
  auto plain =
      raw->query_one<std::int64_t>("SELECT count(*) FROM sessions WHERE token_hash = ?", token);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->value_or(-1), 0);
  auto hash = raw->query_one<std::string>("SELECT password_hash FROM users");
  ASSERT_TRUE(hash.ok() && hash->has_value());
  EXPECT_EQ((*hash)->find("pw-asha-123"), std::string::npos);
}

TEST_F(UserStoreTest, UpgradesOldHashesAtLogin) {
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  PasswordParams stronger = PasswordParams::weak();
  stronger.time_cost = 3;
  open_store(stronger);
  login_ok("asha", "pw-asha-123");
  auto raw = db::Database::open(path_);
  ASSERT_TRUE(raw.ok());
  auto hash = raw->query_one<std::string>("SELECT password_hash FROM users WHERE name = 'asha'");
  ASSERT_TRUE(hash.ok() && hash->has_value());
  EXPECT_NE((*hash)->find(",t=3,"), std::string::npos) << **hash;
  EXPECT_TRUE(store_->login("asha", "pw-asha-123", clock_.wall_now()).ok());
}

TEST_F(UserStoreTest, RejectsBadOptions) {
  UserStoreOptions o;
  o.path = path_;
  o.password_params = PasswordParams::weak();
  o.session_ttl = std::chrono::seconds(0);
  EXPECT_EQ(UserStore::open(o, clock_).status().field(), "session_ttl");
  o.session_ttl = hours(1);
  o.max_sessions_per_user = 0;
  EXPECT_EQ(UserStore::open(o, clock_).status().field(), "max_sessions_per_user");
  o.max_sessions_per_user = 4;
  o.password_params.memory_kib = 1;
  EXPECT_EQ(UserStore::open(o, clock_).status().field(), "password_params.memory_kib");
  o.password_params = PasswordParams::weak();
  o.path = (dir_ / "missing-dir" / "users.db").string();
  EXPECT_EQ(UserStore::open(o, clock_).status().code(), StatusCode::kUnavailable);
}

TEST_F(UserStoreTest, ConcurrentLoginsAndAuthenticationsAreSafe) {
  open_store(PasswordParams::weak(), 1000);  // no session is pushed out by the cap
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (t % 2 == 0) {
          if (!store_->authenticate(token, clock_.wall_now()).ok()) ++failures;
        } else if (!store_->login("asha", "pw-asha-123", clock_.wall_now()).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- Audit log ----

TEST_F(UserStoreTest, AuditRecordsEveryChangeWithActorAndAddress) {
  ASSERT_TRUE(store_->add_user("root", "admin", "admin password", kOps).is_ok());
  login_ok("root", "admin password");
  auto entries = audit();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].action, "user.add");
  EXPECT_EQ(entries[0].actor, "ops");
  EXPECT_EQ(entries[0].role, "admin");
  EXPECT_EQ(entries[0].target, "root");
  EXPECT_EQ(entries[0].remote_addr, "10.0.0.5");
  EXPECT_EQ(entries[0].details, (nlohmann::json{{"role", "admin"}}));
  EXPECT_EQ(entries[0].ts_ms, to_unix_ms(clock_.wall_now()));
  EXPECT_EQ(entries[1].action, "session.login");
  EXPECT_EQ(entries[1].actor, "root");
  EXPECT_EQ(entries[1].remote_addr, "10.1.1.1");
  EXPECT_LT(entries[0].id, entries[1].id);
  for (const auto& e : entries) {
    EXPECT_EQ(e.details.dump().find("admin password"), std::string::npos);
  }
}

TEST_F(UserStoreTest, AuditQueryFiltersAndPages) {
  AuditLog& log = store_->audit();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log.record("asha", "picker", "stock.pick", "SKU-" + std::to_string(i), {{"qty", i}},
                           "10.0.0.9")
                    .ok());
    clock_.advance(std::chrono::seconds(1));
  }
  ASSERT_TRUE(log.record("ben", "manager", "stock.adjust", "SKU-1", nullptr, "").ok());

  AuditQuery q;
  q.actor = "asha";
  q.limit = 2;
  auto p1 = log.query(q);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->entries.size(), 2u);
  EXPECT_TRUE(p1->more);
  q.cursor = p1->next_cursor;
  auto p2 = log.query(q);
  ASSERT_TRUE(p2.ok());
  ASSERT_EQ(p2->entries.size(), 2u);
  q.cursor = p2->next_cursor;
  auto p3 = log.query(q);
  ASSERT_TRUE(p3.ok());
  ASSERT_EQ(p3->entries.size(), 1u);
  EXPECT_FALSE(p3->more);
  EXPECT_EQ(p3->entries[0].target, "SKU-4");
  EXPECT_EQ(p3->entries[0].details["qty"], 4);

  AuditQuery by_action;
  by_action.action = "stock.adjust";
  auto adj = log.query(by_action);
  ASSERT_TRUE(adj.ok());
  ASSERT_EQ(adj->entries.size(), 1u);
  EXPECT_EQ(adj->entries[0].details, nlohmann::json::object());

  AuditQuery since;
  since.since = clock_.wall_now() - std::chrono::seconds(2);
  auto recent = log.query(since);
  ASSERT_TRUE(recent.ok());
  ASSERT_EQ(recent->entries.size(), 3u);
  EXPECT_EQ(recent->entries[0].target, "SKU-3");

  AuditQuery bad;
  bad.limit = 0;
  EXPECT_EQ(log.query(bad).status().code(), StatusCode::kInvalidArgument);
  bad.limit = 1001;
  EXPECT_EQ(log.query(bad).status().code(), StatusCode::kInvalidArgument);
  bad.limit = 10;
  bad.cursor = -1;
  EXPECT_EQ(log.query(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(UserStoreTest, AuditRejectsBadEntries) {
  AuditLog& log = store_->audit();
  EXPECT_EQ(log.record("a", "r", "", "t", {}, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log.record(std::string(300, 'a'), "r", "x", "t", {}, "").status().field(), "actor");
  nlohmann::json big = {{"blob", std::string(9000, 'x')}};
  EXPECT_EQ(log.record("a", "r", "x", "t", big, "").status().code(), StatusCode::kPayloadTooLarge);
  // Invalid UTF-8 in details is stored, not thrown on.
  auto odd = log.record("a", "r", "x", "t", {{"name", std::string("\xff\xfe")}}, "");
  EXPECT_TRUE(odd.ok()) << odd.status().to_string();
  auto entries = audit();
  ASSERT_EQ(entries.size(), 1u);
}

TEST_F(UserStoreTest, AuditLogIsAppendOnly) {
  ASSERT_TRUE(store_->audit().record("asha", "picker", "stock.pick", "SKU-1", {}, "").ok());
  auto raw = db::Database::open(path_);
  ASSERT_TRUE(raw.ok());
  Status upd = raw->exec("UPDATE audit_log SET actor = 'mallory'");
  EXPECT_EQ(upd.code(), StatusCode::kFailedPrecondition) << upd.to_string();
  EXPECT_NE(upd.message().find("append-only"), std::string::npos) << upd.message();
  Status del = raw->exec("DELETE FROM audit_log");
  EXPECT_EQ(del.code(), StatusCode::kFailedPrecondition) << del.to_string();
  auto entries = audit();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].actor, "asha");
}

TEST_F(UserStoreTest, AuditChainRevealsEditsBehindTheTriggersBack) {
  AuditLog& log = store_->audit();
  auto empty_head = log.verify_chain();
  ASSERT_TRUE(empty_head.ok());
  EXPECT_EQ(*empty_head, "");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        log.record("asha", "picker", "stock.pick", "SKU-" + std::to_string(i), {}, "").ok());
  }
  auto head = log.verify_chain();
  ASSERT_TRUE(head.ok()) << head.status().to_string();
  EXPECT_EQ(head->size(), 64u);

  auto raw = db::Database::open(path_);
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw->exec("DROP TRIGGER audit_log_no_update; "
                        "UPDATE audit_log SET target = 'SKU-X' WHERE id = 2")
                  .is_ok());
  auto edited = log.verify_chain();
  ASSERT_FALSE(edited.ok());
  EXPECT_EQ(edited.status().code(), StatusCode::kInternal);
  EXPECT_NE(edited.status().message().find("row 2"), std::string::npos)
      << edited.status().message();

  ASSERT_TRUE(raw->exec("UPDATE audit_log SET target = 'SKU-1' WHERE id = 2; "
                        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 1")
                  .is_ok());
  auto removed = log.verify_chain();
  ASSERT_FALSE(removed.ok());
  EXPECT_NE(removed.status().message().find("expected row 1"), std::string::npos);
}

// ---- SessionAuthenticator ----

http::Request with_bearer(const std::string& token) {
  http::Request r;
  r.headers["Authorization"] = "Bearer " + token;
  return r;
}

TEST_F(UserStoreTest, SessionAuthenticatorAcceptsSessionsAndFallsBackToConfigTokens) {
  ASSERT_TRUE(store_->add_user("asha", "picker", "pw-asha-123", kOps).is_ok());
  const std::string token = login_ok("asha", "pw-asha-123");
  http::TokenAuthenticator config_tokens(
      {http::TokenEntry{"scanner-bay-1", "picker", http::sha256_hex("config-token")}});

  SessionAuthenticator sessions_only(*store_, clock_);
  SessionAuthenticator chained(*store_, clock_, &config_tokens);

  for (const SessionAuthenticator* auth : {&sessions_only, &chained}) {
    auto who = auth->authenticate(with_bearer(token));
    ASSERT_TRUE(who.ok()) << who.status().to_string();
    EXPECT_EQ(who->subject, "asha");
  }
  auto machine = chained.authenticate(with_bearer("config-token"));
  ASSERT_TRUE(machine.ok()) << machine.status().to_string();
  EXPECT_EQ(machine->subject, "scanner-bay-1");
  EXPECT_EQ(sessions_only.authenticate(with_bearer("config-token")).status().code(),
            StatusCode::kUnauthenticated);

  EXPECT_EQ(chained.authenticate(http::Request{}).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(sessions_only.authenticate(http::Request{}).status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(chained.authenticate(with_bearer("nonsense")).status().code(),
            StatusCode::kUnauthenticated);

  clock_.advance(hours(9));
  auto expired = chained.authenticate(with_bearer(token));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().message(), "session expired");
}

}  // namespace
}  // namespace shopeasy::security
