#include "tests/harness/postgres_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

#include "tests/harness/binaries.hpp"
#include "tests/harness/net.hpp"
#include "tests/harness/wait.hpp"

namespace shopeasy::testing {
namespace {

using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

constexpr const char* kDataDirName = "data";
constexpr const char* kLogName = "postgres.log";
constexpr const char* kSystemUser = "postgres";
// A port picked by free_tcp_port() can be taken before postgres binds it; try afresh.
constexpr int kStartAttempts = 3;

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool has_server_binaries(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / "initdb", ec) &&
         std::filesystem::is_regular_file(dir / "postgres", ec);
}

// "15" < "16", "9.6" < "10": compares the dotted numbers field by field.
std::vector<int> version_key(const std::string& name) {
  std::vector<int> key;
  std::stringstream in(name);
  std::string part;
  while (std::getline(in, part, '.')) key.push_back(std::atoi(part.c_str()));
  return key;
}

StatusOr<std::filesystem::path> find_bin_dir() {
  if (const char* configured = std::getenv("SHOPEASY_POSTGRES_BIN"); configured && *configured) {
    if (has_server_binaries(configured)) return std::filesystem::path(configured);
    return not_found(std::string("SHOPEASY_POSTGRES_BIN has no initdb and postgres: ") +
                     configured);
  }
  std::optional<std::filesystem::path> best;
  std::vector<int> best_key;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    if (!has_server_binaries(entry.path() / "bin")) continue;
    std::vector<int> key = version_key(name);
    if (!best || key > best_key) {
      best = entry.path() / "bin";
      best_key = std::move(key);
    }
  }
  if (best) return *best;
  std::optional<std::filesystem::path> initdb = find_executable("initdb");
  if (initdb && has_server_binaries(initdb->parent_path())) return initdb->parent_path();
  return not_found(
      "PostgreSQL server binaries not found (install postgresql or set SHOPEASY_POSTGRES_BIN)");
}

struct ConnDeleter {
  void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};

