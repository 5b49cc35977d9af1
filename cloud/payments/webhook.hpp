// Signed payment webhooks, both ends. A gateway signs each delivery attempt with
// HMAC-SHA256 over "<unix seconds>.<body>" and sends it as
//   ShopEasy-Signature: t=<unix seconds>,v1=<hex HMAC>
// The receiver (WebhookVerifier) accepts a delivery only if the signature matches, the
// timestamp is within the tolerance window and the event has not been accepted before;
// together these make a captured request useless to an attacker once it has been
// processed or has aged out of the window. Every refusal has its own message, counter
// and log line; the secret is never logged.
//
// Real providers sign the same way with their own header and event shapes
// (WebhookScheme): Stripe exactly as above under Stripe-Signature; Razorpay with a hex
// HMAC-SHA256 of the raw body alone in X-Razorpay-Signature, so there the freshness
// check uses the event's own created_at and a replay is recognised by its
// X-Razorpay-Event-Id.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cloud/payments/payment_types.hpp"
#include "common/clock/clock.hpp"
#include "common/db/database.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::cloud::payments {

inline constexpr std::string_view kSignatureHeader = "ShopEasy-Signature";
inline constexpr std::string_view kStripeSignatureHeader = "Stripe-Signature";
inline constexpr std::string_view kRazorpaySignatureHeader = "X-Razorpay-Signature";
inline constexpr std::string_view kRazorpayEventIdHeader = "X-Razorpay-Event-Id";

enum class WebhookScheme {
  kShopEasy,  // the sandbox: ShopEasy-Signature, t=/v1= over "<t>.<body>"
  kStripe,    // Stripe-Signature, the same construction
  kRazorpay,  // X-Razorpay-Signature: hex HMAC-SHA256(secret, body); no timestamp
};
std::string_view signature_header_name(WebhookScheme scheme);

// One incoming delivery as the route sees it.
struct WebhookDelivery {
  std::string_view signature;  // the scheme's signature header
  std::string_view event_id;   // X-Razorpay-Event-Id (Razorpay only; may be empty)
  std::string_view body;       // raw, exactly as received
};

// Turns a verified body into the event the order flow understands; errors are
// kInvalidArgument naming the field. `event_id` is the delivery's event-id header.
using EventParser =
    std::function<StatusOr<PaymentEvent>(std::string_view body, std::string_view event_id)>;
inline constexpr std::size_t kMinSecretBytes = 32;

// Lower-case hex HMAC-SHA256(secret, "<t>.<body>").
std::string webhook_hmac_hex(std::string_view secret, std::int64_t t, std::string_view body);
// The full header value "t=<t>,v1=<hex>".
std::string webhook_signature_header(std::string_view secret, std::int64_t t,
                                     std::string_view body);

struct WebhookVerifierOptions {
  WebhookScheme scheme = WebhookScheme::kShopEasy;
  // Null: the sandbox's own event shape. Providers pass theirs.
  EventParser parser;
  std::string secret;  // at least kMinSecretBytes
  // Signature age (ShopEasy, Stripe) or event age by created_at (Razorpay, whose
  // retries resend the first signature for up to a day: give it more than 24 h).
  std::chrono::seconds tolerance{300};
  std::shared_ptr<const Clock> clock;  // system clock when null
  // Accepted event ids are remembered at least 2 x tolerance: a captured request is
  // refused by its timestamp after that. In SQLite when db_path is set (so a restart
  // does not forget them), else in memory.
  std::string db_path;
  // In-memory store only: beyond this many remembered ids new events are refused
  // (kResourceExhausted, retried by the gateway) rather than forgetting ids early.
  std::size_t max_remembered = 100'000;
};

class WebhookVerifier {
 public:
  // kInvalidArgument for a short secret or a tolerance outside 1 s..1 h (Razorpay:
  // 1 s..7 days); errors opening
  // the replay store as the database reports them.
  static StatusOr<std::unique_ptr<WebhookVerifier>> create(WebhookVerifierOptions options,
                                                           log::Logger logger,
                                                           metrics::Registry& metrics);
  ~WebhookVerifier();
  WebhookVerifier(const WebhookVerifier&) = delete;
  WebhookVerifier& operator=(const WebhookVerifier&) = delete;

  // Checks one delivery. Refusals: kUnauthenticated for a missing header, a wrong
  // signature or a timestamp outside the tolerance; kInvalidArgument for a malformed
  // header or body; kAlreadyExists for an event already accepted. Does not remember the
  // event: call mark_seen() once it has been handled.
  StatusOr<PaymentEvent> verify(std::string_view signature_header, std::string_view body);
  StatusOr<PaymentEvent> verify(const WebhookDelivery& delivery);
  WebhookScheme scheme() const { return options_.scheme; }

  // Records that the event was handled, so later deliveries of it are refused.
  Status mark_seen(const PaymentEvent& event) EXCLUDES(mutex_);

  // Refusals per reason since start ("missing_header", "malformed_header",
  // "bad_signature", "timestamp", "replay", "malformed_body").
  std::uint64_t refused(std::string_view reason) const;

 private:
  friend void register_webhook_route(http::HttpServer&, WebhookVerifier&,
                                     std::function<Status(const PaymentEvent&)>);
  struct Seen {
    std::int64_t signed_t = 0;  // the signature timestamp of the accepted delivery
    std::int64_t seen_s = 0;
  };
  WebhookVerifier(WebhookVerifierOptions options, log::Logger logger, metrics::Registry& metrics);

  // As verify(); also sets *redelivery when the event was already accepted but this
  // delivery carries a newer signature, i.e. the gateway (the only holder of the
  // secret) sent it again because it missed the acknowledgement.
  StatusOr<PaymentEvent> check(const WebhookDelivery& delivery, bool* redelivery);
  Status refuse(std::string_view reason, Status status);
  StatusOr<std::optional<Seen>> lookup(const std::string& event_id) EXCLUDES(mutex_);
  void forget_expired(std::int64_t now_s) REQUIRES(mutex_);
  // In-flight guard so two concurrent deliveries of one event are not both handled.
  bool claim(const std::string& event_id) EXCLUDES(mutex_);
  void release(const std::string& event_id) EXCLUDES(mutex_);

  WebhookVerifierOptions options_;
  log::Logger logger_;
  log::RateLimiter log_limiter_{20, std::chrono::seconds(1)};
  metrics::CounterFamily& refused_family_;
  metrics::Counter& accepted_;
  metrics::Counter& redeliveries_;

  // Guards the events remembered (the database or the memory store), the in-flight set
  // and the prune time: deliveries arrive on the server's threads.
  mutable sync::Mutex mutex_;
  std::optional<db::Database> db_ GUARDED_BY(mutex_);
  // The memory store: (seen_s, id) oldest first in seen_order_.
  std::unordered_map<std::string, Seen> seen_ GUARDED_BY(mutex_);
  std::deque<std::pair<std::int64_t, std::string>> seen_order_ GUARDED_BY(mutex_);
  std::set<std::string> in_flight_ GUARDED_BY(mutex_);
  std::int64_t last_prune_s_ GUARDED_BY(mutex_) = 0;
};

// POST /v1/payments/webhook, public (authenticated by its signature): 400/401 for a
// refused delivery, 409 for a replay, 200 after on_event succeeded (or for a gateway
// redelivery of an event already handled), 503 when on_event fails so the gateway
// retries; the event is only remembered once on_event has succeeded.
void register_webhook_route(http::HttpServer& server, WebhookVerifier& verifier,
                            std::function<Status(const PaymentEvent&)> on_event);

}  // namespace shopeasy::cloud::payments
