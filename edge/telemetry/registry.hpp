// RunnerRegistry: the in-memory truth about every runner allowed at this store: its
// live position (through a FixFilter), delivery state, battery, presence and when it
// was last heard from. It applies decoded reports, detects silence (tick), and tells
// the caller what to do next (offer a trail point, announce a presence change, publish
// a throttled update); it has no threads and does no I/O, so tests drive it with a
// FakeClock and call tick() themselves.
//
// Thread-safe: every method takes one internal lock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock/clock.hpp"
#include "common/sync/mutex.hpp"
#include "common/wire/runner.hpp"
#include "edge/telemetry/fix_filter.hpp"
#include "edge/telemetry/types.hpp"

namespace shopeasy::edge::telemetry {

struct RegistryOptions {
  FilterOptions filter;
  // A runner heard from (telemetry or an "online" status) but silent this long is stale.
  double stale_after_s = 10;
  // The live fix repeated this many times while messages keep arriving: gps_frozen.
  int frozen_repeats = 5;
  // runner.updated is due at most once per this interval per runner; changes in
  // between are folded into the next one (released by apply or tick).
  double update_interval_s = 0.5;
};

struct PresenceChange {
  std::string runner_id;
  Presence from = Presence::kUnknown;
  Presence to = Presence::kUnknown;
  std::int64_t ts_ms = 0;
};

// What applying one report asks the caller to do.
struct ApplyResult {
  bool known = false;  // false: the runner is not in the registry and nothing changed
  FixVerdict verdict = FixVerdict::kLive;  // telemetry only
  std::optional<TrailPoint> trail;         // offer it to the trail store
  std::optional<PresenceChange> presence;  // announce it (never throttled)
  std::optional<RunnerView> update;        // publish it as runner.updated now
};

struct TickResult {
  std::vector<PresenceChange> presence;
  std::vector<RunnerView> updates;           // throttled updates whose interval has passed
  std::array<std::size_t, 5> by_presence{};  // runner count, indexed by Presence
};

class RunnerRegistry {
 public:
  RunnerRegistry(RegistryOptions options, const Clock& clock);
  RunnerRegistry(const RunnerRegistry&) = delete;
  RunnerRegistry& operator=(const RunnerRegistry&) = delete;

  // Adds a runner with presence unknown (true), or renames an existing one (false).
  bool add(std::string_view id, std::string_view name) EXCLUDES(mutex_);
  // Forgets a runner and its live state; false if it was not there.
  bool remove(std::string_view id) EXCLUDES(mutex_);
  bool contains(std::string_view id) const EXCLUDES(mutex_);
  std::size_t size() const EXCLUDES(mutex_);

  // Applies a validated telemetry report: liveness always; state and battery unless
  // the report is older than the live fix; the position as the FixFilter decides.
  ApplyResult apply_telemetry(const wire::Telemetry& t) EXCLUDES(mutex_);
  // Applies a validated status: "online" counts as a sign of life, "offline" (often the
  // broker's last will) makes the runner offline at once. Never filtered.
  ApplyResult apply_status(const wire::RunnerStatus& s) EXCLUDES(mutex_);

  // Marks runners silent for stale_after_s as stale and releases due throttled updates.
  // Call a few times a second; staleness is detected on the first tick at or after the
  // deadline.
  TickResult tick() EXCLUDES(mutex_);

  // Every runner, sorted by id.
  std::vector<RunnerView> snapshot() const EXCLUDES(mutex_);
  std::optional<RunnerView> find(std::string_view id) const EXCLUDES(mutex_);

 private:
  struct Entry {
    explicit Entry(const FilterOptions& o) : filter(o) {}
    std::string id;
    std::string name;
    wire::RunnerState state = wire::RunnerState::kIdle;
    Presence presence = Presence::kUnknown;
    std::optional<int> battery_pct;
    std::optional<std::string> app_version;
    FixFilter filter;
    std::int64_t fix_received_ms = 0;
    std::optional<std::int64_t> last_seen_ms;
    bool heard = false;
    MonoTime last_heard{};
    bool emitted = false;
    bool update_pending = false;
    MonoTime last_emit{};
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  RunnerView view(const Entry& e) const REQUIRES(mutex_);
  void set_presence(Entry& e, Presence to, std::int64_t now_ms, ApplyResult& out) REQUIRES(mutex_);
  void maybe_emit(Entry& e, MonoTime now, std::optional<RunnerView>& out) REQUIRES(mutex_);

  const RegistryOptions options_;
  const Clock& clock_;
  const MonoTime::duration stale_after_;
  const MonoTime::duration update_interval_;
  // Guards runners_ (and every Entry in it): the MQTT ingest thread applies reports,
  // the ticker ticks and HTTP handlers read snapshots.
  mutable shopeasy::sync::Mutex mutex_;
  std::unordered_map<std::string, Entry, Hash, std::equal_to<>> runners_ GUARDED_BY(mutex_);
};

}  // namespace shopeasy::edge::telemetry
