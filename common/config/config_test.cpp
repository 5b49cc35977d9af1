#include "common/config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace shopeasy::config {
namespace {

Schema test_schema() {
  Schema s;
  s.add(string_option("store.id", "store-1", "Store identifier"));
  s.add(int_option("http.port", 8080, 0, 65535, "HTTP port"));
  s.add(double_option("store.lat", 0.0, -90, 90, "Latitude"));
  s.add(bool_option("mqtt.enabled", true, "Connect to the broker"));
  s.add(choice_option("log.level", "info", {"debug", "info", "warn", "error"}, "Log level"));
  Option secret = string_option("sync.secret", "", "Store credential");
  secret.secret = true;
  s.add(secret);
  s.add(json_option("auth.tokens", nlohmann::json::array(), "Hashed tokens"));
  return s;
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    char path[] = "/tmp/shopeasy-config-XXXXXX";
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = path;
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ConfigTest, DefaultsWhenNothingGiven) {
  auto cfg = load(test_schema(), Sources{});
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->get_int("http.port"), 8080);
  EXPECT_EQ(cfg->get_string("log.level"), "info");
  EXPECT_EQ(cfg->origin("http.port"), Origin::kDefault);
}

TEST(ConfigTest, FileThenEnvThenFlagsInPriority) {
  TempFile file(R"({"http": {"port": 9000}, "store": {"id": "blr-1", "lat": 12.9}})");
  Sources src;
  src.file_path = file.path();
  src.env_prefix = "SHOPEASY_EDGE_";
  src.env = {{"SHOPEASY_EDGE_HTTP_PORT", "9100"}, {"PATH", "/bin"}};
  src.flags = {{"store.id", "blr-2"}};
  auto cfg = load(test_schema(), src);
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->get_int("http.port"), 9100);
  EXPECT_EQ(cfg->origin("http.port"), Origin::kEnv);
  EXPECT_EQ(cfg->get_string("store.id"), "blr-2");
  EXPECT_DOUBLE_EQ(cfg->get_double("store.lat"), 12.9);
  EXPECT_EQ(cfg->origin("store.lat"), Origin::kFile);
}

TEST(ConfigTest, UnknownKeyInFileNamesTheKey) {
  TempFile file(R"({"http": {"prot": 9000}})");
  Sources src;
  src.file_path = file.path();
  auto cfg = load(test_schema(), src);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cfg.status().field(), "http.prot");
  EXPECT_NE(cfg.status().message().find("unknown key http.prot"), std::string::npos);
}

TEST(ConfigTest, EveryProblemIsReportedAtOnce) {
  TempFile file(R"({"http": {"port": "eighty"}, "store": {"lat": 95}, "log": {"level": "loud"}})");
  Sources src;
  src.file_path = file.path();
  auto cfg = load(test_schema(), src);
  ASSERT_FALSE(cfg.ok());
  const std::string& m = cfg.status().message();
  EXPECT_NE(m.find("3 configuration problems"), std::string::npos) << m;
  EXPECT_NE(m.find("http.port must be an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("store.lat: 95 is out of range [-90, 90]"), std::string::npos) << m;
  EXPECT_NE(m.find("'loud' is not one of"), std::string::npos) << m;
}

TEST(ConfigTest, MalformedFileGivesLineAndColumn) {
  TempFile file("{\n  \"http\": {\n    \"port\": 80,,\n  }\n}\n");
  Sources src;
  src.file_path = file.path();
  auto cfg = load(test_schema(), src);
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find(":3:"), std::string::npos) << cfg.status().message();
  EXPECT_NE(cfg.status().message().find("malformed JSON"), std::string::npos);
}

TEST(ConfigTest, MissingFileAndNonObjectTopLevel) {
  Sources src;
  src.file_path = "/nonexistent/shopeasy.json";
  EXPECT_FALSE(load(test_schema(), src).ok());
  TempFile file("[1,2]");
  src.file_path = file.path();
  auto cfg = load(test_schema(), src);
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("top level must be a JSON object"), std::string::npos);
}

