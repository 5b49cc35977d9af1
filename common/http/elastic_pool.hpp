// ElasticPool: the server library's task queue with one thread per open connection, up
// to a cap, created when connections arrive and ended after a minute idle. A
// connection's thread mostly waits (for the next request of a keep-alive client, for a
// slow client's head, on an event stream), so connections are cheap to hold while the
// work itself is bounded elsewhere (HttpServer runs at most `threads` handlers at once).
// Beyond the cap, connections wait in order for a thread.
// Internal to the http_server library (it implements a cpp-httplib interface).
#pragma once

#include <httplib.h>

#include <cstddef>
#include <deque>
#include <functional>

#include "common/sync/mutex.hpp"

namespace shopeasy::http::internal {

class ElasticPool final : public httplib::TaskQueue {
 public:
  explicit ElasticPool(std::size_t max_threads);
  ~ElasticPool() override;

  void enqueue(std::function<void()> job) override EXCLUDES(mu_);
  // Runs what is queued, then waits for every thread to end.
  void shutdown() override EXCLUDES(mu_);

  std::size_t threads() const EXCLUDES(mu_);

 private:
  void work() EXCLUDES(mu_);

  const std::size_t max_threads_;
  mutable sync::Mutex mu_;
  sync::CondVar wake_;      // a job arrived, or shutdown
  sync::CondVar all_done_;  // live_ reached 0
  std::deque<std::function<void()>> jobs_ GUARDED_BY(mu_);
  std::size_t live_ GUARDED_BY(mu_) = 0;  // threads started and not yet ended
  std::size_t idle_ GUARDED_BY(mu_) = 0;  // of those, waiting for a job
  bool shutdown_ GUARDED_BY(mu_) = false;
};

}  // namespace shopeasy::http::internal
