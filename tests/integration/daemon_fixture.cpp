#include "tests/integration/daemon_fixture.hpp"

#include <regex>

namespace shopeasy::testing {

std::string admin_tokens_json() {
  return R"([{"name":"test-admin","role":"admin","sha256":")" + http::sha256_hex(kAdminToken) +
         R"("}])";
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
  std::smatch m;
  const std::string out = child->output();
  static const std::regex kPort("event=started.*http_port=([0-9]+)");
  if (!std::regex_search(out, m, kPort)) {
    return internal_error(binary + " started without logging http_port:\n" + out);
  }
  return RunningDaemon{std::move(*child), std::stoi(m[1].str())};
}

std::optional<HttpReply> get(const RunningDaemon& d, const std::string& path,
                             const std::map<std::string, std::string>& headers) {
  return http_request("127.0.0.1", d.http_port, "GET", path, "", headers);
}

}  // namespace shopeasy::testing
