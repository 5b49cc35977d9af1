// CloudDaemon owns the aggregator's parts: configuration, storage, and the HTTP API
// for stores (sync) and customer apps. main() only calls run_cloud().
#pragma once

#include <memory>
#include <optional>
#include <set>

#include "cloud/accounts/account_store.hpp"
#include "cloud/accounts/deleted_account_gate.hpp"
#include "cloud/accounts/otp_service.hpp"
#include "cloud/accounts/sms.hpp"
#include "cloud/accounts/token_service.hpp"
#include "cloud/api/cloud_routes.hpp"
#include "cloud/api/operator_sessions.hpp"
#include "cloud/api/order_event_hub.hpp"
#include "cloud/api/store_auth.hpp"
#include "cloud/daemon/registry_watcher.hpp"
#include "cloud/fleet/fleet_service.hpp"
#include "cloud/fleet/fleet_stats.hpp"
#include "cloud/notify/notify_service.hpp"
#include "cloud/orders/order_service.hpp"
#include "cloud/payments/payments.hpp"
#include "cloud/pricing/pricing_routes.hpp"
#include "cloud/pricing/pricing_service.hpp"
#include "cloud/routing/store_index.hpp"
#include "cloud/search/search_routes.hpp"
#include "cloud/search/search_service.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/clock/clock.hpp"
#include "common/config/config.hpp"
#include "common/http/auth.hpp"
#include "common/http/server.hpp"
#include "common/log/log.hpp"
#include "common/metrics/metrics.hpp"
#include "common/security/http_guard.hpp"
#include "common/security/jwt.hpp"
#include "common/security/user_store.hpp"
#include "common/service/service.hpp"

namespace shopeasy::cloud {

// The cloud's option table; every key is documented in --help.
config::Schema cloud_schema();

class CloudDaemon final : public service::Daemon {
 public:
  CloudDaemon(config::Config config, log::Logger logger);
  ~CloudDaemon() override;

  // Starts, in order: state directory, storage, HTTP API.
  Status start() override;
  void stop() override;
  // Order timers. The registry (routing index, lag alerts) has its own watcher thread.
  void tick() override;

  int http_port() const { return http_ ? http_->port() : 0; }
  // SIGHUP: applies log.level and http.rate_limit_*; logs other changed keys as needing
  // a restart; records the reload in the audit log.
  Status reload(const config::Config& fresh) override;

 private:
  void register_routes();
  // Customer JWT verification from auth.jwt.*, when keys are configured.
  Status setup_customer_jwt();
  Status setup_notify();
  // The customer sign-in services when accounts.sms_provider is set; before the JWT
  // verifier, which takes the signing key's public half.
  Status setup_accounts(const std::string& state_dir);
  std::string own_issuer() const;
  // JWTs first (when configured), then tokens and store credentials.
  const http::Authenticator* authenticator() const;
  nlohmann::json health() const;

  config::Config config_;
  log::Logger logger_;
  SystemClock clock_;
  metrics::Registry metrics_;
  std::unique_ptr<storage::CloudStore> store_;
  std::unique_ptr<api::CloudAuthenticator> auth_;
  // Customer sign-in (null while accounts.sms_provider is none).
  std::unique_ptr<accounts::AccountStore> account_store_;
  std::unique_ptr<accounts::SmsProvider> sms_;
  std::unique_ptr<accounts::OtpService> otp_;
  std::unique_ptr<accounts::TokenService> tokens_;
  MonoTime last_accounts_purge_{};                 // tick() thread only
  std::unique_ptr<notify::NotifyService> notify_;  // null unless notify.enabled
  MonoTime last_notify_purge_{};                   // tick() thread only
  MonoTime last_quotes_purge_{};                   // tick() thread only
  std::unique_ptr<security::JwtVerifier> jwt_verifier_;
  std::unique_ptr<security::JwtAuthenticator> jwt_auth_;
  // jwt_auth_ refusing the tokens of deleted accounts (null without phone sign-in).
  std::unique_ptr<accounts::DeletedAccountGate> deleted_gate_;
  // The audit log of admin actions and the operators who sign in to /ops (a local file
  // per instance: an operator signs in to each instance behind a load balancer apart).
  std::unique_ptr<security::UserStore> audit_;
  // Operator sessions first, then authenticator(); what the HTTP server uses.
  std::unique_ptr<api::OperatorAuthenticator> operator_auth_;
  std::unique_ptr<security::RequestRateLimit> rate_limit_;
  routing::StoreIndex index_;
  std::unique_ptr<api::CloudRoutes> routes_;
  std::unique_ptr<search::SearchService> search_;
  std::unique_ptr<search::SearchRoutes> search_routes_;
  std::unique_ptr<cloud::payments::PaymentProvider> payments_;  // sandbox, stripe or razorpay
  std::unique_ptr<cloud::payments::WebhookVerifier> webhooks_;
  // Before orders_: the order service asks it about quotes, so it must outlive it.
  std::unique_ptr<pricing::PricingService> pricing_;
  std::unique_ptr<orders::OrderService> orders_;
  // The operators' dashboard: its own connection to the database, and the figures.
  std::unique_ptr<fleet::FleetStats> fleet_stats_;
  std::unique_ptr<fleet::FleetService> fleet_;
  Status start_payments(int http_port);
  // For the checkout and UPI routes: the customer whose order an intent pays.
  payments::IntentOwnerFn intent_owner(payments::PaymentProvider* provider);
  // Wakes order-tracking streams; declared before http_ so the server (and its
  // streams) goes first.
  std::unique_ptr<api::OrderEventHub> order_events_;
  std::unique_ptr<http::HttpServer> http_;
  // Touched only from the registry watcher's callback (and start(), before its thread).
  std::set<std::string> lagging_;
  metrics::Gauge* lagging_gauge_ = nullptr;
  // Raises and clears lagging-store alerts from a full read of the registry.
  void check_lagging(const std::vector<storage::StoreRecord>& stores);
  // Reads the registry when it changes (and every few seconds) on its own thread.
  // Declared after what its callback uses, so it is destroyed (and joined) first.
  std::unique_ptr<RegistryWatcher> registry_;
  // Brings the routing index in line with the registry, applying only what changed.
  void refresh_index(const std::vector<storage::StoreRecord>& stores);
  MonoTime started_at_;
};

int run_cloud(int argc, const char* const* argv);

}  // namespace shopeasy::cloud
