// PostgresServer: a throwaway PostgreSQL cluster for integration tests. start() runs
// initdb into a private TempDir and starts `postgres` on 127.0.0.1 on a port of its
// own (Unix socket inside the same directory), with trust authentication for one
// superuser. Tests create a database each and connect with dsn(). The server can be
// stopped, killed and restarted on the same port and data directory to test how
// clients ride out outages; destruction stops it and removes everything.
//
// Binaries come from the directory named by SHOPEASY_POSTGRES_BIN if set, else the
// newest /usr/lib/postgresql/<version>/bin, else initdb/postgres in PATH. PostgreSQL
// refuses to run as root, so as root the cluster belongs to the "postgres" system user
// and its programs run as that user (through setpriv).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.hpp"
#include "tests/harness/child_process.hpp"
#include "tests/harness/temp_dir.hpp"

namespace shopeasy::testing {

// Meant for designated initializers: PostgresServer::start({.user = "cloud"}).
struct PostgresOptions {
  // The superuser initdb creates; 1..63 of [a-z0-9_], not starting with a digit.
  std::string user = "shopeasy";
  // Extra server settings as "name=value", each passed as `-c name=value`.
  std::vector<std::string> settings{};
};

class PostgresServer {
 public:
  // Creates the cluster, starts the server and waits until it accepts connections.
  // kInvalidArgument for bad options, kNotFound if PostgreSQL (or, as root, the postgres
  // user or setpriv) is missing, kUnavailable if initdb fails or the server exits during
  // start-up, kDeadlineExceeded if it does not come up within `timeout`; messages carry
  // the programs' output.
  static StatusOr<PostgresServer> start(
      PostgresOptions options = {}, std::chrono::milliseconds timeout = std::chrono::seconds(60));

  PostgresServer(PostgresServer&& other) noexcept;
  PostgresServer& operator=(PostgresServer&& other) noexcept;
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  // Stops the server (immediate shutdown: nothing is kept, so nothing is flushed; SIGKILL
  // if that hangs) and removes its directory.
  ~PostgresServer();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const std::string& user() const { return options_.user; }
  // libpq connection string: "host=127.0.0.1 port=<port> dbname=<dbname> user=<user> ...".
  std::string dsn(std::string_view dbname = "postgres") const;
  // The server's private directory: data/ (the cluster), the Unix socket, postgres.log
  // (output of every run, appended).
  const std::filesystem::path& dir() const { return dir_.path(); }

  // CREATE DATABASE <name>. `name` is 1..63 of [a-z0-9_], not starting with a digit
  // (kInvalidArgument). kAlreadyExists if it exists, kUnavailable if the server cannot be
  // reached.
  Status create_database(std::string_view name);
  // Runs `sql` (one or more ';'-separated statements, autocommitted) in database
  // `dbname` as the superuser, discarding any rows: for setting up or breaking state
  // behind the back of the code under test. kInvalidArgument for a bad name,
  // kAlreadyExists for a duplicate database, kUnavailable for any other failure (the
  // message carries the server's error and SQLSTATE).
  Status execute(std::string_view dbname, const std::string& sql);

  // Fast shutdown: SIGINT (clients are disconnected, a checkpoint is written) and wait up
  // to `grace`. kDeadlineExceeded if it had to be SIGKILLed instead. OK if not running.
  Status stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Stops the server if it runs and starts it again on the same port and data directory,
  // waiting until it accepts connections (crash recovery runs after kill9()). Errors as
  // in start(); kUnavailable if the port has been taken meanwhile.
  Status restart(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Crash: SIGKILL to the server and all its backends. OK if not running.
  Status kill9();
  bool is_running();
  // The postmaster's process id while it runs, else -1.
  pid_t pid();
  // Captured output of the current (or last) server process.
  std::string output() const;

 private:
  PostgresServer(TempDir dir, std::filesystem::path bin_dir, PostgresOptions options,
                 std::vector<std::string> run_as);
  Status init_cluster(std::chrono::milliseconds timeout);
  Status launch(std::chrono::milliseconds timeout);
  // Removes the System V shared memory segment a killed postmaster leaves behind.
  void remove_stale_shared_memory();
  // Ends the server process for good, quickly (destruction, move-assignment).
  void discard() noexcept;
  std::vector<std::string> command(std::string_view program) const;

  TempDir dir_;
  std::filesystem::path bin_dir_;
  PostgresOptions options_;
  // Prefix that runs a program as the cluster's owner (empty unless we are root).
  std::vector<std::string> run_as_;
  std::string host_ = "127.0.0.1";
  int port_ = 0;
  // Declared after dir_ so the server is gone before its directory is removed.
  std::optional<ChildProcess> child_;
};

}  // namespace shopeasy::testing
