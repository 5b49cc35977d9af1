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
  sync::MutexLock lock(mu_);
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
  sync::MutexLock lock(mu_);
  for (;;) {
    ++idle_;
    // Woken: a job or shutdown came before kIdleExit passed (or came with it).
    bool woken = true;
    const auto deadline = std::chrono::steady_clock::now() + kIdleExit;
    while (!shutdown_ && jobs_.empty()) {
      if (wake_.wait_until(mu_, deadline) == std::cv_status::timeout) {
        woken = shutdown_ || !jobs_.empty();
        break;
      }
    }
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
  sync::MutexLock lock(mu_);
  shutdown_ = true;
  wake_.notify_all();
  while (live_ != 0) all_done_.wait(mu_);
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
  sync::MutexLock lock(mu_);
  return live_;
}

}  // namespace shopeasy::http::internal
