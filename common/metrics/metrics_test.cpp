#include "common/metrics/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace shopeasy::metrics {
namespace {

// The value text of the sample line whose series is exactly `series` ("name{labels}"),
// or an empty string if there is none.
std::string sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return "";
}

std::uint64_t sample_uint(const std::string& text, const std::string& series) {
  const std::string value = sample(text, series);
  EXPECT_FALSE(value.empty()) << "no sample " << series << " in:\n" << text;
  return std::strtoull(value.c_str(), nullptr, 10);
}

std::string render_gauge_value(double v) {
  Registry registry;
  registry.gauge("g", "A gauge.").set(v);
  return sample(registry.render(), "g");
}

TEST(RegistryTest, EmptyRegistryRendersNothing) {
  Registry registry;
  EXPECT_EQ(registry.render(), "");
}

TEST(RegistryTest, RendersGoldenExposition) {
  Registry registry;
  // Labels given in either order land on the same, key-sorted series.
  registry
      .counter("http_requests_total", "HTTP requests served.",
               {{"route", "/orders"}, {"method", "POST"}})
      .inc(3);
  registry
      .counter("http_requests_total", "HTTP requests served.",
               {{"method", "GET"}, {"route", "/orders"}})
      .inc(7);
  registry.gauge("active_pickers", "Pickers on shift.").set(4);
  auto outbox = registry.gauge_fn("outbox_depth", "Events waiting to sync.", [] { return 12.0; });
  Histogram& pick = registry.histogram("pick_seconds", "Time to pick one order.", {0.5, 1, 2.5},
                                       {{"zone", "chilled"}});
  pick.observe(0.25);
  pick.observe(1);
  pick.observe(3);

  EXPECT_EQ(registry.render(),
            "# HELP active_pickers Pickers on shift.\n"
            "# TYPE active_pickers gauge\n"
            "active_pickers 4\n"
            "# HELP http_requests_total HTTP requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",route=\"/orders\"} 7\n"
            "http_requests_total{method=\"POST\",route=\"/orders\"} 3\n"
            "# HELP outbox_depth Events waiting to sync.\n"
            "# TYPE outbox_depth gauge\n"
            "outbox_depth 12\n"
            "# HELP pick_seconds Time to pick one order.\n"
            "# TYPE pick_seconds histogram\n"
            "pick_seconds_bucket{zone=\"chilled\",le=\"0.5\"} 1\n"
            "pick_seconds_bucket{zone=\"chilled\",le=\"1\"} 2\n"
            "pick_seconds_bucket{zone=\"chilled\",le=\"2.5\"} 2\n"
            "pick_seconds_bucket{zone=\"chilled\",le=\"+Inf\"} 3\n"
            "pick_seconds_sum{zone=\"chilled\"} 4.25\n"
            "pick_seconds_count{zone=\"chilled\"} 3\n");
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry registry;
  registry
      .counter("errors_total", "Errors seen.\nBackslash \\ and \"quotes\" stay.",
               {{"detail", "say \"hi\"\\now\nnext"}})
      .inc();
  EXPECT_EQ(registry.render(),
            "# HELP errors_total Errors seen.\\nBackslash \\\\ and \"quotes\" stay.\n"
            "# TYPE errors_total counter\n"
            "errors_total{detail=\"say \\\"hi\\\"\\\\now\\nnext\"} 1\n");
}

TEST(RegistryTest, EmptyHelpOmitsHelpLineAndEmptyFamiliesAreSkipped) {
  Registry registry;
  registry.counter("plain_total", "").inc(2);
  (void)registry.counter_family("unused_total", "Never used.", {"reason"});
  EXPECT_EQ(registry.render(),
            "# TYPE plain_total counter\n"
            "plain_total 2\n");
}

