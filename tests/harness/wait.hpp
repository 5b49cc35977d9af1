// Waiting without sleeping in tests: wait_for polls a condition until it holds or a
// deadline passes. Tests never sleep for a fixed time; they wait for the observable
// effect they need, bounded by a generous timeout so a failure cannot hang the suite.
#pragma once

#include <chrono>
#include <functional>

namespace shopeasy::testing {

// Evaluates `cond` immediately and then every `poll` until it returns true (-> true) or
// `timeout` has passed since the call (-> false, after one last evaluation at the
// deadline). `cond` runs on the calling thread; a negative timeout checks once.
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
              std::chrono::milliseconds poll = std::chrono::milliseconds{10});

}  // namespace shopeasy::testing