TEST(ConfigTest, BadEnvValuesAndUnknownEnvVariables) {
  Sources src;
  src.env_prefix = "SHOPEASY_EDGE_";
  src.env = {{"SHOPEASY_EDGE_HTTP_PORT", "80x"},
             {"SHOPEASY_EDGE_MQTT_ENABLED", "maybe"},
             {"SHOPEASY_EDGE_HTTP_PROT", "1"}};
  auto cfg = load(test_schema(), src);
  ASSERT_FALSE(cfg.ok());
  const std::string& m = cfg.status().message();
  EXPECT_NE(m.find("SHOPEASY_EDGE_HTTP_PORT"), std::string::npos) << m;
  EXPECT_NE(m.find("mqtt.enabled must be a boolean"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown environment variable SHOPEASY_EDGE_HTTP_PROT"), std::string::npos);
}

TEST(ConfigTest, SecretsAreNeverEchoed) {
  Sources src;
  src.flags = {{"sync.secret", "hunter2"}};
  auto cfg = load(test_schema(), src);
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->get_string("sync.secret"), "hunter2");
  EXPECT_EQ(cfg->describe().dump().find("hunter2"), std::string::npos);
}

TEST(ConfigTest, ValidatorMessagesAreReported) {
  Schema s;
  Option o = string_option("store.geohash", "tdr1", "Store cell");
  o.validator = [](const Value& v) {
    return std::get<std::string>(v).size() > 12 ? std::string("longer than 12") : std::string();
  };
  s.add(o);
  Sources src;
  src.flags = {{"store.geohash", "0123456789abc"}};
  auto cfg = load(s, src);
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("longer than 12"), std::string::npos);
}

TEST(ConfigTest, ChangedKeysForReload) {
  auto a = load(test_schema(), Sources{});
  Sources src;
  src.flags = {{"log.level", "debug"}};
  auto b = load(test_schema(), src);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->changed_keys(*b), std::vector<std::string>{"log.level"});
}

TEST(CommandLineTest, ParsesFlagsAndSpecials) {
  const char* argv[] = {"edge",       "--config", "/etc/x.json",   "--http.port=81",
                        "--store.id", "s9",       "--check-config"};
  auto cl = parse_command_line(test_schema(), 7, argv);
  ASSERT_TRUE(cl.ok()) << cl.status().to_string();
  EXPECT_EQ(cl->config_path, "/etc/x.json");
  EXPECT_TRUE(cl->check_config);
  ASSERT_EQ(cl->flags.size(), 2u);
  EXPECT_EQ(cl->flags[0], (std::pair<std::string, std::string>{"http.port", "81"}));
}

TEST(CommandLineTest, RejectsUnknownMissingAndStray) {
  const char* unknown[] = {"edge", "--htp.port=1"};
  auto a = parse_command_line(test_schema(), 2, unknown);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("unknown flag --htp.port"), std::string::npos);
  const char* missing[] = {"edge", "--http.port"};
  EXPECT_FALSE(parse_command_line(test_schema(), 2, missing).ok());
  const char* stray[] = {"edge", "extra"};
  EXPECT_FALSE(parse_command_line(test_schema(), 2, stray).ok());
  const char* valued[] = {"edge", "--help=yes"};
  EXPECT_FALSE(parse_command_line(test_schema(), 2, valued).ok());
}

TEST(UsageTest, ListsEveryOptionWithEnvName) {
  const std::string text = usage(test_schema(), "shopeasy-edge", "SHOPEASY_EDGE_");
  EXPECT_NE(text.find("--http.port (an integer, 0..65535)"), std::string::npos) << text;
  EXPECT_NE(text.find("SHOPEASY_EDGE_HTTP_PORT"), std::string::npos);
}

}  // namespace
}  // namespace shopeasy::config