TEST(RegistryTest, FormatsNumbersSoPrometheusParsesThem) {
  EXPECT_EQ(render_gauge_value(0), "0");
  EXPECT_EQ(render_gauge_value(-0.0), "0");
  EXPECT_EQ(render_gauge_value(-2), "-2");
  EXPECT_EQ(render_gauge_value(1234567), "1234567");
  EXPECT_EQ(render_gauge_value(0.1), "0.1");
  EXPECT_EQ(render_gauge_value(123456.789), "123456.789");
  EXPECT_EQ(render_gauge_value(1e-7), "1e-07");
  EXPECT_EQ(render_gauge_value(0.0005), "0.0005");
  EXPECT_EQ(render_gauge_value(0.0001), "0.0001");
  EXPECT_EQ(render_gauge_value(1e-5), "1e-05");
  EXPECT_EQ(render_gauge_value(1e20), "100000000000000000000");
  EXPECT_EQ(render_gauge_value(1e21), "1e+21");
  EXPECT_EQ(render_gauge_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(render_gauge_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(render_gauge_value(-std::numeric_limits<double>::infinity()), "-Inf");
  // Round-trips exactly.
  const double third = 1.0 / 3.0;
  EXPECT_EQ(std::strtod(render_gauge_value(third).c_str(), nullptr), third);

  Registry registry;
  registry.counter("big_total", "Big.").inc(std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(sample(registry.render(), "big_total"), "18446744073709551615");
}

TEST(HistogramTest, BucketsAreCumulativeWithInclusiveUpperBounds) {
  Registry registry;
  Histogram& h = registry.histogram("latency_seconds", "Latency.", {0.1, 0.5, 1});
  for (const double v : {0.05, 0.1, 0.2, 0.5, 0.7, 2.0, 5.0}) h.observe(v);

  const Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{2, 4, 5, 7}));
  EXPECT_EQ(snap.count, 7u);
  EXPECT_DOUBLE_EQ(snap.sum, 8.55);

  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "latency_seconds_bucket{le=\"0.1\"}"), "2");
  EXPECT_EQ(sample(text, "latency_seconds_bucket{le=\"0.5\"}"), "4");
  EXPECT_EQ(sample(text, "latency_seconds_bucket{le=\"1\"}"), "5");
  EXPECT_EQ(sample(text, "latency_seconds_bucket{le=\"+Inf\"}"), "7");
  EXPECT_EQ(sample(text, "latency_seconds_count"), "7");
}

TEST(HistogramTest, EmptyHistogramRendersZeroesAndInfOnlyBucketsWork) {
  Registry registry;
  registry.histogram("idle_seconds", "Idle.", {1});
  registry.histogram("any_seconds", "Any.", {}).observe(42);
  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "idle_seconds_bucket{le=\"1\"}"), "0");
  EXPECT_EQ(sample(text, "idle_seconds_bucket{le=\"+Inf\"}"), "0");
  EXPECT_EQ(sample(text, "idle_seconds_sum"), "0");
  EXPECT_EQ(sample(text, "idle_seconds_count"), "0");
  EXPECT_EQ(sample(text, "any_seconds_bucket{le=\"+Inf\"}"), "1");
  EXPECT_EQ(sample(text, "any_seconds_sum"), "42");
}

TEST(HistogramTest, InfinityAndNanLandInTheInfBucket) {
  Registry registry;
  Histogram& h = registry.histogram("odd_seconds", "Odd.", {1});
  h.observe(-std::numeric_limits<double>::infinity());
  h.observe(std::numeric_limits<double>::infinity());
  h.observe(std::numeric_limits<double>::quiet_NaN());
  const Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_TRUE(std::isnan(snap.sum));
  EXPECT_EQ(sample(registry.render(), "odd_seconds_sum"), "NaN");
}

TEST(HistogramTest, DefaultLatencyBucketsAreAscendingSeconds) {
  const std::vector<double> bounds = default_latency_buckets();
  ASSERT_EQ(bounds.size(), kDefaultLatencyBuckets.size());
  EXPECT_DOUBLE_EQ(bounds.front(), 0.0005);
  EXPECT_DOUBLE_EQ(bounds.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(bounds.begin(), bounds.end()));
  Registry registry;
  registry.histogram("req_seconds", "Requests.", bounds).observe(0.003);
  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "req_seconds_bucket{le=\"0.0005\"}"), "0");
  EXPECT_EQ(sample(text, "req_seconds_bucket{le=\"0.005\"}"), "1");
}

