#include "common/http/server.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <map>
#include <regex>
#include <thread>

#include "common/http/connection.hpp"
#include "common/http/elastic_pool.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::http {

namespace {

using internal::Connection;
using internal::ConnectionLimits;
using internal::ReadRefusal;

// The connection the calling worker thread is serving, so handlers can ask for it to
// close and error answers can say why a read stopped. Set only while a request runs.
thread_local Connection* current_connection = nullptr;

// Metric label for a request method: only the verbs the API knows, so a client
// inventing methods cannot add label values (each one a series kept for ever).
std::string method_label(std::string_view method) {
  static constexpr std::string_view kKnown[] = {"GET",   "HEAD",   "POST",   "PUT",
                                                "PATCH", "DELETE", "OPTIONS"};
  for (std::string_view known : kKnown) {
    if (method == known) return std::string(known);
  }
  return "other";
}

bool method_takes_body(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// Whether the request announces a body (the library reads one only for the methods
// above; for others the bytes would be parsed as the next request).
bool announces_body(const httplib::Request& in) {
  if (in.has_header("Transfer-Encoding")) return true;
  return in.has_header("Content-Length") && in.get_header_value("Content-Length") != "0";
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// What a connection's read refusal means to the client.
Status refusal_status(ReadRefusal why, const ServerOptions& o) {
  switch (why) {
    case ReadRefusal::kHeadTooLarge:
      return Status(
          StatusCode::kPayloadTooLarge,
          "request line and headers exceed " + std::to_string(o.max_header_bytes) + " bytes");
    case ReadRefusal::kHeadTooSlow:
      return Status(
          StatusCode::kDeadlineExceeded,
          "request headers not complete within " + std::to_string(o.read_timeout.count()) + " s");
    case ReadRefusal::kBodyTooLarge:
      return Status(StatusCode::kPayloadTooLarge,
                    "request body exceeds " + std::to_string(o.max_body_bytes) + " bytes");
    case ReadRefusal::kBodyTooSlow:
      return Status(StatusCode::kDeadlineExceeded, "request body arriving slower than " +
                                                       std::to_string(o.min_body_bytes_per_s) +
                                                       " bytes/s");
    case ReadRefusal::kNone:
      break;
  }
  return invalid_argument("malformed HTTP request");
}

int refusal_http_status(ReadRefusal why) {
  switch (why) {
    case ReadRefusal::kHeadTooLarge:
      return 431;
    case ReadRefusal::kHeadTooSlow:
    case ReadRefusal::kBodyTooSlow:
      return 408;
    case ReadRefusal::kBodyTooLarge:
      return 413;
    case ReadRefusal::kNone:
      break;
  }
  return 400;
}

std::string_view refusal_name(ReadRefusal why) {
  switch (why) {
    case ReadRefusal::kHeadTooLarge:
      return "head_too_large";
    case ReadRefusal::kHeadTooSlow:
      return "head_too_slow";
    case ReadRefusal::kBodyTooLarge:
      return "body_too_large";
    case ReadRefusal::kBodyTooSlow:
      return "body_too_slow";
    case ReadRefusal::kNone:
      break;
  }
  return "none";
}

// The library's server with our own connection loop: each accepted socket is served
// through a Connection that enforces the limits the library lacks (see
// connection.hpp), over plain TCP or TLS.
class BoundedServer final : public httplib::Server {
 public:
  BoundedServer(ConnectionLimits limits, SSL_CTX* tls, std::chrono::seconds keep_alive)
      : limits_(limits), tls_(tls), keep_alive_(keep_alive) {
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
  }
  ~BoundedServer() override {
    if (tls_ != nullptr) SSL_CTX_free(tls_);
    for (int fd : stop_pipe_) {
      if (fd >= 0) ::close(fd);
    }
  }
  // Ends every connection's waits (idle keep-alive, a slow head) so stop() returns
  // without waiting out their timeouts. The pipe is never read: it stays readable.
  void wake_connections() {
    if (stop_pipe_[1] >= 0) {
      const char byte = 1;
      [[maybe_unused]] const auto written = ::write(stop_pipe_[1], &byte, 1);
    }
  }
  // Called with every read that stopped at a limit, before the answer is written.
  std::function<void(ReadRefusal)> on_refusal;

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionLimits limits_;
  SSL_CTX* tls_;
  std::chrono::seconds keep_alive_;
  int stop_pipe_[2] = {-1, -1};
};

bool BoundedServer::process_and_close_socket(socket_t sock) {
  // Each blocking read or write also gives up after its timeout (a TLS record can
  // block inside the library between polls).
  timeval rcv{static_cast<time_t>(limits_.read_timeout.count() / 1000),
              static_cast<suseconds_t>((limits_.read_timeout.count() % 1000) * 1000)};
  timeval snd{static_cast<time_t>(limits_.write_timeout.count() / 1000),
              static_cast<suseconds_t>((limits_.write_timeout.count() % 1000) * 1000)};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
  ::setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);

  SSL* ssl = nullptr;
  bool ready = true;
  bool linger = false;  // the connection ends with a request's bytes possibly unread
  if (tls_ != nullptr) {
    ssl = SSL_new(tls_);
    ready = ssl != nullptr && SSL_set_fd(ssl, sock) == 1 && SSL_accept(ssl) == 1;
  }
  if (ready) {
    Connection connection(sock, ssl, stop_pipe_[0], limits_);
    current_connection = &connection;
    const auto keep_alive = std::chrono::duration_cast<std::chrono::milliseconds>(keep_alive_);
    bool first = true;
    while (is_running()) {
      if (!connection.begin_request(first ? limits_.read_timeout : keep_alive)) break;
      first = false;
      bool closed = false;
      const bool served = process_request(connection, !is_running(), closed, nullptr);
      if (connection.refusal() != ReadRefusal::kNone && on_refusal) {
        on_refusal(connection.refusal());
      }
      if (!served || closed || connection.should_close()) {
        linger = connection.should_close();
        break;
      }
    }
    current_connection = nullptr;
  }
  if (ssl != nullptr) {
    if (ready) SSL_shutdown(ssl);
    SSL_free(ssl);
  }
  if (linger) {
    // Closing with unread bytes queued makes the kernel send a reset, and a reset can
    // destroy the answer before the client reads it (a 413 would look like a dropped
    // connection). Stop sending, then read and discard for a short while: enough for a
    // client that reads its answer, bounded for one that keeps sending.
    ::shutdown(sock, SHUT_WR);
    char sink[16 * 1024];
    std::size_t drained = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (drained < (1u << 20) && std::chrono::steady_clock::now() < until) {
      pollfd p{sock, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) break;
      const ssize_t n = ::recv(sock, sink, sizeof sink, 0);
      if (n <= 0) break;
      drained += static_cast<std::size_t>(n);
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return true;
}

// An SSL_CTX serving `cert_file` (PEM chain) with `key_file`; null when either cannot
// be loaded or they do not belong together.
SSL_CTX* make_tls_context(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

class SinkWriter final : public StreamWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view data) override {
    if (!ok_) return false;
    ok_ = sink_.is_writable() && sink_.write(data.data(), data.size());
    return ok_;
  }
  bool ok() const { return ok_; }

 private:
  httplib::DataSink& sink_;
  bool ok_ = true;
};

Request to_request(const httplib::Request& in) {
  Request r;
  r.method = in.method;
  r.path = in.path;
  r.body = in.body;
  r.remote_addr = in.remote_addr;
  for (const auto& [k, v] : in.headers) r.headers.emplace(k, v);
  for (const auto& [k, v] : in.params) r.query.emplace(k, v);
  for (std::size_t i = 1; i < in.matches.size(); ++i) r.params.push_back(in.matches[i]);
  return r;
}

}  // namespace

struct HttpServer::Impl {
  // A route that takes a body, for deciding about a request before its body is read.
  struct BodyRoute {
    std::string method;
    std::regex pattern;
    BodyOptions options;
  };

  std::unique_ptr<BoundedServer> owned;
  BoundedServer& server;
  // Every route() call's method, pattern and access, for routes(). Written only while
  // routes are registered (before start()), so it needs no lock.
  std::vector<RouteInfo> registered;
  Status setup_error;  // a TLS certificate or key that could not be loaded
  explicit Impl(const ServerOptions& o) : owned(make_server(o, setup_error)), server(*owned) {}
  static ConnectionLimits limits_for(const ServerOptions& o) {
    ConnectionLimits l;
    // Headers as counted by the server plus the request line and line ends.
    l.max_head_bytes = o.max_header_bytes + 8 * 1024;
    l.head_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(o.read_timeout);
    // Chunk framing and gzip's header add a little to the body on the wire.
    l.max_body_bytes = o.max_body_bytes + o.max_body_bytes / 16 + 64 * 1024;
    l.read_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.read_timeout);
    l.write_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.write_timeout);
    l.min_body_bytes_per_s = o.min_body_bytes_per_s;
    return l;
  }
  static std::unique_ptr<BoundedServer> make_server(const ServerOptions& o, Status& error) {
    SSL_CTX* tls = nullptr;
    if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
      if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
        error =
            invalid_argument("a TLS certificate needs its key and the key its certificate",
                             o.tls_cert_file.empty() ? "http.tls_cert_file" : "http.tls_key_file");
      } else {
        tls = make_tls_context(o.tls_cert_file, o.tls_key_file);
        if (tls == nullptr) {
          error =
              invalid_argument("cannot load the TLS certificate " + o.tls_cert_file + " with key " +
                                   o.tls_key_file + " (unreadable, not PEM, or not a pair)",
                               "http.tls_cert_file");
        }
      }
    }
    return std::make_unique<BoundedServer>(limits_for(o), tls, o.keep_alive_timeout);
  }

  // The route taking a body that `method` `path` would reach; null when none would.
  const BodyRoute* body_route(const std::string& method, const std::string& path) const {
    for (const auto& r : body_routes) {
      if (r.method == method && std::regex_match(path, r.pattern)) return &r;
    }
    return nullptr;
  }

  std::thread listener;
  std::vector<BodyRoute> body_routes;  // filled by route(), read-only after start()
  metrics::CounterFamily* requests = nullptr;
  metrics::HistogramFamily* latency = nullptr;
  metrics::CounterFamily* refused_reads = nullptr;
  metrics::Counter* rejected_streams = nullptr;
  metrics::Counter* audit_records = nullptr;
  metrics::Counter* auth_failures = nullptr;

  // Handler slots: at most ServerOptions::threads handlers run at once.
  sync::Mutex slots_mu;
  sync::CondVar slot_freed;
  std::size_t busy_slots GUARDED_BY(slots_mu) = 0;

  sync::Mutex streams_mu;
  std::map<std::string, std::size_t> streams_by_principal GUARDED_BY(streams_mu);
};

