#include "tests/bench/sync/pipeline_floor.hpp"

#include <sqlite3.h>
#include <time.h>
#include <zlib.h>

#include <chrono>
#include <memory>

#include "cloud/storage/cloud_store.hpp"
#include "common/wire/sync.hpp"
#include "tests/bench/sync/stock_events.hpp"

namespace shopeasy::syncbench {

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

double thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Spent {
  double cpu = 0;
  double wall = 0;
};

// Accumulates the CPU time and the wall time of a step. Thread CPU time does not count
// other processes' turns on a busy machine; wall time adds waiting (fsync).
class StepTimer {
 public:
  explicit StepTimer(Spent& total)
      : total_(total), cpu_(thread_cpu_now()), wall_(std::chrono::steady_clock::now()) {}
  ~StepTimer() {
    total_.cpu += thread_cpu_now() - cpu_;
    total_.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
  }
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

 private:
  Spent& total_;
  double cpu_;
  std::chrono::steady_clock::time_point wall_;
};

std::string gzip_at(const std::string& text, int level) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(text.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

StatusOr<std::string> gunzip(const std::string& packed) {
  z_stream zs{};
  if (inflateInit2(&zs, 31) != Z_OK) return internal_error("inflateInit2 failed");
  std::string out;
  std::string chunk(256 * 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = static_cast<uInt>(packed.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return internal_error("inflate failed");
    }
    out.append(chunk.data(), chunk.size() - zs.avail_out);
  }
  inflateEnd(&zs);
  return out;
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = std::string(sql) + ": " + (err != nullptr ? err : "?");
    sqlite3_free(err);
    return unavailable(message);
  }
  return Status::ok();
}

}  // namespace

