// A customer app backend as notification webhooks see it: a cpp-httplib server on a
// free loopback port that checks each delivery's ShopEasy-Signature against the shared
// secret, counts deliveries per idempotency id (how a real receiver drops repeats), and
// answers what the test tells it to (200 by default; 500 first, then 200; always 400).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::testing {

class WebhookSink {
 public:
  // The status code to answer the `attempt`-th delivery (1, 2, ...) of an id with.
  using Responder = std::function<int(const std::string& id, int attempt)>;

  struct Seen {
    int posts = 0;        // deliveries received
    int accepted = 0;     // answered 2xx
    nlohmann::json body;  // the last one
  };

  static StatusOr<std::unique_ptr<WebhookSink>> start(std::string secret);
  ~WebhookSink();
  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  int port() const;
  std::string url() const;  // http://127.0.0.1:<port>/hooks/shopeasy
  void set_responder(Responder responder);

  std::map<std::string, Seen> seen() const;
  std::int64_t posts() const;
  // Ids answered 2xx at least once.
  std::size_t accepted_ids() const;
  // Deliveries whose signature, timestamp or idempotency header was wrong (answered 401).
  std::int64_t bad_signatures() const;

 private:
  struct Impl;
  explicit WebhookSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace shopeasy::testing
