#include "common/metrics/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>

namespace shopeasy::metrics {
namespace {

// Misuse is a bug in the caller, not a runtime condition, so it must not be silently
// compiled out the way assert() is in release builds: say what went wrong and stop.
[[noreturn]] void programming_error(const std::string& message) {
  std::fprintf(stderr, "shopeasy::metrics programming error: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void validate_bounds(const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      programming_error("histogram bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      programming_error("histogram bucket bounds must be strictly increasing");
    }
  }
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

// Shortest text that round-trips, which the server's float parser accepts. Fixed
// notation across the everyday range keeps integers free of exponents ("3", not
// "3e+00") and bucket bounds in the spelling people write in queries (le="0.0005",
// not le="5e-04"); only very small or huge magnitudes use an exponent.
void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  if (v == 0) {
    out += '0';  // Also drops the sign of -0.
    return;
  }
  char buf[64];
  const double magnitude = std::fabs(v);
  const auto result = magnitude >= 1e-4 && magnitude < 1e21
                          ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                          : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, result.ptr);
}

void append_escaped_label_value(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_escaped_help(std::string& out, std::string_view s) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Writes `name<suffix>{k="v",...,le="bound"} ` up to the value.
void append_series(std::string& out, std::string_view name, std::string_view suffix,
                   const Labels& labels, const std::string* le) {
  out += name;
  out += suffix;
  if (!labels.empty() || le != nullptr) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : labels) {
      if (!first) out += ',';
      first = false;
      out += key;
      out += "=\"";
      append_escaped_label_value(out, value);
      out += '"';
    }
    if (le != nullptr) {
      if (!first) out += ',';
      out += "le=\"";
      out += *le;
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

constexpr std::array<std::string_view, 3> kHistogramSuffixes = {"_bucket", "_sum", "_count"};

}  // namespace

namespace detail {

enum class Kind : unsigned char { kCounter, kGauge, kHistogram };

namespace {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kCounter:
      return "counter";
    case Kind::kGauge:
      return "gauge";
    case Kind::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

// One series. Exactly one member is set, matching the family's kind (a gauge family
// may hold both plain and callback gauges, but not both for one label set).
struct Child {
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::function<double()> fn;
  std::unique_ptr<Histogram> histogram;
};

// All series of one metric name. Every member is guarded by the registry mutex,
// which `mutex` refers to.
struct Family {
  Family(sync::Mutex& registry_mutex, Kind k, std::string n, std::string h, std::vector<double> b)
      : mutex(registry_mutex),
        kind(k),
        name(std::move(n)),
        help(std::move(h)),
        bounds(std::move(b)) {}

  // Tells the analysis that `mutex` is held: the caller holds the registry's lock, and
  // this checks (in every build) that it is the one `mutex` refers to.
  void held_by_registry(const sync::Mutex& registry_mutex) const REQUIRES(registry_mutex)
      ASSERT_CAPABILITY(mutex) {
    if (&registry_mutex != &mutex) std::abort();
  }

  // Sorts and checks `labels` against the family's label-name set, fixing that set
  // if this is the family's first series.
  Labels normalize(Labels labels) REQUIRES(mutex) {
    std::sort(labels.begin(), labels.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> keys;
    keys.reserve(labels.size());
    for (const auto& [key, value] : labels) {
      check_label_name(key);
      if (!keys.empty() && keys.back() == key) {
        programming_error("duplicate label " + quote(key) + " on metric " + quote(name));
      }
      keys.push_back(key);
    }
    fix_keys(std::move(keys));
    return labels;
  }

  void check_label_name(const std::string& key) const {
    if (!is_valid_label_name(key)) {
      programming_error("invalid label name " + quote(key) + " on metric " + quote(name));
    }
    if (kind == Kind::kHistogram && key == "le") {
      programming_error("label 'le' is reserved on histogram " + quote(name));
    }
  }

  void fix_keys(std::vector<std::string> sorted) REQUIRES(mutex) {
    if (!label_keys) {
      label_keys = std::move(sorted);
    } else if (*label_keys != sorted) {
      programming_error("metric " + quote(name) +
                        " registered with a different set of label names");
    }
  }

  // Handles the label names passed to a *_family() call.
  void declare(std::vector<std::string> names) REQUIRES(mutex) {
    if (declared_order) {
      if (*declared_order != names) {
        programming_error("family " + quote(name) + " requested with different label names");
      }
      return;
    }
    for (const auto& key : names) check_label_name(key);
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      programming_error("duplicate label name in family " + quote(name));
    }
    fix_keys(std::move(sorted));
    declared_order = std::move(names);
  }

  Labels from_values(const std::vector<std::string>& values) const REQUIRES(mutex) {
    if (values.size() != declared_order->size()) {
      programming_error("family " + quote(name) + " has " + std::to_string(declared_order->size()) +
                        " label names but got " + std::to_string(values.size()) + " values");
    }
    Labels labels;
    labels.reserve(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      labels.emplace_back((*declared_order)[i], values[i]);
    }
    return labels;
  }

  Counter& counter(Labels labels) REQUIRES(mutex) {
    Child& child = children[normalize(std::move(labels))];
    if (!child.counter) child.counter.reset(new Counter());
    return *child.counter;
  }

  Gauge& gauge(Labels labels) REQUIRES(mutex) {
    Child& child = children[normalize(std::move(labels))];
    if (child.fn) {
      programming_error("gauge " + quote(name) + " already has a callback for these labels");
    }
    if (!child.gauge) child.gauge.reset(new Gauge());
    return *child.gauge;
  }

  void gauge_fn(Labels labels, std::function<double()> fn) REQUIRES(mutex) {
    Child& child = children[normalize(std::move(labels))];
    if (child.fn || child.gauge) {
      programming_error("gauge " + quote(name) + " is already registered for these labels");
    }
    child.fn = std::move(fn);
  }

  void remove_gauge_fn(Labels labels) REQUIRES(mutex) {
    auto it = children.find(normalize(std::move(labels)));
    if (it != children.end() && it->second.fn) children.erase(it);
  }

  Histogram& histogram(Labels labels) REQUIRES(mutex) {
    Child& child = children[normalize(std::move(labels))];
    if (!child.histogram) child.histogram.reset(new Histogram(bounds));
    return *child.histogram;
  }

  void render(std::string& out) const REQUIRES(mutex) {
    if (children.empty()) return;
    if (!help.empty()) {
      out += "# HELP ";
      out += name;
      out += ' ';
      append_escaped_help(out, help);
      out += '\n';
    }
    out += "# TYPE ";
    out += name;
    out += ' ';
    out += kind_name(kind);
    out += '\n';
    for (const auto& [labels, child] : children) {
      switch (kind) {
        case Kind::kCounter:
          append_series(out, name, "", labels, nullptr);
          append_uint(out, child.counter->value());
          out += '\n';
          break;
        case Kind::kGauge:
          append_series(out, name, "", labels, nullptr);
          append_double(out, child.gauge ? child.gauge->value() : call(child.fn));
          out += '\n';
          break;
        case Kind::kHistogram:
          render_histogram(out, labels, *child.histogram);
          break;
      }
    }
  }

  // A failing callback must not take the whole scrape (or the daemon) down with it.
  static double call(const std::function<double()>& fn) {
    try {
      return fn();
    } catch (...) {
      return std::nan("");
    }
  }

  void render_histogram(std::string& out, const Labels& labels, const Histogram& h) const {
    const Histogram::Snapshot snap = h.snapshot();
    std::string le;
    for (std::size_t i = 0; i <= snap.bounds.size(); ++i) {
      le.clear();
      if (i < snap.bounds.size()) {
        append_double(le, snap.bounds[i]);
      } else {
        le = "+Inf";
      }
      append_series(out, name, "_bucket", labels, &le);
      append_uint(out, snap.cumulative[i]);
      out += '\n';
    }
    append_series(out, name, "_sum", labels, nullptr);
    append_double(out, snap.sum);
    out += '\n';
    append_series(out, name, "_count", labels, nullptr);
    append_uint(out, snap.count);
    out += '\n';
  }

  // The handle constructors are private to the handle classes' friend, this struct.
  CounterFamily& counter_family() REQUIRES(mutex) {
    if (!counter_handle) counter_handle.reset(new CounterFamily(*this));
    return *counter_handle;
  }
  GaugeFamily& gauge_family() REQUIRES(mutex) {
    if (!gauge_handle) gauge_handle.reset(new GaugeFamily(*this));
    return *gauge_handle;
  }
  HistogramFamily& histogram_family() REQUIRES(mutex) {
    if (!histogram_handle) histogram_handle.reset(new HistogramFamily(*this));
    return *histogram_handle;
  }

  // The analysis cannot tell that this is the Registry's mutex_; a Registry method
  // that holds mutex_ says so with held_by_registry() before calling in.
  sync::Mutex& mutex;
  const Kind kind;
  const std::string name;
  const std::string help;
  const std::vector<double> bounds;
  std::optional<std::vector<std::string>> label_keys
      GUARDED_BY(mutex);  // Sorted; set by the first series.
  std::optional<std::vector<std::string>> declared_order
      GUARDED_BY(mutex);  // Set by the first *_family().
  std::map<Labels, Child> children GUARDED_BY(mutex);
  std::unique_ptr<CounterFamily> counter_handle GUARDED_BY(mutex);
  std::unique_ptr<GaugeFamily> gauge_handle GUARDED_BY(mutex);
  std::unique_ptr<HistogramFamily> histogram_handle GUARDED_BY(mutex);
};

}  // namespace detail

using detail::Kind;

std::vector<double> default_latency_buckets() {
  return {kDefaultLatencyBuckets.begin(), kDefaultLatencyBuckets.end()};
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  if (!is_name_start(name[0]) && name[0] != ':') return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return is_name_start(c) || is_digit(c) || c == ':'; });
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0])) return false;
  if (name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return is_name_start(c) || is_digit(c); });
}

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(bounds.size() + 1) {}

