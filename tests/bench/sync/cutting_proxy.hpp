// CuttingProxy: a TCP relay on loopback between a client (the edge) and a server (the
// cloud) that cuts the connection at random byte offsets: every cut resets both sides
// (RST, as a dropped mobile link or a NAT timeout looks to the endpoints). The offset of
// the next cut is drawn in bytes sent upstream since the previous cut; half of the cuts
// then fall on the request stream at that byte, the other half on the response stream a
// random number of bytes after it (so the server has applied what it was sent and only
// the answer is lost). After the configured number of cuts the proxy just relays.
// With no cuts and quick_ack it is a plain relay that acknowledges at once.
// Thread-safe: stats() may be called while connections are relayed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/status/status.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::syncbench {

struct ProxyOptions {
  int upstream_port = 0;  // on 127.0.0.1
  int cuts = 0;           // how many cuts to make in all
  // Upstream bytes between one cut and the next, drawn uniformly from this range.
  std::int64_t gap_min_bytes = 1;
  std::int64_t gap_max_bytes = 1 << 20;
  // A response cut lands this many response bytes (uniform, 0..max) after the gap.
  std::int64_t response_offset_max = 300;
  std::uint64_t seed = 1;
  // Requests to count, by the start of their request line ("POST /v1/").
  std::string count_prefix = "POST ";
  // Acknowledge what the client sends at once (TCP_QUICKACK) instead of after the
  // delayed-ACK timer: shows what a client that does not wait for acknowledgements
  // between its writes (TCP_NODELAY) would see.
  bool quick_ack = false;
};

struct ProxyStats {
  int connections = 0;
  int request_cuts = 0;   // cut while the client was sending
  int response_cuts = 0;  // cut while the server was answering
  std::int64_t bytes_up = 0;
  std::int64_t bytes_down = 0;
  // Requests whose first bytes reached the server: lines starting with `count_prefix`.
  int requests = 0;
};

class CuttingProxy {
 public:
  // Listens on 127.0.0.1, a port of its own. kUnavailable if it cannot.
  static StatusOr<std::unique_ptr<CuttingProxy>> start(ProxyOptions options);
  ~CuttingProxy();
  CuttingProxy(const CuttingProxy&) = delete;
  CuttingProxy& operator=(const CuttingProxy&) = delete;

  int port() const { return port_; }
  ProxyStats stats() const;
  // Stops accepting, resets open connections and joins every thread. Idempotent.
  void stop();

 private:
  CuttingProxy(ProxyOptions options, testing::UniqueFd listener, int port);
  void accept_loop();
  void relay(testing::UniqueFd client);
  // How many of `n` bytes going up (or down) may pass before a cut; n when no cut now.
  std::int64_t allow(bool upstream, std::int64_t n);
  // Counts request lines in what is about to go up; `carry` holds the tail of the
  // previous chunk of the same connection.
  void count_requests(std::string& carry, const char* data, std::size_t n);
  void arm_next_cut();

  ProxyOptions options_;
  testing::UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;

  mutable std::mutex mutex_;  // guards everything below
  std::vector<std::thread> relays_;
  ProxyStats stats_;
  std::mt19937_64 rng_;
  std::int64_t up_since_cut_ = 0;
  std::int64_t down_since_gap_ = 0;
  std::int64_t gap_ = 0;
  bool cut_response_ = false;
  std::int64_t response_offset_ = 0;
};

}  // namespace shopeasy::syncbench
