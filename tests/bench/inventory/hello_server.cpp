#include "tests/bench/inventory/hello_server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

namespace shopeasy::bench {

int run_hello_server(int threads, bool tuned) {
  httplib::Server server;
  const std::size_t pool = static_cast<std::size_t>(std::max(2, threads));
  server.new_task_queue = [pool] { return new httplib::ThreadPool(pool); };
  // Mirrors the daemon's server settings (its read/write timeouts are 10 s, keep-alive
  // 5 s, and it leaves the library's keep-alive request cap alone), so the only
  // difference left is what the handlers do.
  server.set_read_timeout(std::chrono::seconds(10));
  server.set_write_timeout(std::chrono::seconds(10));
  server.set_keep_alive_timeout(5);
  server.set_tcp_nodelay(true);
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = sock;
  });
  if (tuned) server.set_keep_alive_max_count(1'000'000);
  auto hello = [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"hello":"world"})", "application/json");
  };
  server.Post("/hello", hello);
  server.Get("/hello", hello);
  const int port = server.bind_to_any_port("127.0.0.1");
  if (port <= 0) {
    std::fprintf(stderr, "event=bind_failed\n");
    return 1;
  }
  // The library listens with a backlog of 5; listening again on the same socket
  // raises it (Linux), which the library offers no setting for.
  if (tuned && listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  std::fprintf(stderr, "event=started http_port=%d tuned=%d\n", port, tuned ? 1 : 0);
  std::fflush(stderr);
  return server.listen_after_bind() ? 0 : 1;
}

}  // namespace shopeasy::bench
