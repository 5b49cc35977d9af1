// shopeasy-forecast: backtests and forecasts from a sales history CSV.
//
//   shopeasy-forecast backtest --history FILE.csv [--folds 8] [--granularity hour|day]
//   shopeasy-forecast predict --history FILE.csv --until TIMESTAMP [--horizon-h 168]
//                             [--granularity hour|day] [--out FILE.csv]
//   shopeasy-forecast peak --history FILE.csv --until TIMESTAMP [--hours 168]
//                          [--orders-per-picker-hour 12] [--orders-per-runner-hour 3]
//                          [--out FILE.csv]
//
// peak: orders per hour (from the order or receipt column) for the coming hours and the
// pickers and runners the p90 of each hour needs; each day's busiest hour on stderr.
//
// Exit status: 0 done (bad rows are reported and left out), 1 the run failed (output
// not writable, history too short for the folds), 2 bad arguments, an unreadable file
// or a missing column.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace shopeasy::forecast_cli {

int run_forecast_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace shopeasy::forecast_cli
