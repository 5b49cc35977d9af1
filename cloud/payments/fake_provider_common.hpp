// Pieces both local provider fakes share (test support only): injected faults and a
// webhook pump that posts signed events to a receiver from its own thread, retrying a
// few times as the real providers do.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments::fake {

// What the next API answers should do instead of their normal work.
class Faults {
 public:
  enum class Kind { kNone, kStatus, kDelay, kMalformed };
  struct Next {
    Kind kind = Kind::kNone;
    int status = 0;
    std::chrono::milliseconds delay{0};
  };
  void fail(int count, int status) EXCLUDES(mutex_);
  void delay(int count, std::chrono::milliseconds delay) EXCLUDES(mutex_);
  void malform(int count) EXCLUDES(mutex_);
  // Takes the next fault, if any.
  Next take() EXCLUDES(mutex_);

 private:
  // Guards queue_: the test sets faults while the fake's server threads take them.
  sync::Mutex mutex_;
  std::deque<Next> queue_ GUARDED_BY(mutex_);
};

struct Delivery {
  std::string event_id;
  std::string type;
  int status = 0;  // the receiver's last answer (0: unreachable)
  int attempts = 0;
};

class WebhookPump {
 public:
  WebhookPump();
  ~WebhookPump();
  WebhookPump(const WebhookPump&) = delete;
  WebhookPump& operator=(const WebhookPump&) = delete;

  // "http://127.0.0.1:port/path"; empty: events are dropped.
  void set_url(std::string url) EXCLUDES(mutex_);
  // Queues one delivery: the body and headers exactly as they are to be sent.
  void post(std::string event_id, std::string type, std::string body,
            std::map<std::string, std::string> headers) EXCLUDES(mutex_);
  // Sends now on the calling thread, once; the receiver's HTTP status (0: unreachable).
  int post_now(const std::string& body, const std::map<std::string, std::string>& headers)
      EXCLUDES(mutex_);
  std::vector<Delivery> deliveries() EXCLUDES(mutex_);
  // Blocks until every queued event got an answer (or was given up), at most `timeout`.
  bool drain(std::chrono::milliseconds timeout) EXCLUDES(mutex_);

 private:
  struct Item {
    std::string event_id, type, body;
    std::map<std::string, std::string> headers;
  };
  void run() EXCLUDES(mutex_);
  // Guards the receiver's URL, the queue, the answers and the flags below: the test
  // posts and reads while the pump's thread delivers.
  sync::Mutex mutex_;
  sync::CondVar cv_;
  std::string url_ GUARDED_BY(mutex_);
  std::deque<Item> queue_ GUARDED_BY(mutex_);
  std::vector<Delivery> done_ GUARDED_BY(mutex_);
  bool busy_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  std::thread thread_;
};

// Random [A-Za-z0-9] of `n` characters, for ids.
std::string random_token(std::size_t n);
std::int64_t unix_now();

}  // namespace shopeasy::cloud::payments::fake