TEST(RegistryTest, RegistrationIsIdempotent) {
  Registry registry;
  Counter& a = registry.counter("jobs_total", "Jobs.", {{"kind", "pick"}, {"zone", "a"}});
  Counter& b = registry.counter("jobs_total", "Jobs.", {{"zone", "a"}, {"kind", "pick"}});
  Counter& other = registry.counter("jobs_total", "Jobs.", {{"zone", "b"}, {"kind", "pick"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);

  CounterFamily& family = registry.counter_family("jobs_total", "Jobs.", {"zone", "kind"});
  EXPECT_EQ(&family, &registry.counter_family("jobs_total", "Jobs.", {"zone", "kind"}));
  EXPECT_EQ(&family.with({"a", "pick"}), &a);

  EXPECT_EQ(&registry.gauge("temp_celsius", "Temp."), &registry.gauge("temp_celsius", "Temp."));
  EXPECT_EQ(&registry.histogram("h_seconds", "H.", {1, 2}),
            &registry.histogram("h_seconds", "H.", {1, 2}));

  a.inc(2);
  b.inc();
  EXPECT_EQ(sample(registry.render(), "jobs_total{kind=\"pick\",zone=\"a\"}"), "3");
}

TEST(RegistryTest, FamiliesHandOutLabelledChildren) {
  Registry registry;
  CounterFamily& rejected = registry.counter_family("rejected_total", "Rejected.", {"reason"});
  Counter& malformed = rejected.with({"malformed_json"});
  malformed.inc();
  malformed.inc();
  rejected.with({"too_large"}).inc();

  GaugeFamily& stock = registry.gauge_family("stock_units", "Stock.", {"sku", "bin"});
  stock.with({"milk-1l", "A3"}).set(12);
  stock.with({"milk-1l", "A3"}).dec(2);

  HistogramFamily& sync = registry.histogram_family("sync_seconds", "Sync.", {0.5}, {"peer"});
  sync.with({"cloud"}).observe(0.2);

  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "rejected_total{reason=\"malformed_json\"}"), "2");
  EXPECT_EQ(sample(text, "rejected_total{reason=\"too_large\"}"), "1");
  // Series are keyed by sorted label names regardless of the declared order.
  EXPECT_EQ(sample(text, "stock_units{bin=\"A3\",sku=\"milk-1l\"}"), "10");
  EXPECT_EQ(sample(text, "sync_seconds_bucket{peer=\"cloud\",le=\"0.5\"}"), "1");
}

TEST(RegistryTest, ReferencesSurviveLaterRegistrations) {
  Registry registry;
  Counter& first = registry.counter("first_total", "First.", {{"n", "0"}});
  for (int i = 1; i < 500; ++i) {
    registry.counter("first_total", "First.", {{"n", std::to_string(i)}});
    registry.gauge("g" + std::to_string(i), "G.");
  }
  first.inc(5);
  EXPECT_EQ(first.value(), 5u);
  EXPECT_EQ(sample(registry.render(), "first_total{n=\"0\"}"), "5");
}

TEST(GaugeTest, SetIncDec) {
  Registry registry;
  Gauge& g = registry.gauge("in_flight", "In flight.");
  g.set(2.5);
  g.inc();
  g.inc(0.25);
  g.dec(4);
  EXPECT_DOUBLE_EQ(g.value(), -0.25);
  EXPECT_EQ(sample(registry.render(), "in_flight"), "-0.25");
}

TEST(GaugeTest, CallbackIsEvaluatedAtRenderTime) {
  Registry registry;
  int depth = 3;
  auto queue = registry.gauge_fn("queue_depth", "Queue depth.", [&depth] { return double(depth); },
                                 {{"queue", "picks"}});
  registry.gauge("queue_depth", "Queue depth.", {{"queue", "packs"}}).set(1);
  EXPECT_EQ(sample(registry.render(), "queue_depth{queue=\"picks\"}"), "3");
  depth = 9;
  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "queue_depth{queue=\"picks\"}"), "9");
  EXPECT_EQ(sample(text, "queue_depth{queue=\"packs\"}"), "1");
}

TEST(GaugeTest, ThrowingCallbackRendersNan) {
  Registry registry;
  auto broken =
      registry.gauge_fn("broken", "Broken.", []() -> double { throw std::runtime_error("boom"); });
  registry.counter("after_total", "After.").inc();
  const std::string text = registry.render();
  EXPECT_EQ(sample(text, "broken"), "NaN");
  EXPECT_EQ(sample(text, "after_total"), "1");
}

