// SdNotifier: tells systemd how a Type=notify service is doing, by sending the
// sd_notify(3) protocol's datagrams to the unix socket named in $NOTIFY_SOCKET:
// READY=1 once the daemon serves, STATUS=<text> for `systemctl status`, WATCHDOG=1
// pings (which must come more often than $WATCHDOG_USEC or systemd restarts the
// service), RELOADING=1 and STOPPING=1. Outside systemd (no NOTIFY_SOCKET) every call
// is a no-op that succeeds, so a daemon calls it unconditionally. No libsystemd is
// needed. Thread-safe: each message is one datagram on a socket opened once.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::service {

class SdNotifier {
 public:
  // A notifier that does nothing (enabled() false).
  SdNotifier() = default;
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` (pass
  // config::process_environment()). `pid` is this process's id, to honour WATCHDOG_PID
  // (the watchdog is meant for another process when it differs). A NOTIFY_SOCKET that
  // is absent or empty gives a disabled notifier. kInvalidArgument for a socket address
  // that is neither an absolute path nor "@abstract", or too long for a unix address;
  // kUnavailable if the socket cannot be created.
  static StatusOr<SdNotifier> from_environment(const std::map<std::string, std::string>& env,
                                               int pid);

  SdNotifier(SdNotifier&& other) noexcept;
  SdNotifier& operator=(SdNotifier&& other) noexcept;
  SdNotifier(const SdNotifier&) = delete;
  SdNotifier& operator=(const SdNotifier&) = delete;
  ~SdNotifier();

  // Whether messages go anywhere.
  bool enabled() const { return fd_ >= 0; }

  // Sends `state`, newline-separated VAR=value assignments, as one datagram.
  // kInvalidArgument for an empty state or one over 4 KiB; kUnavailable when the
  // socket refuses it (systemd gone or its queue full). OK and nothing sent when
  // disabled.
  Status notify(std::string_view state) const;
  // READY=1, with STATUS=<status> when non-empty.
  Status ready(std::string_view status = {}) const;
  // STATUS=<text>; newlines in `text` are replaced by spaces.
  Status status(std::string_view text) const;
  // WATCHDOG=1.
  Status watchdog() const;
  // RELOADING=1 with MONOTONIC_USEC (as systemd >= 253 requires); send ready() after.
  Status reloading() const;
  // STOPPING=1.
  Status stopping() const;

  // The watchdog timeout systemd enforces on this process, if any.
  std::optional<std::chrono::microseconds> watchdog_timeout() const { return watchdog_; }
  // How often to call watchdog(): half the timeout, as sd_watchdog_enabled(3) advises.
  std::optional<std::chrono::microseconds> watchdog_interval() const;

 private:
  int fd_ = -1;
  std::string address_;  // sockaddr_un path bytes; leading '\0' for an abstract socket
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace shopeasy::service