// A route's request counters and latency histogram. Looking a child up by its labels
// takes the registry's lock and builds the label strings; a busy server would do that
// twice per request and contend with every /metrics scrape, so each route finds its
// histogram once and each (method, status) counter the first time it is used.
struct HttpServer::RouteMetrics {
  static constexpr int kFirstStatus = 100;
  static constexpr int kStatuses = 500;  // 100..599; anything else is looked up each time

  RouteMetrics(Impl& impl, std::string route_pattern, std::string route_method)
      : pattern(std::move(route_pattern)),
        method(std::move(route_method)),
        requests(*impl.requests),
        latency(impl.latency->with({pattern})) {}

  metrics::Counter& counter(const std::string& request_method, int status) {
    const bool own = request_method == method;  // else HEAD on a GET route, or similar
    const int i = status - kFirstStatus;
    if (!own || i < 0 || i >= kStatuses) {
      return requests.with({pattern, method_label(request_method), std::to_string(status)});
    }
    std::atomic<metrics::Counter*>& slot = by_status[static_cast<std::size_t>(i)];
    metrics::Counter* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
      // Two threads may both look it up; they find the same child.
      c = &requests.with({pattern, method_label(method), std::to_string(status)});
      slot.store(c, std::memory_order_release);
    }
    return *c;
  }

  const std::string pattern;
  const std::string method;
  metrics::CounterFamily& requests;
  metrics::Histogram& latency;
  std::array<std::atomic<metrics::Counter*>, kStatuses> by_status{};
};