void Histogram::observe(double v) {
  // lower_bound finds the first bound >= v, i.e. the smallest "le" bucket holding v.
  // NaN compares false with everything and would land in the first bucket instead.
  const std::size_t index =
      std::isnan(v) ? bounds_.size()
                    : static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                               bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  snap.bounds = bounds_;
  snap.cumulative.reserve(buckets_.size());
  // The count is derived from the buckets rather than kept separately so that the
  // rendered _count always equals the +Inf bucket, as Prometheus requires.
  std::uint64_t running = 0;
  for (const auto& bucket : buckets_) {
    running += bucket.load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

Counter& CounterFamily::with(const std::vector<std::string>& values) {
  sync::MutexLock lock(family_.mutex);
  return family_.counter(family_.from_values(values));
}

Gauge& GaugeFamily::with(const std::vector<std::string>& values) {
  sync::MutexLock lock(family_.mutex);
  return family_.gauge(family_.from_values(values));
}

Histogram& HistogramFamily::with(const std::vector<std::string>& values) {
  sync::MutexLock lock(family_.mutex);
  return family_.histogram(family_.from_values(values));
}

Registry::Registry() = default;
Registry::~Registry() = default;

detail::Family& Registry::family(std::string_view name, std::string_view help, Kind kind,
                                 std::vector<double> bounds) {
  if (!is_valid_metric_name(name)) programming_error("invalid metric name " + quote(name));
  if (kind == Kind::kHistogram) validate_bounds(bounds);

  if (const auto it = families_.find(name); it != families_.end()) {
    detail::Family& existing = *it->second;
    if (existing.kind != kind) {
      programming_error("metric " + quote(name) + " already registered as a " +
                        std::string(detail::kind_name(existing.kind)));
    }
    if (existing.help != help) {
      programming_error("metric " + quote(name) + " already registered with different help");
    }
    if (existing.bounds != bounds) {
      programming_error("histogram " + quote(name) +
                        " already registered with different bucket bounds");
    }
    return existing;
  }

  // A histogram also exposes name_bucket, name_sum and name_count; another family with
  // one of those names would make the output ambiguous to the scraper.
  for (const std::string_view suffix : kHistogramSuffixes) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      const auto base = families_.find(name.substr(0, name.size() - suffix.size()));
      if (base != families_.end() && base->second->kind == Kind::kHistogram) {
        programming_error("metric " + quote(name) + " collides with histogram " +
                          quote(base->first));
      }
    }
    if (kind == Kind::kHistogram && families_.contains(std::string(name) + std::string(suffix))) {
      programming_error("histogram " + quote(name) + " collides with metric " +
                        quote(std::string(name) + std::string(suffix)));
    }
  }

  auto created = std::make_unique<detail::Family>(mutex_, kind, std::string(name),
                                                  std::string(help), std::move(bounds));
  detail::Family& ref = *created;
  families_.emplace(std::string(name), std::move(created));
  return ref;
}

