#include "edge/telemetry/registry.hpp"

#include <algorithm>
#include <chrono>

namespace shopeasy::edge::telemetry {

namespace {

MonoTime::duration seconds_to_duration(double s) {
  return std::chrono::duration_cast<MonoTime::duration>(std::chrono::duration<double>(s));
}

}  // namespace

RunnerRegistry::RunnerRegistry(RegistryOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      stale_after_(seconds_to_duration(options_.stale_after_s)),
      update_interval_(seconds_to_duration(options_.update_interval_s)) {}

bool RunnerRegistry::add(std::string_view id, std::string_view name) {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = runners_.find(id);
  if (it != runners_.end()) {
    it->second.name = name;
    return false;
  }
  auto [pos, inserted] = runners_.try_emplace(std::string(id), options_.filter);
  pos->second.id = id;
  pos->second.name = name;
  return inserted;
}

bool RunnerRegistry::remove(std::string_view id) {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = runners_.find(id);
  if (it == runners_.end()) return false;
  runners_.erase(it);
  return true;
}

bool RunnerRegistry::contains(std::string_view id) const {
  shopeasy::sync::MutexLock lock(mutex_);
  return runners_.find(id) != runners_.end();
}

std::size_t RunnerRegistry::size() const {
  shopeasy::sync::MutexLock lock(mutex_);
  return runners_.size();
}

RunnerView RunnerRegistry::view(const Entry& e) const {
  RunnerView v;
  v.id = e.id;
  v.name = e.name;
  v.state = e.state;
  v.presence = e.presence;
  v.battery_pct = e.battery_pct;
  v.app_version = e.app_version;
  if (e.filter.has_live()) v.fix = e.filter.shown(e.fix_received_ms);
  v.last_seen_ms = e.last_seen_ms;
  return v;
}

void RunnerRegistry::set_presence(Entry& e, Presence to, std::int64_t now_ms, ApplyResult& out) {
  if (e.presence == to) return;
  out.presence = PresenceChange{e.id, e.presence, to, now_ms};
  e.presence = to;
}

void RunnerRegistry::maybe_emit(Entry& e, MonoTime now, std::optional<RunnerView>& out) {
  if (!e.emitted || now - e.last_emit >= update_interval_) {
    e.emitted = true;
    e.last_emit = now;
    e.update_pending = false;
    out = view(e);
  } else {
    e.update_pending = true;
  }
}

ApplyResult RunnerRegistry::apply_telemetry(const wire::Telemetry& t) {
  ApplyResult out;
  const MonoTime now = clock_.mono_now();
  const std::int64_t now_ms = to_unix_ms(clock_.wall_now());
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = runners_.find(t.runner_id);
  if (it == runners_.end()) return out;
  Entry& e = it->second;
  out.known = true;

  const FixDecision d = e.filter.offer(t, now_ms);
  out.verdict = d.verdict;
  out.trail = d.trail;
  // Any report, even a rejected one, shows the device is alive and connected.
  e.last_seen_ms = now_ms;
  e.heard = true;
  e.last_heard = now;

  bool visible = false;
  const bool current = d.verdict == FixVerdict::kLive || d.verdict == FixVerdict::kRepeat ||
                       d.verdict == FixVerdict::kTeleport;
  if (current) {
    // A backlog report carries the state and battery of hours ago; a future-stamped
    // one cannot be ordered. Only reports at least as new as the live fix say "now".
    if (e.state != t.state) {
      e.state = t.state;
      visible = true;
    }
    if (t.battery_pct && e.battery_pct != t.battery_pct) {
      e.battery_pct = t.battery_pct;
      visible = true;
    }
  }
  if (d.verdict == FixVerdict::kLive) {
    e.fix_received_ms = now_ms;
    visible = true;
  }
  const bool frozen = e.filter.repeats() >= options_.frozen_repeats;
  const Presence before = e.presence;
  set_presence(e, frozen ? Presence::kGpsFrozen : Presence::kOnline, now_ms, out);
  if (e.presence != before) visible = true;
  if (visible) maybe_emit(e, now, out.update);
  return out;
}

ApplyResult RunnerRegistry::apply_status(const wire::RunnerStatus& s) {
  ApplyResult out;
  const MonoTime now = clock_.mono_now();
  const std::int64_t now_ms = to_unix_ms(clock_.wall_now());
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = runners_.find(s.runner_id);
  if (it == runners_.end()) return out;
  Entry& e = it->second;
  out.known = true;
  e.last_seen_ms = now_ms;
  bool visible = false;
  if (s.battery_pct && e.battery_pct != s.battery_pct) {
    e.battery_pct = s.battery_pct;
    visible = true;
  }
  if (s.app_version && e.app_version != s.app_version) {
    e.app_version = s.app_version;
    visible = true;
  }
  const Presence before = e.presence;
  if (s.status == wire::RunnerPresence::kOnline) {
    e.heard = true;
    e.last_heard = now;
    const bool frozen = e.filter.repeats() >= options_.frozen_repeats;
    set_presence(e, frozen ? Presence::kGpsFrozen : Presence::kOnline, now_ms, out);
  } else {
    set_presence(e, Presence::kOffline, now_ms, out);
  }
  if (e.presence != before) visible = true;
  if (visible) maybe_emit(e, now, out.update);
  return out;
}

TickResult RunnerRegistry::tick() {
  TickResult out;
  const MonoTime now = clock_.mono_now();
  const std::int64_t now_ms = to_unix_ms(clock_.wall_now());
  shopeasy::sync::MutexLock lock(mutex_);
  for (auto& [id, e] : runners_) {
    const bool live = e.presence == Presence::kOnline || e.presence == Presence::kGpsFrozen;
    if (live && e.heard && now - e.last_heard >= stale_after_) {
      out.presence.push_back(PresenceChange{e.id, e.presence, Presence::kStale, now_ms});
      e.presence = Presence::kStale;
      std::optional<RunnerView> update;
      maybe_emit(e, now, update);
      if (update) out.updates.push_back(std::move(*update));
    } else if (e.update_pending && now - e.last_emit >= update_interval_) {
      e.update_pending = false;
      e.last_emit = now;
      out.updates.push_back(view(e));
    }
    ++out.by_presence[static_cast<std::size_t>(e.presence)];
  }
  return out;
}

std::vector<RunnerView> RunnerRegistry::snapshot() const {
  std::vector<RunnerView> out;
  {
    shopeasy::sync::MutexLock lock(mutex_);
    out.reserve(runners_.size());
    for (const auto& [id, e] : runners_) out.push_back(view(e));
  }
  std::sort(out.begin(), out.end(),
            [](const RunnerView& a, const RunnerView& b) { return a.id < b.id; });
  return out;
}

std::optional<RunnerView> RunnerRegistry::find(std::string_view id) const {
  shopeasy::sync::MutexLock lock(mutex_);
  auto it = runners_.find(id);
  if (it == runners_.end()) return std::nullopt;
  return view(it->second);
}

}  // namespace shopeasy::edge::telemetry