HttpServer::HttpServer(ServerOptions options, const Authenticator* auth, log::Logger logger,
                       metrics::Registry& metrics)
    : options_(std::move(options)),
      auth_(auth),
      logger_(std::move(logger)),
      metrics_(metrics),
      impl_(std::make_unique<Impl>(options_)) {
  impl_->requests = &metrics_.counter_family(
      "http_requests_total", "HTTP requests by route, method (unknown ones as 'other') and status",
      {"route", "method", "code"});
  impl_->latency = &metrics_.histogram_family("http_request_duration_seconds",
                                              "Time to produce an HTTP response, by route",
                                              metrics::default_latency_buckets(), {"route"});
  impl_->refused_reads = &metrics_.counter_family(
      "http_requests_cut_total",
      "Requests whose reading stopped at a limit (head size or time, body size or rate); "
      "the connection is closed",
      {"reason"});
  impl_->rejected_streams = &metrics_.counter(
      "http_streams_rejected_total",
      "Event streams refused because the overall or per-client stream cap was reached");
  impl_->auth_failures = &metrics_.counter(
      "http_auth_failures_total", "Requests refused because their credential was missing or bad");
  impl_->audit_records = &metrics_.counter(
      "http_audited_calls_total", "Successful calls of audited routes reported to the audit log");
  streams_gauge_ = metrics_.gauge_fn("http_streams_active", "Open event streams", [this] {
    return static_cast<double>(active_streams_.load());
  });

  auto& s = impl_->server;
  // One thread per connection (idle, slow and streaming ones mostly wait); the work is
  // bounded by the handler slots instead.
  const std::size_t connections =
      std::max(options_.max_connections, options_.threads + options_.max_streams);
  s.new_task_queue = [connections] { return new internal::ElasticPool(connections); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(options_.read_timeout);
  s.set_write_timeout(options_.write_timeout);
  s.set_keep_alive_timeout(options_.keep_alive_timeout.count());
  s.set_tcp_nodelay(true);
  s.on_refusal = [this](ReadRefusal why) {
    impl_->refused_reads->with({std::string(refusal_name(why))}).inc();
  };
  // The library's default also sets SO_REUSEPORT, which would let a second daemon
  // bind the same port silently and steal half the connections.
  s.set_socket_options([this](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });
  // Decide about requests no route takes, and about bodies no route wants, before the
  // library reads (and inflates) their bodies.
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return refuse_unrouted(&req, &res) ? httplib::Server::HandlerResponse::Handled
                                       : httplib::Server::HandlerResponse::Unhandled;
  });
  // Errors produced by the library itself (no such route, a read that stopped at a
  // limit) get the project's error shape too.
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Status st;
    const ReadRefusal refusal =
        current_connection != nullptr ? current_connection->refusal() : ReadRefusal::kNone;
    if (refusal != ReadRefusal::kNone) {
      st = refusal_status(refusal, options_);
      res.status = refusal_http_status(refusal);
      res.set_header("Connection", "close");
    } else {
      switch (res.status) {
        case 404:
          st = not_found("no route for " + method_label(req.method) + " " + req.path);
          break;
        case 413:
          st = Status(StatusCode::kPayloadTooLarge,
                      "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
          break;
        case 415:
          st = Status(StatusCode::kUnsupportedMediaType, "unsupported Content-Encoding");
          break;
        case 414:
          // The library's own bound on the request target; named so a client (a search
          // box sending a pasted page) learns what to shorten.
          st = Status(
              StatusCode::kPayloadTooLarge,
              "request URI exceeds " + std::to_string(CPPHTTPLIB_REQUEST_URI_MAX_LENGTH) + " bytes",
              "uri");
          break;
        case 400:
          // After a request the library could not parse, nothing on the connection
          // can be framed reliably (a bad request line leaves its headers unread).
          st = invalid_argument("malformed HTTP request");
          res.set_header("Connection", "close");
          if (current_connection != nullptr) current_connection->close_after_response();
          break;
        default:
          st = Status(StatusCode::kInternal, "HTTP " + std::to_string(res.status));
          break;
      }
    }
    res.set_content(error_body(st), "application/json");
    impl_->requests->with({"unmatched", method_label(req.method), std::to_string(res.status)})
        .inc();
  });
  s.set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                 std::exception_ptr) {
    logger_.error("handler_exception", {{"method", method_label(req.method)}, {"path", req.path}});
    res.status = 500;
    res.set_content(error_body(internal_error("unexpected error")), "application/json");
  });
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::refuse_unrouted(const void* library_request, void* library_response) {
  const auto& in = *static_cast<const httplib::Request*>(library_request);
  auto& out = *static_cast<httplib::Response*>(library_response);
  Status refusal;
  if (method_takes_body(in.method)) {
    // Routes taking a body read it themselves after authentication; for a path no route
    // takes, the library would read the body only to answer 404. A plain body with a
    // declared length is bounded by the cap, so the route lookup (a regular expression
    // per route, on the hot path of every scan) is made only for bodies that are
    // encoded (unbounded once inflated) or of unknown length.
    const bool bounded = in.has_header("Content-Length") && !in.has_header("Content-Encoding");
    if (bounded || impl_->body_route(in.method, in.path) != nullptr) return false;
    refusal = not_found("no route for " + in.method + " " + in.path);
  } else if (announces_body(in)) {
    // A body on GET or HEAD is never read, so its bytes would be taken for the next
    // request on the connection.
    refusal = invalid_argument("a " + method_label(in.method) + " request carries no body");
  } else {
    return false;
  }
  out.status = http_status_for(refusal.code());
  out.set_header("Connection", "close");
  out.set_content(error_body(refusal), "application/json");
  if (current_connection != nullptr) current_connection->close_after_response();
  impl_->requests->with({"unmatched", method_label(in.method), std::to_string(out.status)}).inc();
  return true;
}