TEST(ValidationTest, MetricNames) {
  EXPECT_TRUE(is_valid_metric_name("http_requests_total"));
  EXPECT_TRUE(is_valid_metric_name("_private"));
  EXPECT_TRUE(is_valid_metric_name(":recording:rule"));
  EXPECT_TRUE(is_valid_metric_name("a1:b2"));
  EXPECT_FALSE(is_valid_metric_name(""));
  EXPECT_FALSE(is_valid_metric_name("1abc"));
  EXPECT_FALSE(is_valid_metric_name("http-requests"));
  EXPECT_FALSE(is_valid_metric_name("with space"));
  EXPECT_FALSE(is_valid_metric_name("caf\xc3\xa9"));
}

TEST(ValidationTest, LabelNames) {
  EXPECT_TRUE(is_valid_label_name("reason"));
  EXPECT_TRUE(is_valid_label_name("_x9"));
  EXPECT_TRUE(is_valid_label_name("le"));  // Only reserved on histograms.
  EXPECT_FALSE(is_valid_label_name(""));
  EXPECT_FALSE(is_valid_label_name("__name__"));
  EXPECT_FALSE(is_valid_label_name("__x"));
  EXPECT_FALSE(is_valid_label_name("a:b"));
  EXPECT_FALSE(is_valid_label_name("9a"));
  EXPECT_FALSE(is_valid_label_name("a-b"));
}

TEST(ConcurrencyTest, ConcurrentUpdatesSumExactly) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  Registry registry;
  Counter& counter = registry.counter("ops_total", "Ops.");
  Gauge& gauge = registry.gauge("level", "Level.");
  Histogram& histogram = registry.histogram("op_seconds", "Op.", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        gauge.inc(1);  // Small integers add exactly in a double.
        histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter.value(), std::uint64_t{kThreads} * kPerThread);
  EXPECT_DOUBLE_EQ(gauge.value(), double(kThreads) * kPerThread);
  const Histogram::Snapshot snap = histogram.snapshot();
  EXPECT_EQ(snap.count, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(snap.cumulative[0], std::uint64_t{kThreads} * kPerThread / 2);
  EXPECT_DOUBLE_EQ(snap.sum, kThreads * (kPerThread / 2) * 1.25);
}

TEST(ConcurrencyTest, RenderWhileUpdatingAndRegistering) {
  constexpr int kThreads = 3;
  constexpr int kPerThread = 20000;
  Registry registry;
  Counter& counter = registry.counter("ops_total", "Ops.");
  Histogram& histogram = registry.histogram("op_seconds", "Op.", {0.1, 1});
  CounterFamily& by_worker = registry.counter_family("worker_ops_total", "Per worker.", {"w"});
  std::atomic<int> finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = by_worker.with({std::to_string(t)});
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        mine.inc();
        histogram.observe((i % 3) * 0.5);
        if (i % 1000 == 0) registry.counter("late_total", "Late.", {{"i", std::to_string(i)}});
      }
      finished.fetch_add(1);
    });
  }

  std::uint64_t last = 0;
  int renders = 0;
  while (finished.load() < kThreads || renders == 0) {
    const std::string text = registry.render();
    ++renders;
    const std::uint64_t now = sample_uint(text, "ops_total");
    EXPECT_GE(now, last);
    last = now;
    const std::uint64_t b1 = sample_uint(text, "op_seconds_bucket{le=\"0.1\"}");
    const std::uint64_t b2 = sample_uint(text, "op_seconds_bucket{le=\"1\"}");
    const std::uint64_t inf = sample_uint(text, "op_seconds_bucket{le=\"+Inf\"}");
    EXPECT_LE(b1, b2);
    EXPECT_LE(b2, inf);
    EXPECT_EQ(inf, sample_uint(text, "op_seconds_count"));
  }
  for (auto& thread : threads) thread.join();

  const std::string text = registry.render();
  EXPECT_EQ(sample_uint(text, "ops_total"), std::uint64_t{kThreads} * kPerThread);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(sample_uint(text, "worker_ops_total{w=\"" + std::to_string(t) + "\"}"),
              std::uint64_t{kPerThread});
  }
  EXPECT_EQ(sample_uint(text, "op_seconds_count"), std::uint64_t{kThreads} * kPerThread);
}

// Misuse is a bug and must fail loudly, even in release builds.
class MetricsDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  Registry registry_;
};