StatusOr<PipelineFloor> measure_pipeline(const std::filesystem::path& outbox_db,
                                         const std::filesystem::path& scratch,
                                         const std::string& store_id, int batch) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(outbox_db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  std::unique_ptr<sqlite3, CloseDb> db(raw);
  if (rc != SQLITE_OK) return unavailable("cannot open " + outbox_db.string());
  // As the edge's durable writer.
  SHOPEASY_RETURN_IF_ERROR(exec(raw, "PRAGMA journal_mode = WAL"));
  SHOPEASY_RETURN_IF_ERROR(exec(raw, "PRAGMA synchronous = FULL"));
  auto prepare = [&](const char* sql) -> StatusOr<std::unique_ptr<sqlite3_stmt, FinalizeStmt>> {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(raw, sql, -1, &s, nullptr) != SQLITE_OK) {
      return unavailable(std::string(sqlite3_errmsg(raw)) + " in " + sql);
    }
    return std::unique_ptr<sqlite3_stmt, FinalizeStmt>(s);
  };
  auto newest = prepare(
      "SELECT max((SELECT max(seq) FROM events), (SELECT seq FROM sqlite_sequence WHERE name = "
      "'events'))");
  auto select =
      prepare("SELECT seq, ts_ms, type, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?");
  auto ack = prepare("UPDATE sync_state SET value = ? WHERE key = 'acked_seq'");
  auto cursor = prepare("UPDATE sync_state SET value = ? WHERE key = 'downstream_cursor'");
  auto trim = prepare(
      "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq <= ? ORDER BY seq LIMIT "
      "5000)");
  for (const auto* st :
       {&newest.status(), &select.status(), &ack.status(), &cursor.status(), &trim.status()}) {
    if (!st->is_ok()) return *st;
  }

  std::error_code ec;
  std::filesystem::create_directories(scratch, ec);
  const std::string cloud_path = (scratch / "pipeline-cloud.db").string();
  std::filesystem::remove(cloud_path, ec);
  auto store = cloud::storage::open_sqlite_store(cloud_path);
  if (!store.ok()) return store.status();
  SHOPEASY_RETURN_IF_ERROR((*store)->migrate());
  cloud::storage::StoreRegistration reg;
  reg.id = store_id;
  reg.name = "Pipeline";
  reg.lat = 12.97;
  reg.lon = 77.64;
  SHOPEASY_RETURN_IF_ERROR((*store)->upsert_store(reg));

  Spent t_read, t_build, t_gzip, t_gzip_fast, t_inflate, t_decode, t_apply, t_ack;
  PipelineFloor floor;
  std::int64_t acked = 0;
  const std::int64_t now_ms = 1767225600000;
  for (;;) {
    struct Row {
      std::int64_t seq;
      std::string type;
      std::string body;
    };
    std::vector<Row> rows;
    {
      StepTimer t(t_read);
      sqlite3_stmt* n = newest->get();
      if (sqlite3_step(n) != SQLITE_ROW) return unavailable("reading the newest seq");
      sqlite3_reset(n);
      sqlite3_stmt* s = select->get();
      sqlite3_bind_int64(s, 1, acked);
      sqlite3_bind_int64(s, 2, batch);
      while (sqlite3_step(s) == SQLITE_ROW) {
        rows.push_back(Row{sqlite3_column_int64(s, 0),
                           reinterpret_cast<const char*>(sqlite3_column_text(s, 2)),
                           reinterpret_cast<const char*>(sqlite3_column_text(s, 3))});
      }
      sqlite3_reset(s);
    }
    if (rows.empty()) break;
    std::string text;
    {
      StepTimer t(t_build);
      nlohmann::json changes = nlohmann::json::array();
      for (const Row& r : rows) changes.push_back(sync_change(r.seq, r.type, r.body));
      text = sync_batch_text(store_id, acked + 1, std::move(changes), 0, now_ms);
    }
    std::string packed;
    {
      StepTimer t(t_gzip);
      packed = gzip_like_client(text);
    }
    {
      StepTimer t(t_gzip_fast);
      floor.gzip_fast_bytes += static_cast<std::int64_t>(gzip_at(text, Z_BEST_SPEED).size());
    }
    floor.gzip_bytes += static_cast<std::int64_t>(packed.size());
    StatusOr<std::string> unpacked = std::string();
    {
      StepTimer t(t_inflate);
      unpacked = gunzip(packed);
    }
    if (!unpacked.ok()) return unpacked.status();
    std::vector<cloud::storage::Change> changes;
    {
      StepTimer t(t_decode);
      auto decoded = wire::parse_sync_batch(*unpacked);
      if (!decoded.ok()) return internal_error("decoding: " + decoded.status().to_string());
      changes.reserve(decoded->changes.size());
      for (auto& c : decoded->changes) {
        changes.push_back(cloud::storage::Change{c.seq, std::move(c.kind), std::move(c.body)});
      }
    }
    {
      StepTimer t(t_apply);
      auto applied = (*store)->apply_batch(store_id, changes, now_ms);
      if (!applied.ok()) return internal_error("applying: " + applied.status().to_string());
      auto down = (*store)->downstream(store_id, 0, 1000);
      if (!down.ok()) return down.status();
    }
    acked = rows.back().seq;
    {
      // The acknowledgement and the trim of acknowledged events, in one transaction, as
      // the edge writes them once the outbox is beyond its replay window.
      StepTimer t(t_ack);
      SHOPEASY_RETURN_IF_ERROR(exec(raw, "BEGIN IMMEDIATE"));
      for (sqlite3_stmt* s : {cursor->get(), ack->get()}) {
        sqlite3_bind_int64(s, 1, s == ack->get() ? acked : 0);
        if (sqlite3_step(s) != SQLITE_DONE) return unavailable(sqlite3_errmsg(raw));
        sqlite3_reset(s);
      }
      sqlite3_bind_int64(trim->get(), 1, acked);
      if (sqlite3_step(trim->get()) != SQLITE_DONE) return unavailable(sqlite3_errmsg(raw));
      sqlite3_reset(trim->get());
      SHOPEASY_RETURN_IF_ERROR(exec(raw, "COMMIT"));
    }
    floor.changes += static_cast<std::int64_t>(rows.size());
  }
  floor.steps = {
      {"edge: read the outbox batch", t_read.cpu, t_read.wall, true},
      {"edge: compact bodies, build and dump the batch JSON", t_build.cpu, t_build.wall, true},
      {"edge: gzip (default level)", t_gzip.cpu, t_gzip.wall, true},
      {"cloud: gunzip", t_inflate.cpu, t_inflate.wall, false},
      {"cloud: parse and validate the batch (wire decoder)", t_decode.cpu, t_decode.wall, false},
      {"cloud: CloudStore::apply_batch + downstream", t_apply.cpu, t_apply.wall, false},
      {"edge: record the ack, trim acked events", t_ack.cpu, t_ack.wall, true},
  };
  floor.steps.push_back(
      {"(edge: gzip at level 1 instead, for comparison)", t_gzip_fast.cpu, t_gzip_fast.wall, true});
  return floor;
}

}  // namespace shopeasy::syncbench
