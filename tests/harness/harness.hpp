// The integration-test harness in one include: temporary directories, waiting with a
// deadline, loopback networking, child processes, a real mosquitto broker, a throwaway
// PostgreSQL server, an HTTP probe and lookup of the project's binaries. Everything
// lives in shopeasy::testing.
#pragma once

#include "tests/harness/binaries.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/http_probe.hpp"
#include "tests/harness/mosquitto_broker.hpp"
#include "tests/harness/net.hpp"
#include "tests/harness/postgres_server.hpp"
#include "tests/harness/temp_dir.hpp"
#include "tests/harness/unique_fd.hpp"
#include "tests/harness/wait.hpp"
