#include "common/clock/clock.hpp"

#include <ctime>

namespace shopeasy {

namespace {
constexpr std::int64_t kDefaultFakeStartMs = 1767225600000;  // 2026-01-01T00:00:00Z
}

const Clock& real_clock() {
  static const SystemClock clock;
  return clock;
}

FakeClock::FakeClock() : FakeClock(from_unix_ms(kDefaultFakeStartMs)) {}

FakeClock::FakeClock(WallTime start) : wall_(start), mono_(MonoTime{} + std::chrono::hours(1)) {}

WallTime FakeClock::wall_now() const {
  sync::MutexLock lock(mutex_);
  return wall_;
}

MonoTime FakeClock::mono_now() const {
  sync::MutexLock lock(mutex_);
  return mono_;
}

void FakeClock::advance(std::chrono::nanoseconds by) {
  sync::MutexLock lock(mutex_);
  wall_ += std::chrono::duration_cast<WallTime::duration>(by);
  mono_ += by;
}

void FakeClock::set_wall(WallTime to) {
  sync::MutexLock lock(mutex_);
  wall_ = to;
}

std::int64_t to_unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime from_unix_ms(std::int64_t ms) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::milliseconds(ms)));
}

std::string format_rfc3339(WallTime t) {
  const std::int64_t ms = to_unix_ms(t);
  std::int64_t secs = ms / 1000;
  std::int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  const std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(frac));
  return out;
}

}  // namespace shopeasy
