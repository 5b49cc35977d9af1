#include <iostream>
#include <string>
#include <vector>

#include "tools/vision-gen/cli.hpp"

int main(int argc, char** argv) {
  return shopeasy::vision_gen::run_gen_cli(std::vector<std::string>(argv + 1, argv + argc),
                                           std::cout, std::cerr);
}