std::optional<Response> HttpServer::admit(const Access& access, Request& request) {
  std::size_t header_bytes = 0;
  for (const auto& [name, value] : request.headers) header_bytes += name.size() + value.size() + 4;
  if (header_bytes > options_.max_header_bytes) {
    Response too_large = Response::error(
        Status(StatusCode::kPayloadTooLarge,
               "request headers exceed " + std::to_string(options_.max_header_bytes) + " bytes"));
    too_large.status = 431;  // Request Header Fields Too Large (RFC 6585)
    return too_large;
  }
  const Authenticator* auth = auth_.load();
  if (access.is_public && access.identify && auth != nullptr) {
    if (auto principal = auth->authenticate(request); principal.ok()) {
      request.principal = std::move(*principal);
    }
  }
  if (!access.is_public) {
    if (auth == nullptr) return Response::error(internal_error("no authenticator configured"));
    auto principal = auth->authenticate(request);
    if (!principal.ok()) {
      impl_->auth_failures->inc();
      // Failed attempts spend the caller's rate budget too (keyed by its address, as
      // it has no principal), so guessing credentials is as slow as any other call.
      if (admission_) {
        if (auto refused = admission_(request)) return refused;
      }
      return Response::error(principal.status())
          .with_header("WWW-Authenticate", "Bearer realm=\"shopeasy\"");
    }
    request.principal = std::move(*principal);
    if (!access.roles.empty() && std::find(access.roles.begin(), access.roles.end(),
                                           request.principal.role) == access.roles.end()) {
      return Response::error(Status(
          StatusCode::kPermissionDenied,
          "role '" + request.principal.role + "' may not " + request.method + " " + request.path));
    }
  }
  if (admission_) {
    if (auto refused = admission_(request)) return refused;
  }
  return std::nullopt;
}

