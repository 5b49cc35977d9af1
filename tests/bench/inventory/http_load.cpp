#include "tests/bench/inventory/http_load.hpp"

#include <httplib.h>

#include <atomic>
#include <exception>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace shopeasy::bench {

namespace {

struct ClientTally {
  std::vector<double> micros;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::string first_error;
};

void note_failure(ClientTally& t, const std::string& what) {
  ++t.failed;
  if (t.first_error.empty()) t.first_error = what;
}

void run_client(const LoadSpec& spec, int client, std::latch& ready,
                std::chrono::steady_clock::time_point& start_at, std::atomic<std::uint64_t>& budget,
                ClientTally& tally) {
  std::mt19937_64 rng(spec.seed * 1000003ULL + static_cast<std::uint64_t>(client));
  httplib::Client http(spec.host, spec.port);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(std::chrono::seconds(5));
  http.set_read_timeout(std::chrono::seconds(30));
  httplib::Headers headers;
  if (!spec.bearer_token.empty()) {
    headers.emplace("Authorization", "Bearer " + spec.bearer_token);
  }
  tally.micros.reserve(1 << 16);
  ready.arrive_and_wait();
  // start_at is written before the latch opens, so every client reads the same value.
  const auto measure_from = start_at + spec.warmup;
  const auto stop_at = measure_from + spec.duration;
  int transport_errors_in_a_row = 0;
  for (std::uint64_t seq = 0;; ++seq) {
    const auto sent = std::chrono::steady_clock::now();
    if (sent >= stop_at) break;
    const bool measured = sent >= measure_from;
    if (measured && spec.max_requests > 0) {
      // Claims one request of the shared budget; none left means done.
      std::uint64_t left = budget.load();
      do {
        if (left == 0) return;
      } while (!budget.compare_exchange_weak(left, left - 1));
    }
    const HttpCall call = spec.make_call(client, seq, rng);
    httplib::Result result = call.method == "POST"
                                 ? http.Post(call.path, headers, call.body, call.content_type)
                                 : http.Get(call.path, headers);
    const auto answered = std::chrono::steady_clock::now();
    if (!result) {
      if (measured) note_failure(tally, "transport: " + httplib::to_string(result.error()));
      if (++transport_errors_in_a_row >= 100) return;
      continue;
    }
    transport_errors_in_a_row = 0;
    if (!measured) continue;
    if (result->status >= 200 && result->status < 300) {
      ++tally.ok;
      tally.micros.push_back(std::chrono::duration<double, std::micro>(answered - sent).count());
    } else {
      note_failure(tally, call.method + " " + call.path + " -> " + std::to_string(result->status) +
                              " " + result->body.substr(0, 200));
    }
  }
}

}  // namespace

StatusOr<LoadResult> run_load(const LoadSpec& spec) {
  if (spec.port <= 0) return invalid_argument("no port to load", "port");
  if (spec.clients <= 0) return invalid_argument("need at least one client", "clients");
  if (!spec.make_call) return invalid_argument("no request maker", "make_call");

  std::vector<ClientTally> tallies(static_cast<std::size_t>(spec.clients));
  std::latch ready(spec.clients + 1);
  std::chrono::steady_clock::time_point start_at;
  std::atomic<std::uint64_t> budget{spec.max_requests};
  std::vector<std::thread> threads;
  threads.reserve(tallies.size());
  try {
    for (int c = 0; c < spec.clients; ++c) {
      threads.emplace_back([&, c] {
        try {
          run_client(spec, c, ready, start_at, budget, tallies[static_cast<std::size_t>(c)]);
        } catch (const std::exception& e) {
          note_failure(tallies[static_cast<std::size_t>(c)], std::string("exception: ") + e.what());
        }
      });
    }
  } catch (const std::system_error& e) {
    // Could not start every thread: release the ones that did and report.
    start_at = std::chrono::steady_clock::now() - spec.warmup - spec.duration;
    for (std::size_t i = threads.size(); i < tallies.size(); ++i) ready.count_down();
    ready.arrive_and_wait();
    for (auto& t : threads) t.join();
    return unavailable(std::string("cannot start client threads: ") + e.what());
  }
  start_at = std::chrono::steady_clock::now();
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();
  const auto ended = std::chrono::steady_clock::now();

  LoadResult r;
  std::vector<double> all;
  for (auto& t : tallies) {
    r.ok += t.ok;
    r.failed += t.failed;
    if (r.first_error.empty()) r.first_error = t.first_error;
    all.insert(all.end(), t.micros.begin(), t.micros.end());
  }
  // The window ends when the last client stopped (a count-limited run ends early).
  const auto measure_from = start_at + spec.warmup;
  r.seconds =
      std::chrono::duration<double>(std::min(ended, measure_from + spec.duration) - measure_from)
          .count();
  r.latency = summarize_latencies(all);
  return r;
}

}  // namespace shopeasy::bench
