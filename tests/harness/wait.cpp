#include "tests/harness/wait.hpp"

#include <algorithm>
#include <thread>

namespace shopeasy::testing {

using std::chrono_literals::operator""ms;

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
              std::chrono::milliseconds poll) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::max(timeout, 0ms);
  const std::chrono::milliseconds step = std::max(poll, 1ms);
  while (true) {
    if (cond()) return true;
    const Clock::time_point now = Clock::now();
    if (now >= deadline) return false;
    // Sleeping here is the one place polling is allowed to pause; never past the deadline.
    std::this_thread::sleep_for(std::min<Clock::duration>(step, deadline - now));
  }
}

}  // namespace shopeasy::testing
