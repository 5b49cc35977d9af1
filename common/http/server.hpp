// HttpServer: the staff and customer APIs' server. Routes are lambdas by verb and
// path pattern (a regular expression whose groups become Request::params), each with
// an Access rule checked before the handler runs, and before a request body is read:
// an unauthenticated client cannot make the server read, inflate or buffer anything
// but headers. The server bounds the request head (bytes and time), the body (bytes
// on the wire, bytes after decompression, arrival rate), caps event streams overall
// and per client on threads of their own, answers every error in the one JSON error
// shape, counts requests per route, known method and status in the metrics registry,
// and never lets a handler's exception escape. cpp-httplib stays inside server.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/auth.hpp"
#include "common/http/types.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"

namespace shopeasy::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port; start() returns it
  // Handlers running at once; further requests wait for one to finish. Connections
  // themselves are cheap (see max_connections), so slow or idle clients do not count.
  std::size_t threads = 16;
  // Connections served at once, each on a thread that mostly waits (keep-alive, a slow
  // client's head, an event stream); further connections wait to be served.
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = 1 << 20;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds write_timeout{10};
  std::chrono::seconds keep_alive_timeout{5};
  // Concurrent streamed (SSE) responses. A stream holds its connection's thread, never
  // a handler slot, so open streams cannot starve the API.
  std::size_t max_streams = 16;
  // Concurrent streams one principal (token, user, customer) may hold.
  std::size_t max_streams_per_client = 4;
  // Sum of request header names and values above this is refused with 431; the head
  // as sent (request line, headers, line ends) may be at most this plus 8 KiB, and a
  // connection sending more is answered 431 and closed.
  std::size_t max_header_bytes = 16 * 1024;
  // After a grace of read_timeout, a request body must arrive at least this fast.
  std::size_t min_body_bytes_per_s = 16 * 1024;
  // Serve HTTPS with this PEM certificate chain and private key (both or neither).
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Who may call a route.
struct Access {
  bool is_public = false;
  // Public, but a caller presenting a valid credential is identified (Request::principal
  // set) so the handler can show it more; a bad credential is ignored, not refused.
  bool identify = false;
  std::vector<std::string> roles;  // empty: any authenticated principal
  // Non-empty: a successful call (status below 400) is reported to the audit sink under
  // this action name ("stock.adjust", "user.add", ...).
  std::string audit_action;

  static Access public_route() { return Access{true, false, {}, {}}; }
  static Access public_identified() { return Access{true, true, {}, {}}; }
  static Access authenticated() { return Access{false, false, {}, {}}; }
  static Access roles_of(std::vector<std::string> allowed) {
    return Access{false, false, std::move(allowed), {}};
  }
  Access audited(std::string action) && {
    audit_action = std::move(action);
    return std::move(*this);
  }
};

// How a route takes its request body.
struct BodyOptions {
  // Accept `Content-Encoding: gzip` (inflated as it is read, the inflated size bounded
  // by max_body_bytes). Every other route refuses encoded bodies with 415 unread.
  bool accept_gzip = false;
};

using Handler = std::function<Response(const Request&)>;

// A registered route as route() was given it, for listings (logs, contract checks).
struct RouteInfo {
  std::string method;
  std::string pattern;
  Access access;
};
// Runs before every handler, after authentication (principal set for non-public
// routes): returns a response to refuse the request (e.g. 429 from a rate limiter) or
// nullopt to let it through. Must be thread-safe.
using Admission = std::function<std::optional<Response>(const Request&)>;
// Told about every successful call of an audited route. Must be thread-safe.
using AuditSink =
    std::function<void(const Request&, const Response&, std::string_view audit_action)>;

class HttpServer {
 public:
  // `auth` may be null only if every route is public; it and `metrics` must outlive
  // the server.
  HttpServer(ServerOptions options, const Authenticator* auth, log::Logger logger,
             metrics::Registry& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a route; call before start(). `method` is GET, POST, PUT, PATCH or
  // DELETE; `pattern` must match the whole path.
  void route(std::string_view method, std::string pattern, Access access, Handler handler,
             BodyOptions body = {});

  // Every route registered so far, in registration order. Read-only; call it once
  // registration is over (route() is not synchronised with it).
  std::vector<RouteInfo> routes() const;

  // Call before start().
  void set_admission(Admission admission) { admission_ = std::move(admission); }
  void set_audit_sink(AuditSink sink) { audit_sink_ = std::move(sink); }
  // Swaps the authenticator (e.g. new tokens after a configuration reload); requests in
  // flight finish with the old one, which must stay alive until the server stops.
  void set_authenticator(const Authenticator* auth) { auth_.store(auth); }
  // Binds the listening address without serving yet (idempotent), so routes that need
  // the bound port can be added before start(). kUnavailable when the address cannot
  // be bound. Returns the bound port.
  StatusOr<int> bind();
  // Binds (unless bind() did) and starts serving on background threads. Returns the
  // bound port; errors as bind().
  StatusOr<int> start();
  // Stops accepting, ends streams and joins the workers. Idempotent.
  void stop();

  int port() const { return port_; }
  const std::string& host() const { return options_.host; }
  // True while stop() has not been called; stream producers poll it.
  bool running() const { return !stopping_.load(); }

 private:
  struct Impl;
  // Headers, authentication, roles and admission, before any body is read: a response
  // when the request is refused, nullopt to go on.
  std::optional<Response> admit(const Access& access, Request& request);
  // Runs the handler (exceptions become 500) and reports audited calls.
  Response invoke(const Handler& handler, const Access& access, const Request& request);
  // One route's metric children, found once rather than per request (defined in the .cpp).
  struct RouteMetrics;
  // Turns `response` into the library's, opening a stream when it has one, and counts it.
  void respond(RouteMetrics& metrics, const Request& request, Response response,
               std::chrono::steady_clock::time_point started, void* library_response);
  // For requests no route takes; decides before the body is read.
  bool refuse_unrouted(const void* library_request, void* library_response);

  ServerOptions options_;
  std::atomic<const Authenticator*> auth_;
  Admission admission_;
  AuditSink audit_sink_;
  log::Logger logger_;
  metrics::Registry& metrics_;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> active_streams_{0};
  int port_ = 0;
  int listen_fd_ = -1;                    // the listening socket, once bound
  metrics::CallbackGauge streams_gauge_;  // last: unregistered before the rest goes
};

}  // namespace shopeasy::http