std::string trimmed(const char* message) {
  std::string out = message == nullptr ? "" : message;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

PostgresServer::PostgresServer(TempDir dir, std::filesystem::path bin_dir, PostgresOptions options,
                               std::vector<std::string> run_as)
    : dir_(std::move(dir)),
      bin_dir_(std::move(bin_dir)),
      options_(std::move(options)),
      run_as_(std::move(run_as)) {}

PostgresServer::PostgresServer(PostgresServer&& other) noexcept
    : dir_(std::move(other.dir_)),
      bin_dir_(std::move(other.bin_dir_)),
      options_(std::move(other.options_)),
      run_as_(std::move(other.run_as_)),
      host_(std::move(other.host_)),
      port_(other.port_),
      child_(std::move(other.child_)) {
  // A moved-from server owns no process: its destructor must not touch ours.
  other.child_.reset();
}

PostgresServer& PostgresServer::operator=(PostgresServer&& other) noexcept {
  if (this != &other) {
    if (child_) discard();  // Our server must die before its directory goes.
    dir_ = std::move(other.dir_);
    bin_dir_ = std::move(other.bin_dir_);
    options_ = std::move(other.options_);
    run_as_ = std::move(other.run_as_);
    host_ = std::move(other.host_);
    port_ = other.port_;
    child_ = std::move(other.child_);
    other.child_.reset();
  }
  return *this;
}

PostgresServer::~PostgresServer() {
  if (!child_) return;
  discard();
}

void PostgresServer::discard() noexcept {
  // Immediate shutdown (SIGQUIT) skips the shutdown checkpoint, which would flush every
  // test database to disk just before the directory is deleted, yet still lets the
  // postmaster remove its shared memory, which a SIGKILL would leak.
  if (is_running() && child_->send_signal(SIGQUIT).is_ok()) (void)child_->wait_exit(10s);
  child_.reset();
  remove_stale_shared_memory();
}

StatusOr<PostgresServer> PostgresServer::start(PostgresOptions options,
                                               std::chrono::milliseconds timeout) {
  if (!is_identifier(options.user)) {
    return invalid_argument("must be 1..63 of [a-z0-9_], not starting with a digit", "user");
  }
  for (const std::string& setting : options.settings) {
    if (setting.find('=') == std::string::npos || setting.front() == '=') {
      return invalid_argument("settings must look like name=value: " + setting, "settings");
    }
  }
  StatusOr<std::filesystem::path> bin_dir = find_bin_dir();
  if (!bin_dir.ok()) return bin_dir.status();
  StatusOr<TempDir> dir = TempDir::create("shopeasy-postgres");
  if (!dir.ok()) return dir.status();

  std::vector<std::string> run_as;
  if (::geteuid() == 0) {
    // initdb and postgres refuse to run as root: hand the directory to the system user.
    passwd entry{};
    passwd* pw = nullptr;
    std::vector<char> buffer(16384);
    if (::getpwnam_r(kSystemUser, &entry, buffer.data(), buffer.size(), &pw) != 0 ||
        pw == nullptr) {
      return not_found("running as root needs the 'postgres' system user to own the cluster");
    }
    if (::chown(dir->path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return unavailable("chown " + dir->path().string() + ": " + std::strerror(errno));
    }
    std::optional<std::filesystem::path> setpriv = find_executable("setpriv");
    if (!setpriv) return not_found("setpriv is not installed (needed to run postgres as root)");
    run_as = {setpriv->string(), "--reuid=" + std::to_string(pw->pw_uid),
              "--regid=" + std::to_string(pw->pw_gid), "--clear-groups", "--"};
  }

  PostgresServer server(std::move(*dir), std::move(*bin_dir), std::move(options),
                        std::move(run_as));
  SHOPEASY_RETURN_IF_ERROR(server.init_cluster(timeout));
  Status last = unavailable("postgres was not started");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    server.port_ = free_tcp_port();
    if (server.port_ == 0) return unavailable("no free TCP port on 127.0.0.1");
    last = server.launch(timeout);
    if (last.is_ok()) return server;
    if (server.output().find("already in use") == std::string::npos) break;
  }
  return last;
}

std::vector<std::string> PostgresServer::command(std::string_view program) const {
  std::vector<std::string> argv = run_as_;
  argv.push_back((bin_dir_ / program).string());
  return argv;
}

Status PostgresServer::init_cluster(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = command("initdb");
  // No fsync during initdb: a test cluster that dies with the machine is simply remade.
  for (const char* arg :
       {"--no-sync", "--no-instructions", "--auth=trust", "--encoding=UTF8", "--locale=C"}) {
    argv.emplace_back(arg);
  }
  argv.push_back("--username=" + options_.user);
  argv.push_back("--pgdata=" + dir_.file(kDataDirName).string());
  StatusOr<ChildProcess> initdb = ChildProcess::spawn({
      .argv = std::move(argv),
      .env = {{"LC_ALL", "C"}},
      .working_dir = dir_.path(),
      .log_file = dir_.file(kLogName),
  });
  if (!initdb.ok()) return initdb.status();
  std::optional<int> status = initdb->wait_exit(timeout);
  if (!status) {
    initdb->kill9();
    return Status(StatusCode::kDeadlineExceeded,
                  "initdb did not finish in time:\n" + initdb->describe());
  }
  if (*status != 0) return unavailable("initdb failed:\n" + initdb->describe());
  return Status::ok();
}

Status PostgresServer::launch(std::chrono::milliseconds timeout) {
  child_.reset();
  std::vector<std::string> argv = command("postgres");
  argv.push_back("-D");
  argv.push_back(dir_.file(kDataDirName).string());
  argv.push_back("-p");
  argv.push_back(std::to_string(port_));
  for (std::string setting :
       {std::string("listen_addresses=") + host_, "unix_socket_directories=" + dir_.path().string(),
        std::string("shared_buffers=16MB"), std::string("max_connections=50"),
        std::string("log_min_messages=warning")}) {
    argv.push_back("-c");
    argv.push_back(std::move(setting));
  }
  for (const std::string& setting : options_.settings) {
    argv.push_back("-c");
    argv.push_back(setting);
  }
  StatusOr<ChildProcess> spawned = ChildProcess::spawn({
      .argv = std::move(argv),
      .env = {{"LC_ALL", "C"}},
      .working_dir = dir_.path(),
      .log_file = dir_.file(kLogName),
  });
  if (!spawned.ok()) return spawned.status();
  child_.emplace(std::move(*spawned));
  ChildProcess& child = *child_;
  // PQping answers OK only once the server accepts connections (recovery finished).
  const std::string conninfo = dsn("postgres") + " connect_timeout=2";
  bool ready = wait_for(
      [&] {
        if (!child.is_running()) return true;
        return PQping(conninfo.c_str()) == PQPING_OK;
      },
      timeout, 20ms);
  if (!child.is_running()) {
    return unavailable("postgres exited during start-up on port " + std::to_string(port_) + ":\n" +
                       child.describe());
  }
  if (!ready) {
    child.kill9();
    remove_stale_shared_memory();
    return Status(StatusCode::kDeadlineExceeded, "postgres did not accept connections on port " +
                                                     std::to_string(port_) + " in time:\n" +
                                                     child.describe());
  }
  return Status::ok();
}

std::string PostgresServer::dsn(std::string_view dbname) const {
  return "host=" + host_ + " port=" + std::to_string(port_) + " dbname=" + std::string(dbname) +
         " user=" + options_.user;
}

Status PostgresServer::create_database(std::string_view name) {
  if (!is_identifier(name)) {
    return invalid_argument("must be 1..63 of [a-z0-9_], not starting with a digit", "name");
  }
  // template0 is copied fastest and carries nothing a test could have left in template1.
  return execute("postgres", "CREATE DATABASE " + std::string(name) + " TEMPLATE template0");
}

Status PostgresServer::execute(std::string_view dbname, const std::string& sql) {
  if (!is_identifier(dbname)) {
    return invalid_argument("must be 1..63 of [a-z0-9_], not starting with a digit", "dbname");
  }
  const std::string conninfo = dsn(dbname) + " connect_timeout=10";
  std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(conninfo.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return unavailable("cannot connect to the test server: " +
                       trimmed(conn ? PQerrorMessage(conn.get()) : "out of memory"));
  }
  PQsetNoticeProcessor(
      conn.get(), [](void*, const char*) {}, nullptr);
  std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::ok();
  const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  std::string message = trimmed(PQresultErrorMessage(result.get()));
  if (state != nullptr && std::string_view(state) == "42P04") {
    return Status(StatusCode::kAlreadyExists, message);
  }
  return unavailable(message + " (SQLSTATE " + (state != nullptr ? state : "none") + ")");
}

Status PostgresServer::stop(std::chrono::milliseconds grace) {
  if (!is_running()) return Status::ok();
  SHOPEASY_RETURN_IF_ERROR(child_->send_signal(SIGINT));
  if (child_->wait_exit(grace)) return Status::ok();
  child_->kill9();
  remove_stale_shared_memory();
  return Status(StatusCode::kDeadlineExceeded,
                "postgres did not shut down in time and was killed:\n" + child_->describe());
}

Status PostgresServer::restart(std::chrono::milliseconds timeout) {
  SHOPEASY_RETURN_IF_ERROR(stop());
  return launch(timeout);
}

Status PostgresServer::kill9() {
  if (!is_running()) return Status::ok();
  if (!child_->kill9()) return internal_error("postgres could not be reaped after SIGKILL");
  remove_stale_shared_memory();
  return Status::ok();
}

void PostgresServer::remove_stale_shared_memory() {
  if (dir_.path().empty()) return;
  // Line 7 of postmaster.pid holds "<key> <id>" of the segment; the next start would
  // recycle it, but a test that ends after a crash must not leave it behind.
  std::ifstream pid_file(dir_.file(kDataDirName) / "postmaster.pid");
  std::string line;
  for (int i = 0; i < 7 && std::getline(pid_file, line); ++i) {
  }
  if (!pid_file) return;
  std::istringstream fields(line);
  long key = 0;
  int id = -1;
  if (!(fields >> key >> id) || id < 0) return;
  shmid_ds info{};
  // Only a segment nobody is attached to any more: the server and backends are gone.
  if (::shmctl(id, IPC_STAT, &info) == 0 && info.shm_nattch == 0) ::shmctl(id, IPC_RMID, nullptr);
}

bool PostgresServer::is_running() { return child_ && child_->is_running(); }

pid_t PostgresServer::pid() { return is_running() ? child_->pid() : -1; }

std::string PostgresServer::output() const { return child_ ? child_->output() : std::string(); }

}  // namespace shopeasy::testing
