#include "common/http/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <thread>

namespace shopeasy::http {

namespace {

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
  std::unique_ptr<httplib::Server> owned;
  httplib::Server& server;
  Status setup_error;  // a TLS certificate or key that could not be loaded
  explicit Impl(const ServerOptions& o) : owned(make_server(o, setup_error)), server(*owned) {}
  static std::unique_ptr<httplib::Server> make_server(const ServerOptions& o, Status& error) {
    if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
      return std::make_unique<httplib::Server>();
    }
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      error =
          invalid_argument("a TLS certificate needs its key and the key its certificate",
                           o.tls_cert_file.empty() ? "http.tls_cert_file" : "http.tls_key_file");
      return std::make_unique<httplib::Server>();
    }
    auto tls =
        std::make_unique<httplib::SSLServer>(o.tls_cert_file.c_str(), o.tls_key_file.c_str());
    if (!tls->is_valid()) {
      error = invalid_argument("cannot load the TLS certificate " + o.tls_cert_file + " with key " +
                                   o.tls_key_file + " (unreadable, not PEM, or not a pair)",
                               "http.tls_cert_file");
    }
    return tls;
  }
  std::thread listener;
  metrics::CounterFamily* requests = nullptr;
  metrics::HistogramFamily* latency = nullptr;
  metrics::Counter* rejected_streams = nullptr;
  metrics::Counter* audit_records = nullptr;
};

HttpServer::HttpServer(ServerOptions options, const Authenticator* auth, log::Logger logger,
                       metrics::Registry& metrics)
    : options_(std::move(options)),
      auth_(auth),
      logger_(std::move(logger)),
      metrics_(metrics),
      impl_(std::make_unique<Impl>(options_)) {
  impl_->requests = &metrics_.counter_family("http_requests_total",
                                             "HTTP requests by route, method and status code",
                                             {"route", "method", "code"});
  impl_->latency = &metrics_.histogram_family("http_request_duration_seconds",
                                              "Time to produce an HTTP response, by route",
                                              metrics::default_latency_buckets(), {"route"});
  impl_->rejected_streams = &metrics_.counter(
      "http_streams_rejected_total", "Event streams refused because the stream cap was reached");
  impl_->audit_records = &metrics_.counter(
      "http_audited_calls_total", "Successful calls of audited routes reported to the audit log");
  streams_gauge_ = metrics_.gauge_fn("http_streams_active", "Open event streams", [this] {
    return static_cast<double>(active_streams_.load());
  });

  auto& s = impl_->server;
  const std::size_t threads = std::max<std::size_t>(2, options_.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_payload_max_length(options_.max_body_bytes);
  s.set_read_timeout(options_.read_timeout);
  s.set_write_timeout(options_.write_timeout);
  s.set_keep_alive_timeout(options_.keep_alive_timeout.count());
  s.set_tcp_nodelay(true);
  // The library's default also sets SO_REUSEPORT, which would let a second daemon
  // bind the same port silently and steal half the connections.
  s.set_socket_options([this](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });
  // The library's defaults close a keep-alive connection after 5 requests, which makes
  // busy clients reconnect constantly.
  s.set_keep_alive_max_count(100000);
  // Errors produced by the library itself (no such route, body too large) get the
  // project's error shape too.
  s.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Status st;
    switch (res.status) {
      case 404:
        st = not_found("no route for " + req.method + " " + req.path);
        break;
      case 413:
        st = Status(StatusCode::kPayloadTooLarge,
                    "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
        break;
      case 400:
        st = invalid_argument("malformed HTTP request");
        break;
      default:
        st = Status(StatusCode::kInternal, "HTTP " + std::to_string(res.status));
        break;
    }
    res.set_content(error_body(st), "application/json");
    impl_->requests->with({"unmatched", req.method, std::to_string(res.status)}).inc();
  });
  s.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        logger_.error("handler_exception", {{"method", req.method}, {"path", req.path}});
        res.status = 500;
        res.set_content(error_body(internal_error("unexpected error")), "application/json");
      });
}

HttpServer::~HttpServer() { stop(); }

Response HttpServer::dispatch(const Handler& handler, const Access& access, Request& request) {
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
  if (!access.is_public) {
    if (auth == nullptr) return Response::error(internal_error("no authenticator configured"));
    auto principal = auth->authenticate(request);
    if (!principal.ok()) {
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
    if (auto refused = admission_(request)) return std::move(*refused);
  }
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

void HttpServer::route(std::string_view method, std::string pattern, Access access,
                       Handler handler) {
  auto wrapped = [this, pattern, access = std::move(access), handler = std::move(handler)](
                     const httplib::Request& in, httplib::Response& out) {
    const auto started = std::chrono::steady_clock::now();
    Request request = to_request(in);
    Response response = dispatch(handler, access, request);

    out.status = response.status;
    for (auto& [k, v] : response.headers) out.set_header(k, v);
    if (response.stream && response.status < 300) {
      if (active_streams_.load() >= options_.max_streams) {
        impl_->rejected_streams->inc();
        const Status busy(StatusCode::kResourceExhausted, "too many open event streams");
        out.status = http_status_for(busy.code());
        out.set_header("Retry-After", "5");
        out.set_content(error_body(busy), "application/json");
      } else {
        ++active_streams_;
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
            [this](bool) { --active_streams_; });
      }
    } else {
      out.set_content(std::move(response.body), response.content_type);
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    impl_->requests->with({pattern, in.method, std::to_string(out.status)}).inc();
    impl_->latency->with({pattern}).observe(seconds);
    if (out.status >= 500) {
      logger_.warn("request_failed", {{"method", in.method},
                                      {"path", in.path},
                                      {"status", out.status},
                                      {"remote", in.remote_addr}});
    } else if (logger_.enabled(log::Level::kDebug)) {
      logger_.debug("request", {{"method", in.method},
                                {"path", in.path},
                                {"status", out.status},
                                {"principal", request.principal.subject},
                                {"seconds", seconds}});
    }
  };

  auto& s = impl_->server;
  if (method == "GET") {
    s.Get(pattern, wrapped);
  } else if (method == "POST") {
    s.Post(pattern, wrapped);
  } else if (method == "PUT") {
    s.Put(pattern, wrapped);
  } else if (method == "PATCH") {
    s.Patch(pattern, wrapped);
  } else if (method == "DELETE") {
    s.Delete(pattern, wrapped);
  } else {
    logger_.error("bad_route_method", {{"method", method}, {"pattern", pattern}});
    std::abort();  // a programming error in route registration
  }
}

StatusOr<int> HttpServer::start() {
  if (!impl_->setup_error.is_ok()) return impl_->setup_error;
  auto& s = impl_->server;
  if (options_.port == 0) {
    port_ = s.bind_to_any_port(options_.host);
    if (port_ <= 0) return unavailable("cannot bind " + options_.host + ":0");
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
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace shopeasy::http