Response HttpServer::invoke(const Handler& handler, const Access& access, const Request& request) {
  const std::size_t slots = std::max<std::size_t>(1, options_.threads);
  {
    sync::MutexLock lock(impl_->slots_mu);
    while (impl_->busy_slots >= slots) impl_->slot_freed.wait(impl_->slots_mu);
    ++impl_->busy_slots;
  }
  struct SlotRelease {
    Impl& impl;
    ~SlotRelease() {
      sync::MutexLock lock(impl.slots_mu);
      --impl.busy_slots;
      impl.slot_freed.notify_one();
    }
  } release{*impl_};
  try {
    Response response = handler(request);
    if (!access.audit_action.empty() && audit_sink_ && response.status < 400) {
      impl_->audit_records->inc();
      audit_sink_(request, response, access.audit_action);
    }
    return response;
  } catch (const std::exception& e) {
    logger_.error("handler_exception",
                  {{"method", request.method}, {"path", request.path}, {"what", e.what()}});
    return Response::error(internal_error("unexpected error"));
  }
}

void HttpServer::respond(RouteMetrics& metrics, const Request& request, Response response,
                         std::chrono::steady_clock::time_point started, void* library_response) {
  auto& out = *static_cast<httplib::Response*>(library_response);
  out.status = response.status;
  for (auto& [k, v] : response.headers) out.set_header(k, v);
  if (response.stream && response.status < 300) {
    // One principal may hold only a few streams, so one viewer or customer cannot
    // take every stream slot; public streams count under the client's address.
    const std::string holder = request.principal.authenticated()
                                   ? request.principal.role + ":" + request.principal.subject
                                   : "addr:" + request.remote_addr;
    bool admitted = false;
    {
      sync::MutexLock lock(impl_->streams_mu);
      std::size_t& held = impl_->streams_by_principal[holder];
      if (active_streams_.load() < options_.max_streams && held < options_.max_streams_per_client) {
        ++held;
        ++active_streams_;
        admitted = true;
      } else if (held == 0) {
        impl_->streams_by_principal.erase(holder);
      }
    }
    if (!admitted) {
      impl_->rejected_streams->inc();
      const Status busy(StatusCode::kResourceExhausted, "too many open event streams");
      out.status = http_status_for(busy.code());
      out.set_header("Retry-After", "5");
      out.set_content(error_body(busy), "application/json");
    } else {
      out.set_header("Cache-Control", "no-cache");
      out.set_header("X-Accel-Buffering", "no");
      out.set_chunked_content_provider(
          response.content_type,
          [this, stream = std::move(response.stream)](std::size_t, httplib::DataSink& sink) {
            SinkWriter writer(sink);
            if (stopping_.load() || !stream(writer)) {
              sink.done();
              return true;
            }
            return writer.ok();
          },
          [this, holder](bool) {
            sync::MutexLock lock(impl_->streams_mu);
            auto it = impl_->streams_by_principal.find(holder);
            if (it != impl_->streams_by_principal.end() && --it->second == 0) {
              impl_->streams_by_principal.erase(it);
            }
            --active_streams_;
          });
    }
  } else {
    out.set_content(std::move(response.body), response.content_type);
  }

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics.counter(request.method, out.status).inc();
  metrics.latency.observe(seconds);
  if (out.status >= 500) {
    logger_.warn("request_failed", {{"method", request.method},
                                    {"path", request.path},
                                    {"status", out.status},
                                    {"remote", request.remote_addr}});
  } else if (logger_.enabled(log::Level::kDebug)) {
    logger_.debug("request", {{"method", request.method},
                              {"path", request.path},
                              {"status", out.status},
                              {"principal", request.principal.subject},
                              {"seconds", seconds}});
  }
}

