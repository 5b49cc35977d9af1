#include <iostream>
#include <string>
#include <vector>

#include "edge/vision/cli.hpp"

int main(int argc, char** argv) {
  return shopeasy::edge::vision::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                         std::cerr);
}
