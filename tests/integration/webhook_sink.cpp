#include "tests/integration/webhook_sink.hpp"

#include <chrono>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "cloud/payments/webhook.hpp"

namespace shopeasy::testing {

struct WebhookSink::Impl {
  std::string secret;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  mutable std::mutex mutex;  // guards responder, seen, posts, bad
  Responder responder;
  std::map<std::string, Seen> seen;
  std::int64_t posts = 0;
  std::int64_t bad = 0;

  // "t=<s>,v1=<hex>" over "<t>.<body>" with the shared secret, within 5 minutes.
  bool signature_ok(const std::string& header, const std::string& body) const {
    const std::size_t comma = header.find(",v1=");
    if (header.rfind("t=", 0) != 0 || comma == std::string::npos) return false;
    std::int64_t t = 0;
    try {
      t = std::stoll(header.substr(2, comma - 2));
    } catch (...) {
      return false;
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    if (t < now - 300 || t > now + 300) return false;
    return header.substr(comma + 4) == cloud::payments::webhook_hmac_hex(secret, t, body);
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.get_header_value("Idempotency-Key");
    const bool ok =
        signature_ok(req.get_header_value("ShopEasy-Signature"), req.body) && !id.empty();
    std::lock_guard<std::mutex> lock(mutex);
    ++posts;
    if (!ok) {
      ++bad;
      res.status = 401;
      return;
    }
    Seen& s = seen[id];
    ++s.posts;
    const int status = responder ? responder(id, s.posts) : 200;
    if (status >= 200 && status < 300) ++s.accepted;
    s.body = nlohmann::json::parse(req.body, nullptr, false);
    res.status = status;
    res.set_content("{}", "application/json");
  }
};

StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::start(std::string secret) {
  auto impl = std::make_unique<Impl>();
  impl->secret = std::move(secret);
  Impl* raw = impl.get();
  // Headers and body go out in separate writes: without this, Nagle holds each answer's
  // body for the client's delayed ACK (up to 40 ms).
  impl->server.set_tcp_nodelay(true);
  impl->server.Post("/hooks/shopeasy", [raw](const httplib::Request& req, httplib::Response& res) {
    raw->handle(req, res);
  });
  impl->port = impl->server.bind_to_any_port("127.0.0.1");
  if (impl->port <= 0) return unavailable("the webhook sink cannot bind a port");
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  return std::unique_ptr<WebhookSink>(new WebhookSink(std::move(impl)));
}

WebhookSink::WebhookSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookSink::~WebhookSink() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int WebhookSink::port() const { return impl_->port; }

std::string WebhookSink::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + "/hooks/shopeasy";
}

void WebhookSink::set_responder(Responder responder) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->responder = std::move(responder);
}

std::map<std::string, WebhookSink::Seen> WebhookSink::seen() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->seen;
}

std::int64_t WebhookSink::posts() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->posts;
}

std::size_t WebhookSink::accepted_ids() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [id, s] : impl_->seen) n += s.accepted > 0 ? 1 : 0;
  return n;
}

std::int64_t WebhookSink::bad_signatures() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->bad;
}

}  // namespace shopeasy::testing
