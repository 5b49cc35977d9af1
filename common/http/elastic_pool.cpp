#include "common/http/elastic_pool.hpp"

#include <chrono>
#include <system_error>
#include <thread>

namespace shopeasy::http::internal {

namespace {
// A thread idle this long ends; the next connection starts a new one.
constexpr std::chrono::seconds kIdleExit{60};
}  // namespace

ElasticPool::ElasticPool(std::size_t max_threads)
    : max_threads_(max_threads < 1 ? 1 : max_threads) {}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::enqueue(std::function<void()> job) {
  std::lock_guard lock(mu_);
  jobs_.push_back(std::move(job));
  if (idle_ >= jobs_.size() || live_ >= max_threads_ || shutdown_) {
    wake_.notify_one();
    return;
  }
  try {
    std::thread([this] { work(); }).detach();
    ++live_;
  } catch (const std::system_error&) {
    // Out of threads for now: the job waits for a running thread to take it.
    wake_.notify_one();
  }
}

void ElasticPool::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    const bool woken =
        wake_.wait_for(lock, kIdleExit, [this] { return shutdown_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty() && (shutdown_ || !woken)) break;
    if (jobs_.empty()) continue;
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
  // Notified under the lock: once shutdown() sees live_ == 0 and returns, this thread
  // touches nothing of the pool's but the mutex it is about to release.
  if (--live_ == 0) all_done_.notify_all();
}

void ElasticPool::shutdown() {
  std::unique_lock lock(mu_);
  shutdown_ = true;
  wake_.notify_all();
  all_done_.wait(lock, [this] { return live_ == 0; });
  // Jobs no thread could be started for still own their connections: run them here.
  while (!jobs_.empty()) {
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

std::size_t ElasticPool::threads() const {
  std::lock_guard lock(mu_);
  return live_;
}

}  // namespace shopeasy::http::internal
