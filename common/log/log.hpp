// Structured one-line logging. Every event is one line of logfmt
// (`ts=... level=info component=edge.http event=listening port=8080`) on stderr, so
// journald keeps it as one record and tools can split it by key. A Logger is a cheap
// value (a component name plus a shared sink) handed to each object that logs; there
// is no process-wide logger, and tests capture lines with a MemorySink.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::string_view level_name(Level level);
// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level* out);

// One key=value pair. Values are quoted when they contain spaces, quotes, '=' or
// control characters, so a line always splits back into the same pairs.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  Field(std::string_view k, double v);
  template <typename T>
  requires std::is_integral_v<T> Field(std::string_view k, T v)
      : key(k), value(std::to_string(v)) {}

  std::string_view key;
  std::string value;
};

// Where finished lines go. Implementations must be thread-safe.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(Level level, std::string_view line) = 0;
};

// Writes each line to stderr with one write(2), so concurrent lines never interleave.
class StderrSink final : public Sink {
 public:
  void write(Level level, std::string_view line) override;
};

// Keeps lines in memory; for tests.
class MemorySink final : public Sink {
 public:
  void write(Level level, std::string_view line) override EXCLUDES(mutex_);
  std::vector<std::string> lines() const EXCLUDES(mutex_);
  // True when some line contains every one of `needles`.
  bool contains(std::initializer_list<std::string_view> needles) const EXCLUDES(mutex_);

 private:
  // Guards lines_: the code under test writes while the test reads.
  mutable sync::Mutex mutex_;
  std::vector<std::string> lines_ GUARDED_BY(mutex_);
};

// Formats one logfmt line (no trailing newline). Exposed for tests.
std::string format_line(WallTime ts, Level level, std::string_view component,
                        std::string_view event, std::initializer_list<Field> fields);

class Logger {
 public:
  // A logger that writes to stderr at info level and above.
  Logger();
  Logger(std::shared_ptr<Sink> sink, Level min_level, std::string component,
         std::shared_ptr<const Clock> clock = nullptr);

  // A logger for a sub-component ("edge" -> "edge.http") sharing sink and level.
  Logger child(std::string_view name) const;
  // Changes the minimum level for this logger and every child made from it.
  void set_level(Level level) { min_level_->store(level); }
  bool enabled(Level level) const { return level >= min_level_->load(); }

  void log(Level level, std::string_view event, std::initializer_list<Field> fields = {}) const;
  void debug(std::string_view event, std::initializer_list<Field> fields = {}) const {
    log(Level::kDebug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<Field> fields = {}) const {
    log(Level::kInfo, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<Field> fields = {}) const {
    log(Level::kWarn, event, fields);
  }
  void error(std::string_view event, std::initializer_list<Field> fields = {}) const {
    log(Level::kError, event, fields);
  }
  const std::string& component() const { return component_; }

 private:
  std::shared_ptr<Sink> sink_;
  std::shared_ptr<std::atomic<Level>> min_level_;
  std::string component_;
  std::shared_ptr<const Clock> clock_;
};

// Lets through at most `burst` lines per `window` for one noisy source (bad device
// payloads, reconnect loops) and reports how many were suppressed in the next line
// that passes. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(std::uint32_t burst, std::chrono::milliseconds window);
  // True if this line may be logged now; `*suppressed` receives how many were
  // dropped since the last line that passed.
  bool allow(MonoTime now, std::uint64_t* suppressed) EXCLUDES(mutex_);

 private:
  const std::uint32_t burst_;
  const std::chrono::milliseconds window_;
  // Guards the window's state below: any thread of the noisy source may log.
  sync::Mutex mutex_;
  MonoTime window_start_ GUARDED_BY(mutex_){};
  std::uint32_t used_ GUARDED_BY(mutex_) = 0;
  std::uint64_t suppressed_ GUARDED_BY(mutex_) = 0;
};

}  // namespace shopeasy::log