Counter& Registry::counter(std::string_view name, std::string_view help, Labels labels) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kCounter, {});
  f.held_by_registry(mutex_);
  return f.counter(std::move(labels));
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, Labels labels) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kGauge, {});
  f.held_by_registry(mutex_);
  return f.gauge(std::move(labels));
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bucket_bounds, Labels labels) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kHistogram, std::move(bucket_bounds));
  f.held_by_registry(mutex_);
  return f.histogram(std::move(labels));
}

CallbackGauge Registry::gauge_fn(std::string_view name, std::string_view help,
                                 std::function<double()> fn, Labels labels) {
  if (!fn) programming_error("gauge_fn " + quote(name) + " given an empty function");
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kGauge, {});
  f.held_by_registry(mutex_);
  f.gauge_fn(labels, std::move(fn));
  return CallbackGauge(this, std::string(name), std::move(labels));
}

void Registry::remove_gauge_fn(const std::string& name, const Labels& labels) noexcept {
  sync::MutexLock lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    it->second->held_by_registry(mutex_);
    it->second->remove_gauge_fn(labels);
  }
}

CallbackGauge::CallbackGauge(CallbackGauge&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)),
      name_(std::move(other.name_)),
      labels_(std::move(other.labels_)) {}

CallbackGauge& CallbackGauge::operator=(CallbackGauge&& other) noexcept {
  if (this != &other) {
    release();
    registry_ = std::exchange(other.registry_, nullptr);
    name_ = std::move(other.name_);
    labels_ = std::move(other.labels_);
  }
  return *this;
}

CallbackGauge::~CallbackGauge() { release(); }

void CallbackGauge::release() noexcept {
  if (registry_ != nullptr) registry_->remove_gauge_fn(name_, labels_);
  registry_ = nullptr;
}

CounterFamily& Registry::counter_family(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kCounter, {});
  f.held_by_registry(mutex_);
  f.declare(std::move(label_names));
  return f.counter_family();
}

GaugeFamily& Registry::gauge_family(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kGauge, {});
  f.held_by_registry(mutex_);
  f.declare(std::move(label_names));
  return f.gauge_family();
}

HistogramFamily& Registry::histogram_family(std::string_view name, std::string_view help,
                                            std::vector<double> bucket_bounds,
                                            std::vector<std::string> label_names) {
  sync::MutexLock lock(mutex_);
  detail::Family& f = family(name, help, Kind::kHistogram, std::move(bucket_bounds));
  f.held_by_registry(mutex_);
  f.declare(std::move(label_names));
  return f.histogram_family();
}

std::string Registry::render() const {
  std::string out;
  sync::MutexLock lock(mutex_);
  for (const auto& [name, f] : families_) {
    f->held_by_registry(mutex_);
    f->render(out);
  }
  return out;
}

}  // namespace shopeasy::metrics
