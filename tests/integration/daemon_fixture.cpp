#include "tests/integration/daemon_fixture.hpp"

namespace shopeasy::testing {

std::string admin_tokens_json() {
  return R"([{"name":"test-admin","role":"admin","sha256":")" + http::sha256_hex(kAdminToken) +
         R"("}])";
}

std::string tokens_json(const std::vector<TestToken>& extra) {
  std::string out = admin_tokens_json();
  out.pop_back();  // the closing bracket
  for (const TestToken& t : extra) {
    out += R"(,{"name":")" + t.name + R"(","role":")" + t.role + R"(","sha256":")" +
           http::sha256_hex(t.secret) + R"("})";
  }
  return out + "]";
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

StatusOr<RunningDaemon> start_daemon(const std::string& binary, std::vector<std::string> args,
                                     std::map<std::string, std::string> env,
                                     std::chrono::milliseconds timeout) {
  std::vector<std::string> argv{binary_path(binary.c_str())};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = ChildProcess::spawn({.argv = argv, .env = env});
  if (!child.ok()) return child.status();
  if (!child->wait_for_output("event=started", timeout)) {
    return Status(StatusCode::kDeadlineExceeded, binary + " did not start:\n" + child->describe());
  }
  // The started line carries "http_port=<n>".
  const std::string out = child->output();
  const auto started = out.find("event=started");
  const auto key = out.find("http_port=", started);
  int port = 0;
  for (std::size_t i = key == std::string::npos ? out.size() : key + 10;
       i < out.size() && out[i] >= '0' && out[i] <= '9'; ++i) {
    port = port * 10 + (out[i] - '0');
  }
  if (port <= 0 || port > 65535) {
    return internal_error(binary + " started without logging http_port:\n" + out);
  }
  return RunningDaemon{std::move(*child), port};
}

std::optional<HttpReply> get(const RunningDaemon& d, const std::string& path,
                             const std::map<std::string, std::string>& headers) {
  return http_request("127.0.0.1", d.http_port, "GET", path, "", headers);
}

}  // namespace shopeasy::testing