std::vector<RouteInfo> HttpServer::routes() const { return impl_->registered; }

void HttpServer::route(std::string_view method, std::string pattern, Access access, Handler handler,
                       BodyOptions body) {
  auto& s = impl_->server;
  impl_->registered.push_back(RouteInfo{std::string(method), pattern, access});
  auto route_metrics = std::make_shared<RouteMetrics>(*impl_, pattern, std::string(method));
  if (method == "GET" || method == "HEAD") {
    auto wrapped = [this, route_metrics, access = std::move(access), handler = std::move(handler)](
                       const httplib::Request& in, httplib::Response& out) {
      const auto started = std::chrono::steady_clock::now();
      Request request = to_request(in);
      std::optional<Response> refused = admit(access, request);
      respond(*route_metrics, request,
              refused ? std::move(*refused) : invoke(handler, access, request), started, &out);
    };
    s.Get(pattern, wrapped);
    return;
  }
  if (!method_takes_body(method)) {
    logger_.error("bad_route_method", {{"method", method}, {"pattern", pattern}});
    std::abort();  // a programming error in route registration
  }
  impl_->body_routes.push_back(Impl::BodyRoute{std::string(method), std::regex(pattern), body});
  // The body is read here, after authentication and admission, never by the library
  // up front: a refused request has cost its headers only.
  auto wrapped = [this, route_metrics, access = std::move(access), handler = std::move(handler),
                  body](const httplib::Request& in, httplib::Response& out,
                        const httplib::ContentReader& reader) {
    const auto started = std::chrono::steady_clock::now();
    Request request = to_request(in);
    // The declared size is checked first: it costs nothing and needs no identity.
    std::optional<Response> refused;
    if (in.has_header("Content-Length")) {
      // A declared length past the cap is refused without reading a byte of it.
      const std::string declared = in.get_header_value("Content-Length");
      std::size_t length = 0;
      const bool numeric = !declared.empty() && declared.size() <= 19 &&
                           std::all_of(declared.begin(), declared.end(),
                                       [](char c) { return c >= '0' && c <= '9'; });
      if (!numeric) {
        refused = Response::error(invalid_argument("Content-Length is not a number"));
      } else if ((length = std::stoull(declared)) > options_.max_body_bytes) {
        refused = Response::error(Status(StatusCode::kPayloadTooLarge,
                                         "request body of " + declared + " bytes exceeds " +
                                             std::to_string(options_.max_body_bytes) + " bytes"));
      }
    }
    if (!refused) refused = admit(access, request);
    if (!refused) {
      const std::string encoding = lower(in.get_header_value("Content-Encoding"));
      if (!encoding.empty() && encoding != "identity" &&
          !(encoding == "gzip" && body.accept_gzip)) {
        refused = Response::error(
            Status(StatusCode::kUnsupportedMediaType,
                   "Content-Encoding '" + encoding + "' is not accepted on this route" +
                       (body.accept_gzip ? " (gzip is)" : " (send the body unencoded)")));
      }
    }
    if (!refused && announces_body(in)) {
      bool too_large = false;
      // The library inflates gzip as it reads; the cap applies to what it hands over.
      const bool read = reader([&](const char* data, std::size_t n) {
        if (request.body.size() + n > options_.max_body_bytes) {
          too_large = true;
          return false;
        }
        request.body.append(data, n);
        return true;
      });
      if (!read) {
        const ReadRefusal cut =
            current_connection != nullptr ? current_connection->refusal() : ReadRefusal::kNone;
        Status st;
        if (too_large || out.status == 413) {
          st = Status(StatusCode::kPayloadTooLarge,
                      "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes" +
                          (in.has_header("Content-Encoding") ? " once decoded" : ""));
        } else if (cut != ReadRefusal::kNone) {
          st = refusal_status(cut, options_);
        } else {
          st = invalid_argument("the request body could not be read (cut short or badly encoded)");
        }
        refused = Response::error(st);
        if (cut != ReadRefusal::kNone) refused->status = refusal_http_status(cut);
      }
    }
    if (refused) {
      // Whatever of the body is still unread must not be taken for another request.
      if (current_connection != nullptr) current_connection->close_after_response();
      refused->with_header("Connection", "close");
    }
    respond(*route_metrics, request,
            refused ? std::move(*refused) : invoke(handler, access, request), started, &out);
  };
  if (method == "POST") {
    s.Post(pattern, wrapped);
  } else if (method == "PUT") {
    s.Put(pattern, wrapped);
  } else if (method == "PATCH") {
    s.Patch(pattern, wrapped);
  } else {
    s.Delete(pattern, wrapped);
  }
}

