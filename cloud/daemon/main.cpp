#include "cloud/daemon/cloud_daemon.hpp"

int main(int argc, char** argv) { return shopeasy::cloud::run_cloud(argc, argv); }
