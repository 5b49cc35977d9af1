#include "common/log/log.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace shopeasy::log {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

bool parse_level(std::string_view text, Level* out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == level_name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

Field::Field(std::string_view k, double v) : key(k) {
  if (std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    value = buf;
  } else {
    value = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  }
}

namespace {

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void append_value(std::string& out, std::string_view v) {
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

std::string format_line(WallTime ts, Level level, std::string_view component,
                        std::string_view event, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(96 + fields.size() * 24);
  line += "ts=";
  line += format_rfc3339(ts);
  line += " level=";
  line += level_name(level);
  line += " component=";
  append_value(line, component);
  line += " event=";
  append_value(line, event);
  for (const Field& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    append_value(line, f.value);
  }
  return line;
}

void StderrSink::write(Level, std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  // One write per line keeps concurrent lines whole; a short write to a full pipe is
  // retried rather than lost.
  const char* p = buf.data();
  size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void MemorySink::write(Level, std::string_view line) {
  sync::MutexLock lock(mutex_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemorySink::lines() const {
  sync::MutexLock lock(mutex_);
  return lines_;
}

bool MemorySink::contains(std::initializer_list<std::string_view> needles) const {
  sync::MutexLock lock(mutex_);
  for (const auto& line : lines_) {
    bool all = true;
    for (auto n : needles) {
      if (line.find(n) == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

Logger::Logger() : Logger(std::make_shared<StderrSink>(), Level::kInfo, "shopeasy", nullptr) {}

Logger::Logger(std::shared_ptr<Sink> sink, Level min_level, std::string component,
               std::shared_ptr<const Clock> clock)
    : sink_(std::move(sink)),
      min_level_(std::make_shared<std::atomic<Level>>(min_level)),
      component_(std::move(component)),
      clock_(clock ? std::move(clock) : std::make_shared<SystemClock>()) {}

Logger Logger::child(std::string_view name) const {
  Logger c = *this;
  c.component_ = component_.empty() ? std::string(name) : component_ + "." + std::string(name);
  return c;
}

void Logger::log(Level level, std::string_view event, std::initializer_list<Field> fields) const {
  if (!enabled(level)) return;
  sink_->write(level, format_line(clock_->wall_now(), level, component_, event, fields));
}

RateLimiter::RateLimiter(std::uint32_t burst, std::chrono::milliseconds window)
    : burst_(burst), window_(window) {}

bool RateLimiter::allow(MonoTime now, std::uint64_t* suppressed) {
  sync::MutexLock lock(mutex_);
  if (now - window_start_ >= window_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ < burst_) {
    ++used_;
    *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }
  ++suppressed_;
  *suppressed = 0;
  return false;
}

}  // namespace shopeasy::log