StatusOr<int> HttpServer::bind() {
  if (!impl_->setup_error.is_ok()) return impl_->setup_error;
  if (port_ > 0) return port_;
  auto& s = impl_->server;
  if (options_.port == 0) {
    port_ = s.bind_to_any_port(options_.host);
    if (port_ <= 0) {
      port_ = 0;
      return unavailable("cannot bind " + options_.host + ":0");
    }
  } else {
    if (!s.bind_to_port(options_.host, options_.port)) {
      return unavailable("cannot bind " + options_.host + ":" + std::to_string(options_.port) +
                         " (in use or not permitted)");
    }
    port_ = options_.port;
  }
  // The library listens with a backlog of 5: under a burst of new connections the
  // kernel drops SYNs and clients stall for a second. Ask for the system maximum.
  if (listen_fd_ >= 0) ::listen(listen_fd_, SOMAXCONN);
  return port_;
}

StatusOr<int> HttpServer::start() {
  auto bound = bind();
  if (!bound.ok()) return bound.status();
  auto& s = impl_->server;
  impl_->listener = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() is only effective once the listener runs; wait for that so a quick stop
  // after start cannot leave the thread listening forever.
  while (!s.is_running() && !stopping_.load()) std::this_thread::yield();
  logger_.info(
      "listening",
      {{"host", options_.host}, {"port", port_}, {"tls", !options_.tls_cert_file.empty()}});
  return port_;
}

void HttpServer::stop() {
  if (stopping_.exchange(true)) return;
  impl_->server.wake_connections();
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace shopeasy::http
