// inventory_bench: measures the inventory speed goals of the edge against baselines
// taken in the same run, and prints the figures and a summary table.
//
//   inventory_bench [--phases=1,2,3] [--concurrency=8,16,32,64] [--duration-ms=5000]
//                   [--warmup-ms=500] [--http-threads=80] [--catalog=1000]
//                   [--scans=20000] [--threads=8] [--skus=10000] [--lots-per-sku=5]
//                   [--ledger-rows=1000000] [--reads=2000] [--ledger-reads=300]
//                   [--seed=N] [--quick]
//
// --hello-server [--hello-tuned] [--http-threads=N] runs the HTTP baseline server
// instead (the benchmark starts itself that way as a child process).
//
// The daemon is found like in the integration tests (SHOPEASY_BIN_DIR or the build's
// bin/). Exit status: 0 when every phase ran (targets missed or not), 1 when a phase
// could not run, 2 for bad arguments.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

#include "tests/bench/bench_common.hpp"
#include "tests/bench/inventory/hello_server.hpp"
#include "tests/bench/inventory/phases.hpp"

namespace shopeasy::bench {

namespace {

template <typename T>
bool parse_number(std::string_view text, T* out) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = value;
  return true;
}

bool parse_list(std::string_view text, std::vector<int>* out) {
  std::vector<int> values;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    int v = 0;
    if (!parse_number(text.substr(0, comma), &v) || v <= 0) return false;
    values.push_back(v);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  if (values.empty()) return false;
  *out = std::move(values);
  return true;
}

struct Args {
  BenchOptions options;
  std::vector<int> phases = {1, 2, 3};
  bool hello_server = false;
  bool hello_tuned = false;
};

Status parse_args(int argc, char** argv, Args* args) {
  BenchOptions& o = args->options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const std::size_t eq = arg.find('=');
    const std::string_view key = arg.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (key == "--hello-server") {
      args->hello_server = true;
    } else if (key == "--hello-tuned") {
      args->hello_tuned = true;
    } else if (key == "--quick") {
      o.concurrency = {8, 32};
      o.duration_ms = 2000;
      o.inproc_scans = 4000;
      o.big_ledger_rows = 200'000;
      o.read_requests = 500;
      o.ledger_requests = 50;
    } else if (key == "--phases") {
      ok = parse_list(value, &args->phases);
    } else if (key == "--concurrency") {
      ok = parse_list(value, &o.concurrency);
    } else if (key == "--duration-ms") {
      ok = parse_number(value, &o.duration_ms) && o.duration_ms > 0;
    } else if (key == "--warmup-ms") {
      ok = parse_number(value, &o.warmup_ms) && o.warmup_ms >= 0;
    } else if (key == "--http-threads") {
      ok = parse_number(value, &o.http_threads) && o.http_threads >= 2 && o.http_threads <= 512;
    } else if (key == "--catalog") {
      ok = parse_number(value, &o.catalog_size) && o.catalog_size > 0 && o.catalog_size < 100000;
    } else if (key == "--scans") {
      ok = parse_number(value, &o.inproc_scans) && o.inproc_scans > 0;
    } else if (key == "--threads") {
      ok = parse_number(value, &o.inproc_threads) && o.inproc_threads > 0;
    } else if (key == "--skus") {
      ok = parse_number(value, &o.big_skus) && o.big_skus >= 100 && o.big_skus < 100000;
    } else if (key == "--lots-per-sku") {
      ok = parse_number(value, &o.big_lots_per_sku) && o.big_lots_per_sku > 0;
    } else if (key == "--ledger-rows") {
      ok = parse_number(value, &o.big_ledger_rows);
    } else if (key == "--reads") {
      ok = parse_number(value, &o.read_requests) && o.read_requests > 0;
    } else if (key == "--ledger-reads") {
      ok = parse_number(value, &o.ledger_requests) && o.ledger_requests > 0;
    } else if (key == "--seed") {
      ok = parse_number(value, &o.seed);
    } else {
      return invalid_argument("unknown option " + std::string(arg) +
                              " (see the top of inventory_bench.cpp)");
    }
    if (!ok) return invalid_argument("bad value in " + std::string(arg), std::string(key));
  }
  for (int c : o.concurrency) {
    if (!args->hello_server && c >= o.http_threads) {
      return invalid_argument("every concurrency must be below --http-threads (" +
                                  std::to_string(o.http_threads) +
                                  "): a keep-alive client holds a worker",
                              "concurrency");
    }
  }
  return Status::ok();
}

}  // namespace

int run(int argc, char** argv) {
  Args args;
  if (Status st = parse_args(argc, argv, &args); !st.is_ok()) {
    std::fprintf(stderr, "inventory_bench: %s\n", st.to_string().c_str());
    return 2;
  }
  if (args.hello_server) return run_hello_server(args.options.http_threads, args.hello_tuned);

  std::error_code ec;
  args.options.self_exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) args.options.self_exe = argv[0];

  const BenchOptions& o = args.options;
  std::printf("inventory_bench: seed %llu, %u CPUs, load average %s\n",
              static_cast<unsigned long long>(o.seed), std::thread::hardware_concurrency(),
              load_averages().c_str());
  print_lifted_limits("inventory_bench");
  Table results = make_results_table();
  int status = 0;
  for (int phase : args.phases) {
    Status st;
    switch (phase) {
      case 1:
        st = run_http_ingest_phase(o, results);
        break;
      case 2:
        st = run_ledger_write_phase(o, results);
        break;
      case 3:
        st = run_big_store_phase(o, results);
        break;
      default:
        st = invalid_argument("no phase " + std::to_string(phase), "phases");
        break;
    }
    if (!st.is_ok()) {
      std::printf("phase %d FAILED: %s\n", phase, st.to_string().c_str());
      results.add(
          {"phase " + std::to_string(phase), "did not run: " + st.message(), "", "", "", "ERROR"});
      status = 1;
    }
    std::fflush(stdout);
  }
  std::printf("\n== Summary (load average at the end %s) ==\n%s", load_averages().c_str(),
              results.render().c_str());
  for (const auto& row : results.rows()) {
    auto cell = [&](std::size_t i) { return i < row.size() ? row[i] : std::string(); };
    record_result("inventory", cell(0), cell(1), cell(2), cell(3), cell(4), cell(5));
  }
  return status;
}

}  // namespace shopeasy::bench

int main(int argc, char** argv) { return shopeasy::bench::run(argc, argv); }
