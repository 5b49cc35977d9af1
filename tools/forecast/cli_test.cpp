// Runs the real shopeasy-forecast binary on good and bad history files.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

namespace fs = std::filesystem;

struct RunResult {
  int status = -1;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ForecastCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("forecast-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  RunResult run(const std::string& args) {
    const fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    const std::string cmd = std::string("'") + SHOPEASY_FORECAST_BIN + "' " + args + " >'" +
                            out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(cmd.c_str());
    RunResult r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  // Six weeks of hourly sales of two SKUs, rows out of order.
  std::string good_history() {
    std::string csv = "receipt,sku,qty,ts\n";
    int receipt = 0;
    for (int day = 41; day >= 0; --day) {
      for (int hour : {9, 12, 17}) {
        // Bread in Unix seconds, coffee in ISO 8601 (January only).
        const long unix_s = 1767571200L + day * 86400L + hour * 3600L + 900;  // 2026-01-05
        csv += std::to_string(++receipt) + ",bread," + std::to_string(1 + (hour == 12)) + "," +
               std::to_string(unix_s) + "\n";
        char ts[32];
        std::snprintf(ts, sizeof ts, "2026-01-%02dT%02d:15:00", 5 + day, hour);
        if (day % 3 == 0 && day < 27)
          csv += std::to_string(++receipt) + ",coffee,1," + std::string(ts) + "\n";
      }
    }
    return csv;
  }

  fs::path dir_;
};

TEST_F(ForecastCli, PredictWritesQuantilesAndReportsBadRowsByLine) {
  std::string csv = good_history();
  csv += "3,bread,lots,2026-02-01T10:00:00\n";  // line numbers after the good rows
  csv += "4,bread,1,31/01/2026 10:00\n";
  csv += "garbage\n";
  const fs::path history = write("history.csv", csv);
  const std::size_t lines = static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n'));
  const fs::path out = dir_ / "forecast.csv";
  const RunResult r =
      run("predict --history '" + history.string() +
          "' --until 2026-02-16T00:00:00 --horizon-h 48 --out '" + out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("3 of"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line " + std::to_string(lines - 2) + ": qty 'lots'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("line " + std::to_string(lines)), std::string::npos) << r.err;
  const std::string forecast = slurp(out);
  EXPECT_EQ(forecast.rfind("sku,ts,p50,p90,mean\n", 0), 0u);
  EXPECT_EQ(std::count(forecast.begin(), forecast.end(), '\n'), 1 + 2 * 48);
  EXPECT_NE(forecast.find("bread,2026-02-16T12:00:00,"), std::string::npos);
}

TEST_F(ForecastCli, PeakPlansOrdersAndStaffPerHour) {
  const fs::path history = write("history.csv", good_history());
  const fs::path out = dir_ / "peak.csv";
  RunResult r = run("peak --history '" + history.string() +
                    "' --until 2026-02-16T00:00:00 --hours 24 --orders-per-runner-hour 2 --out '" +
                    out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string plan = slurp(out);
  EXPECT_EQ(plan.rfind("ts,orders_mean,orders_p90,pickers,runners\n", 0), 0u);
  EXPECT_EQ(std::count(plan.begin(), plan.end(), '\n'), 25);
  EXPECT_NE(r.err.find("peak 2026-02-16T"), std::string::npos) << r.err;
  // Rates must be positive; the order column is needed.
  r = run("peak --history '" + history.string() +
          "' --until 2026-02-16T00:00:00 --orders-per-picker-hour 0");
  EXPECT_EQ(r.status, 2);
  const fs::path no_orders = write("no-orders.csv", "sku,ts,qty\nbread,2026-01-05T10:00:00,1\n");
  r = run("peak --history '" + no_orders.string() + "' --until 2026-02-16T00:00:00");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("order"), std::string::npos) << r.err;
}

TEST_F(ForecastCli, FarDatesAreBadRowsNotCenturiesOfHours) {
  const fs::path history = write(
      "history.csv", good_history() + "9,bread,1,2999-01-01T10:00:00\n9,bread,1,32503680000\n");
  const RunResult r = run("backtest --history '" + history.string() + "' --folds 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("2 of"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("outside 2000..2099"), std::string::npos) << r.err;
}

TEST_F(ForecastCli, MissingColumnIsExitTwoNamingIt) {
  const fs::path history = write("history.csv", "sku,ts\nbread,2026-01-05T10:00:00\n");
  const RunResult r = run("backtest --history '" + history.string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("qty"), std::string::npos) << r.err;
}

TEST_F(ForecastCli, EmptyOrUnreadableFileIsExitTwo) {
  const fs::path empty = write("empty.csv", "");
  RunResult r = run("backtest --history '" + empty.string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
  r = run("predict --history '" + (dir_ / "missing.csv").string() + "' --until 2026-02-16");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
  const fs::path only_garbage = write("garbage.csv", "sku,ts,qty\n,,\nx,y,z\n");
  r = run("backtest --history '" + only_garbage.string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no usable rows"), std::string::npos) << r.err;
}

TEST_F(ForecastCli, BadArgumentsAreExitTwo) {
  const fs::path history = write("history.csv", good_history());
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("forecast --history x").status, 2);
  EXPECT_EQ(run("backtest --history '" + history.string() + "' --folds zero").status, 2);
  EXPECT_EQ(run("predict --history '" + history.string() + "' --until soon").status, 2);
  EXPECT_EQ(run("backtest --history '" + history.string() + "' --speed 3").status, 2);
}

TEST_F(ForecastCli, BacktestPrintsEveryMethodAndTheChosen) {
  const fs::path history = write("history.csv", good_history());
  RunResult r = run("backtest --history '" + history.string() + "' --folds 2");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* name : {"seasonal-naive", "mean-4w", "zero", "profile", "croston", "sba", "tsb",
                           "adida", "chosen"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name << "\n" << r.out;
  }
  // Too few weeks for the folds: a failed run, not a crash.
  r = run("backtest --history '" + history.string() + "' --folds 20");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("weeks"), std::string::npos) << r.err;
}

}  // namespace

namespace {

TEST_F(ForecastCli, ReplenishSimWithoutDataPrintsBothPolicies) {
  const RunResult r = run("replenish-sim --no-data --lead-time-days 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("proposal (forecast quantiles)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("static min/max"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fill rate"), std::string::npos) << r.out;
}

TEST_F(ForecastCli, ReplenishSimOnAHistoryFile) {
  // Twelve weeks of daily sales of one SKU: 5 a day.
  std::string csv = "sku,date,qty\n";
  for (int d = 1; d <= 84; ++d) {
    char date[16];
    std::snprintf(date, sizeof date, "2026-%02d-%02d",
                  d <= 31   ? 1
                  : d <= 59 ? 2
                            : 3,
                  d <= 31   ? d
                  : d <= 59 ? d - 31
                            : d - 59);
    csv += std::string("MILK,") + date + ",5\n";
  }
  csv += "MILK,not-a-date,5\n";
  const RunResult r = run("replenish-sim --history '" + write("daily.csv", csv).string() +
                          "' --order-days mon,thu --shelf-life-days 10 --warmup-weeks 4");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("1 SKUs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("orders mon,thu"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("1 of 85 rows left out"), std::string::npos) << r.err;
}

TEST_F(ForecastCli, ReplenishSimBadArgumentsAreExitTwo) {
  EXPECT_EQ(run("replenish-sim").status, 2);  // neither --history nor --no-data
  EXPECT_EQ(run("replenish-sim --no-data --lead-time-days 0").status, 2);
  EXPECT_EQ(run("replenish-sim --no-data --lead-time-days 400").status, 2);
  EXPECT_EQ(run("replenish-sim --no-data --service-level 1.5").status, 2);
  EXPECT_EQ(run("replenish-sim --no-data --order-days funday").status, 2);
  EXPECT_EQ(run("replenish-sim --no-data --pack-size 0").status, 2);
  EXPECT_EQ(run("replenish-sim --no-data --bogus 1").status, 2);
  const RunResult both = run("replenish-sim --no-data --history x.csv");
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("not both"), std::string::npos) << both.err;
}

}  // namespace
