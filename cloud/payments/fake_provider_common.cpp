// Shared parts of the provider fakes; see fake_provider_common.hpp.
#include "cloud/payments/fake_provider_common.hpp"

#include <random>
#include <utility>

#include "cloud/payments/webhook_sender.hpp"

namespace shopeasy::cloud::payments::fake {

void Faults::fail(int count, int status) {
  sync::MutexLock lock(mutex_);
  for (int i = 0; i < count; ++i) queue_.push_back({Kind::kStatus, status, {}});
}

void Faults::delay(int count, std::chrono::milliseconds delay) {
  sync::MutexLock lock(mutex_);
  for (int i = 0; i < count; ++i) queue_.push_back({Kind::kDelay, 0, delay});
}

void Faults::malform(int count) {
  sync::MutexLock lock(mutex_);
  for (int i = 0; i < count; ++i) queue_.push_back({Kind::kMalformed, 200, {}});
}

Faults::Next Faults::take() {
  sync::MutexLock lock(mutex_);
  if (queue_.empty()) return {};
  Next next = queue_.front();
  queue_.pop_front();
  return next;
}

WebhookPump::WebhookPump() : thread_([this] { run(); }) {}

WebhookPump::~WebhookPump() {
  {
    sync::MutexLock lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WebhookPump::set_url(std::string url) {
  sync::MutexLock lock(mutex_);
  url_ = std::move(url);
}

void WebhookPump::post(std::string event_id, std::string type, std::string body,
                       std::map<std::string, std::string> headers) {
  {
    sync::MutexLock lock(mutex_);
    queue_.push_back(
        Item{std::move(event_id), std::move(type), std::move(body), std::move(headers)});
  }
  cv_.notify_all();
}

int WebhookPump::post_now(const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  std::string url;
  {
    sync::MutexLock lock(mutex_);
    url = url_;
  }
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return 0;
  const std::size_t path_at = url.find('/', scheme_end + 3);
  const std::string base = url.substr(0, path_at);
  const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
  http::ClientOptions options;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.read_timeout = std::chrono::milliseconds(5000);
  auto sender = WebhookSender::create(base, options);
  if (!sender.ok()) return 0;
  auto answer = (*sender)->post(path, body, "application/json", headers);
  return answer.ok() ? answer->status : 0;
}

std::vector<Delivery> WebhookPump::deliveries() {
  sync::MutexLock lock(mutex_);
  return done_;
}

bool WebhookPump::drain(std::chrono::milliseconds timeout) {
  sync::MutexLock lock(mutex_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!queue_.empty() || busy_) {
    if (cv_.wait_until(mutex_, deadline) == std::cv_status::timeout) {
      return queue_.empty() && !busy_;
    }
  }
  return true;
}

void WebhookPump::run() {
  sync::MutexLock lock(mutex_);
  while (true) {
    while (!stopping_ && queue_.empty()) cv_.wait(mutex_);
    if (stopping_) return;
    Item item = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    Delivery delivery{item.event_id, item.type, 0, 0};
    // A few quick attempts: enough for a receiver that is briefly busy.
    for (int attempt = 0; attempt < 5 && !stopping_; ++attempt) {
      lock.unlock();
      const int status = post_now(item.body, item.headers);
      lock.lock();
      delivery.status = status;
      delivery.attempts = attempt + 1;
      if (status >= 200 && status < 300) break;
      const auto retry_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
      while (!stopping_) {
        if (cv_.wait_until(mutex_, retry_at) == std::cv_status::timeout) break;
      }
    }
    done_.push_back(delivery);
    busy_ = false;
    cv_.notify_all();
  }
}

std::string random_token(std::size_t n) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += kChars[rng() % 62];
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace shopeasy::cloud::payments::fake
