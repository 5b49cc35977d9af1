// Clock: the only way code asks what time it is. Timers, backoff, staleness and
// expiry all go through a Clock so tests can move time with FakeClock instead of
// sleeping. Wall time (system_clock) is for timestamps shown to people and stored;
// monotonic time (steady_clock) is for measuring intervals.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/sync/mutex.hpp"

namespace shopeasy {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time; may jump when the system clock is set. Thread-safe.
  virtual WallTime wall_now() const = 0;
  // Monotonic time; never goes backwards. Thread-safe.
  virtual MonoTime mono_now() const = 0;
};

// The real clocks of the machine.
class SystemClock final : public Clock {
 public:
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  MonoTime mono_now() const override { return std::chrono::steady_clock::now(); }
};

// The machine's clocks, shared: the default for a constructor that takes a Clock so its
// callers need not keep one. Lives for the whole program.
const Clock& real_clock();

// A clock that moves only when the test says so. Starts at a fixed wall time
// (2026-01-01T00:00:00Z) unless given another. Thread-safe.
class FakeClock final : public Clock {
 public:
  FakeClock();
  explicit FakeClock(WallTime start);
  WallTime wall_now() const override EXCLUDES(mutex_);
  MonoTime mono_now() const override EXCLUDES(mutex_);
  // Moves both wall and monotonic time forward.
  void advance(std::chrono::nanoseconds by) EXCLUDES(mutex_);
  // Sets wall time only (as an operator or NTP would); monotonic time is unchanged.
  void set_wall(WallTime to) EXCLUDES(mutex_);

 private:
  // Guards both times: a test thread moves them while the code under test reads them.
  mutable sync::Mutex mutex_;
  WallTime wall_ GUARDED_BY(mutex_);
  MonoTime mono_ GUARDED_BY(mutex_);
};

// Milliseconds since the Unix epoch, the unit used in stored rows and on the wire.
std::int64_t to_unix_ms(WallTime t);
WallTime from_unix_ms(std::int64_t ms);
// RFC 3339 UTC with milliseconds: "2026-11-25T07:23:54.123Z".
std::string format_rfc3339(WallTime t);

}  // namespace shopeasy
