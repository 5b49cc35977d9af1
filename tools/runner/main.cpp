#include "tools/runner/runner_daemon.hpp"

int main(int argc, char** argv) { return shopeasy::runner::run_runner(argc, argv); }
