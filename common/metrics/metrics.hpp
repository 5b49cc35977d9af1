// Metrics: counters, gauges and histograms kept in a Registry and rendered in the
// Prometheus text exposition format (version 0.0.4) for a /metrics endpoint. The
// daemon owns one Registry and passes it by reference; components register their
// metrics once at start-up and keep the returned references, so the hot path is a
// single relaxed atomic operation. Misuse (bad names, the same name registered with
// another type, help or buckets) is a bug in the caller and aborts with a message.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sync/mutex.hpp"

namespace shopeasy::metrics {

// Label pairs (key, value) of one series. Any order may be given; the registry sorts
// them by key. Keys must be valid label names and distinct.
using Labels = std::vector<std::pair<std::string, std::string>>;

// The Content-Type header value to serve render() output with.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Upper bounds, in seconds, suited to request and job latencies from 0.5 ms to 10 s.
inline constexpr std::array<double, 14> kDefaultLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

// kDefaultLatencyBuckets as the vector that Registry::histogram() takes.
std::vector<double> default_latency_buckets();

// True if `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*.
bool is_valid_metric_name(std::string_view name);
// True if `name` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with "__"
// (reserved for Prometheus itself).
bool is_valid_label_name(std::string_view name);

namespace detail {
struct Family;
enum class Kind : unsigned char;
}  // namespace detail

// A monotonically increasing count. Thread-safe and lock-free.
class Counter {
 public:
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend struct detail::Family;
  Counter() = default;

  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe and lock-free.
class Gauge {
 public:
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double d = 1.0) { value_.fetch_add(d, std::memory_order_relaxed); }
  void dec(double d = 1.0) { value_.fetch_sub(d, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend struct detail::Family;
  Gauge() = default;

  static_assert(std::atomic<double>::is_always_lock_free);
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets with fixed upper bounds (a value v falls in every
// bucket whose bound is >= v, plus the implicit +Inf bucket) and keeps their sum.
// observe() is thread-safe and lock-free. A NaN observation counts only in +Inf and
// makes the sum NaN, as the official Prometheus clients do.
class Histogram {
 public:
  // A consistent-enough copy: bucket counts are cumulative and their last entry (the
  // +Inf bucket) equals `count`; `sum` may lag or lead by observations in flight.
  struct Snapshot {
    std::vector<double> bounds;             // Finite upper bounds, ascending.
    std::vector<std::uint64_t> cumulative;  // bounds.size() + 1 entries; last is +Inf.
    std::uint64_t count = 0;
    double sum = 0.0;
  };

  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double v);
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  friend struct detail::Family;
  explicit Histogram(const std::vector<double>& bounds);

  const std::vector<double> bounds_;
  // Per-bucket (not cumulative) counts; index bounds_.size() is the +Inf bucket.
  std::vector<std::atomic<std::uint64_t>> buckets_;
  std::atomic<double> sum_{0.0};
};

// A handle on all series of one counter name, for looking labelled children up by
// value. Lives as long as the Registry. with() takes the registry lock: call it once
// and keep the reference rather than calling it per event.
class CounterFamily {
 public:
  // The child whose label values are `values`, in the order of the label names the
  // family was declared with; created at zero on first use. A wrong number of values
  // aborts.
  Counter& with(const std::vector<std::string>& values);

 private:
  friend struct detail::Family;
  explicit CounterFamily(detail::Family& family) : family_(family) {}
  detail::Family& family_;
};

// As CounterFamily, for gauges.
class GaugeFamily {
 public:
  Gauge& with(const std::vector<std::string>& values);

 private:
  friend struct detail::Family;
  explicit GaugeFamily(detail::Family& family) : family_(family) {}
  detail::Family& family_;
};

// As CounterFamily, for histograms; every child shares the family's bucket bounds.
class HistogramFamily {
 public:
  Histogram& with(const std::vector<std::string>& values);

 private:
  friend struct detail::Family;
  explicit HistogramFamily(detail::Family& family) : family_(family) {}
  detail::Family& family_;
};

// The set of metrics of one process. Registration takes a mutex; updates through the
// returned references are lock-free; render() may run concurrently with both.
// Returned references stay valid for the Registry's lifetime. Registering the same
// name and labels again returns the same object. All series of one name share a type,
// help text, label-name set and (histograms) bucket bounds; violating that, an invalid
// metric or label name, or duplicate label keys abort the process.
class Registry;

// Keeps a callback gauge registered; see Registry::gauge_fn. Move-only. Must not
// outlive its Registry.
class CallbackGauge {
 public:
  CallbackGauge() = default;
  CallbackGauge(CallbackGauge&& other) noexcept;
  CallbackGauge& operator=(CallbackGauge&& other) noexcept;
  CallbackGauge(const CallbackGauge&) = delete;
  CallbackGauge& operator=(const CallbackGauge&) = delete;
  ~CallbackGauge();

 private:
  friend class Registry;
  CallbackGauge(Registry* registry, std::string name, Labels labels)
      : registry_(registry), name_(std::move(name)), labels_(std::move(labels)) {}
  void release() noexcept;

  Registry* registry_ = nullptr;
  std::string name_;
  Labels labels_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, Labels labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, Labels labels = {});
  // Bounds must be finite and strictly increasing; +Inf is implicit. May be empty.
  Histogram& histogram(std::string_view name, std::string_view help,
                       std::vector<double> bucket_bounds, Labels labels = {});

  // A gauge whose value is `fn()` at each render() (e.g. a queue depth), registered
  // for as long as the returned handle lives: destroying the handle unregisters it, so
  // `fn` may capture an object that owns the handle. `fn` runs under the registry lock,
  // so it must not call back into this Registry. If it throws, the sample renders as
  // NaN. Registering the same name and labels while another handle for them lives, or
  // over a plain gauge, aborts.
  [[nodiscard]] CallbackGauge gauge_fn(std::string_view name, std::string_view help,
                                       std::function<double()> fn, Labels labels = {});

  // Family handles. `label_names` fixes the order of values passed to with(); asking
  // for an existing family needs the same names in the same order (or, if it was made
  // by counter()/gauge()/histogram(), the same set).
  CounterFamily& counter_family(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names);
  GaugeFamily& gauge_family(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names);
  HistogramFamily& histogram_family(std::string_view name, std::string_view help,
                                    std::vector<double> bucket_bounds,
                                    std::vector<std::string> label_names);

  // Every family that has at least one series, sorted by name, each with its
  // "# HELP" (omitted if the help is empty) and "# TYPE" lines, series sorted by
  // label values. Thread-safe.
  std::string render() const;

 private:
  friend class CallbackGauge;
  void remove_gauge_fn(const std::string& name, const Labels& labels) noexcept EXCLUDES(mutex_);

  // Finds or creates the family `name`, checking it agrees with what is asked for.
  // Caller holds mutex_.
  detail::Family& family(std::string_view name, std::string_view help, detail::Kind kind,
                         std::vector<double> bounds) REQUIRES(mutex_);

  mutable sync::Mutex mutex_;
  std::map<std::string, std::unique_ptr<detail::Family>, std::less<>> families_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::metrics
