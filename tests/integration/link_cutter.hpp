// LinkCutter: a loopback TCP relay between a device and the broker that can fail the
// way a phone's mobile link does. cut() starts a silent outage: every byte in either
// direction is lost, yet no socket closes, so the broker keeps the device's connection
// (until its keepalive runs out) and the device notices nothing. restore() ends it the
// way a phone coming back on a new network does: the device side of every connection
// made before is closed (the device sees its link drop and reconnects) while the broker
// side stays open, so the broker learns of the new connection before it notices the
// old one is gone. New connections relay normally again.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/status/status.hpp"
#include "tests/harness/unique_fd.hpp"

namespace shopeasy::testing {

class LinkCutter {
 public:
  // Listens on a loopback port of its own and relays to 127.0.0.1:upstream_port.
  static StatusOr<std::unique_ptr<LinkCutter>> start(int upstream_port);
  ~LinkCutter();
  LinkCutter(const LinkCutter&) = delete;
  LinkCutter& operator=(const LinkCutter&) = delete;

  int port() const { return port_; }
  void cut();
  void restore();
  // Connections accepted so far, and when the latest was accepted.
  int accepted() const;
  std::optional<std::chrono::steady_clock::time_point> last_accept() const;

 private:
  struct Link {
    UniqueFd device;
    UniqueFd upstream;
    std::atomic<bool> doomed{false};  // close the device side, keep the broker side
    std::thread pump;
  };
  LinkCutter(UniqueFd listener, int port, int upstream_port);
  void accept_loop();
  void pump(Link& link);

  UniqueFd listener_;
  const int port_;
  const int upstream_port_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Link>> links_;                          // guarded by mutex_
  int accepted_ = 0;                                                  // guarded by mutex_
  std::optional<std::chrono::steady_clock::time_point> last_accept_;  // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace shopeasy::testing