TEST_F(MetricsDeathTest, InvalidNamesAbort) {
  EXPECT_DEATH(registry_.counter("bad-name", "H."), "invalid metric name 'bad-name'");
  EXPECT_DEATH(registry_.counter("", "H."), "invalid metric name");
  EXPECT_DEATH(registry_.counter("ok_total", "H.", {{"bad-label", "v"}}),
               "invalid label name 'bad-label'");
  EXPECT_DEATH(registry_.counter("ok_total", "H.", {{"__reserved", "v"}}), "invalid label name");
  EXPECT_DEATH(registry_.counter_family("ok_total", "H.", {"a b"}), "invalid label name");
  EXPECT_DEATH(registry_.histogram("h_seconds", "H.", {1}, {{"le", "1"}}), "'le' is reserved");
}

TEST_F(MetricsDeathTest, ConflictingRegistrationsAbort) {
  registry_.counter("thing", "Thing.");
  registry_.histogram("lat_seconds", "Lat.", {1, 2});
  EXPECT_DEATH(registry_.gauge("thing", "Thing."), "already registered as a counter");
  EXPECT_DEATH(registry_.counter("thing", "Other help."), "different help");
  EXPECT_DEATH(registry_.histogram("lat_seconds", "Lat.", {1, 3}), "different bucket bounds");
  EXPECT_DEATH(registry_.counter("lat_seconds_count", "C."), "collides with histogram");
  registry_.counter("q_bucket", "Q.");
  EXPECT_DEATH(registry_.histogram("q", "Q.", {1}), "collides with metric 'q_bucket'");
}

TEST_F(MetricsDeathTest, InconsistentLabelsAbort) {
  registry_.counter("req_total", "Req.", {{"route", "/a"}});
  EXPECT_DEATH(registry_.counter("req_total", "Req.", {{"path", "/a"}}),
               "different set of label names");
  EXPECT_DEATH(registry_.counter("req_total", "Req."), "different set of label names");
  EXPECT_DEATH(registry_.counter("dup_total", "D.", {{"a", "1"}, {"a", "2"}}), "duplicate label");
  CounterFamily& family = registry_.counter_family("fam_total", "F.", {"a", "b"});
  EXPECT_DEATH(family.with({"only-one"}), "has 2 label names but got 1 values");
  EXPECT_DEATH(registry_.counter_family("fam_total", "F.", {"b", "a"}), "different label names");
  EXPECT_DEATH(registry_.counter_family("dupfam_total", "F.", {"x", "x"}), "duplicate label");
}

TEST_F(MetricsDeathTest, BadBucketsAbort) {
  EXPECT_DEATH(registry_.histogram("h1", "H.", {1, 1}), "strictly increasing");
  EXPECT_DEATH(registry_.histogram("h2", "H.", {2, 1}), "strictly increasing");
  EXPECT_DEATH(registry_.histogram("h3", "H.", {1, std::numeric_limits<double>::infinity()}),
               "must be finite");
  EXPECT_DEATH(registry_.histogram("h4", "H.", {std::numeric_limits<double>::quiet_NaN()}),
               "must be finite");
}

TEST_F(MetricsDeathTest, DoubleCallbackGaugeAborts) {
  auto depth = registry_.gauge_fn("depth", "D.", [] { return 1.0; });
  EXPECT_DEATH({ auto again = registry_.gauge_fn("depth", "D.", [] { return 2.0; }); },
               "already registered");
  EXPECT_DEATH(registry_.gauge("depth", "D."), "already has a callback");
  EXPECT_DEATH({ auto none = registry_.gauge_fn("none", "N.", nullptr); }, "empty function");
}

TEST(CallbackGaugeTest, DestroyingTheHandleUnregistersAndAllowsReRegistration) {
  Registry registry;
  {
    auto first = registry.gauge_fn("queue_depth", "Depth.", [] { return 1.0; });
    EXPECT_NE(registry.render().find("queue_depth 1"), std::string::npos);
  }
  EXPECT_EQ(registry.render().find("queue_depth 1"), std::string::npos);
  auto second = registry.gauge_fn("queue_depth", "Depth.", [] { return 2.0; });
  EXPECT_NE(registry.render().find("queue_depth 2"), std::string::npos);
  CallbackGauge moved = std::move(second);
  EXPECT_NE(registry.render().find("queue_depth 2"), std::string::npos);
}

}  // namespace
}  // namespace shopeasy::metrics
