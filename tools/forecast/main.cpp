#include <iostream>

#include "tools/forecast/cli.hpp"

int main(int argc, char** argv) {
  return shopeasy::forecast_cli::run_forecast_cli({argv + 1, argv + argc}, std::cout, std::cerr);
}
