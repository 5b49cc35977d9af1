#include "edge/daemon/edge_daemon.hpp"

int main(int argc, char** argv) { return shopeasy::edge::run_edge(argc, argv); }
