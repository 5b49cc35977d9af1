#include "cloud/daemon/cloud_daemon.hpp"

#include "cloud/fleet/fleet_routes.hpp"

#include <fstream>
#include <iterator>
#include <regex>
#include <string_view>
#include <variant>

#include "cloud/accounts/account_deletion_route.hpp"
#include "cloud/accounts/account_routes.hpp"
#include "cloud/accounts/address_routes.hpp"
#include "cloud/accounts/http_sms_provider.hpp"
#include "cloud/accounts/my_orders_route.hpp"
#include "cloud/api/order_routes.hpp"
#include "cloud/fleet/fleet_routes.hpp"
#include "cloud/notify/notify_routes.hpp"
#include "cloud/webui/ops_page.hpp"
#include "common/apidoc/api_doc.hpp"
#include "common/security/encoding.hpp"

namespace shopeasy::cloud {

namespace {
const service::ProgramInfo kProgram{"shopeasy-cloud", "SHOPEASY_CLOUD_", SHOPEASY_VERSION};

// The host a libpq connection string (key=value or postgresql:// URI) names; empty
// for the default Unix socket.
std::string postgres_host(const std::string& dsn) {
  if (dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0) {
    std::string rest = dsn.substr(dsn.find("://") + 3);
    rest = rest.substr(0, rest.find_first_of("/?"));
    if (const std::size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
    if (!rest.empty() && rest.front() == '[') return rest.substr(1, rest.find(']') - 1);
    return rest.substr(0, rest.find(':'));
  }
  static const std::regex kHost(R"((?:^|\s)(?:host|hostaddr)\s*=\s*'?([^'\s]*))");
  std::smatch m;
  return std::regex_search(dsn, m, kHost) ? m[1].str() : std::string();
}

// Whether the connection to PostgreSQL stays on this machine or is verified TLS.
bool postgres_link_is_safe(const std::string& dsn) {
  if (dsn.find("sslmode=verify-full") != std::string::npos) return true;
  const std::string host = postgres_host(dsn);
  return host.empty() || host.front() == '/' || host == "localhost" || host == "::1" ||
         host.rfind("127.", 0) == 0;
}

// The public base URL is shown to customers (confirm_url): http(s), a host, no
// credentials, query or fragment. The message never repeats the value, which could
// hold a password.
std::string validate_public_base_url(const config::Value& v) {
  const std::string& url = std::get<std::string>(v);
  if (url.empty()) return {};
  std::string_view rest;
  if (url.rfind("https://", 0) == 0) {
    rest = std::string_view(url).substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = std::string_view(url).substr(7);
  } else {
    return "must start with https:// or http://";
  }
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.empty()) return "has no host";
  if (authority.find('@') != std::string_view::npos) {
    return "must not carry a user name or password (it is shown to customers)";
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return "must have no query or fragment";
  }
  return {};
}

// Checks across keys that the per-key validators cannot make.
Status validate_cloud_config(const config::Config& config) {
  const bool production = config.get_bool("deployment.production");
  const std::string provider = config.get_string("payments.provider");
  if (production && provider == "sandbox") {
    return invalid_argument(
        "the sandbox gateway lets anyone mark an order paid; it cannot run with "
        "deployment.production",
        "payments.provider");
  }
  // A real provider needs its credentials and the secret its webhooks are signed with.
  auto require = [&](const char* key, const std::string& why) -> Status {
    if (config.get_string(key).empty()) {
      return invalid_argument("required with payments.provider=" + provider + ": " + why, key);
    }
    return Status::ok();
  };
  if (provider == "stripe") {
    SHOPEASY_RETURN_IF_ERROR(require("payments.stripe.secret_key", "the API secret key"));
  } else if (provider == "razorpay") {
    SHOPEASY_RETURN_IF_ERROR(require("payments.razorpay.key_id", "the API key id"));
    SHOPEASY_RETURN_IF_ERROR(require("payments.razorpay.key_secret", "the API key secret"));
  }
  // Behind a public address the sandbox's webhooks may reach another instance, which
  // can only verify them with the same secret: a random one per start would have every
  // such payment refused.
  if (provider == "sandbox" && !config.get_string("payments.public_base_url").empty()) {
    SHOPEASY_RETURN_IF_ERROR(
        require("payments.webhook_secret",
                "with payments.public_base_url set any instance behind it may receive the "
                "webhooks, so all of them need the same secret (at least 32 bytes)"));
  }
  if (provider == "stripe" || provider == "razorpay") {
    SHOPEASY_RETURN_IF_ERROR(
        require("payments.webhook_secret",
                "the webhook signing secret set in the provider's dashboard (at least 32 bytes)"));
    const std::string base = config.get_string("payments.api_base_url");
    if (!base.empty()) {
      if (std::string problem = payments::check_api_base_url(base); !problem.empty()) {
        return invalid_argument(problem, "payments.api_base_url");
      }
    }
  }
  if (production && config.get_string("accounts.sms_provider") == "sandbox") {
    return invalid_argument(
        "the sandbox SMS provider shows sign-in codes to admins instead of sending them; it "
        "cannot run with deployment.production",
        "accounts.sms_provider");
  }
  if (config.get_string("accounts.sms_provider") == "http") {
    if (config.get_string("accounts.sms.http_url").empty()) {
      return invalid_argument("required with accounts.sms_provider=http", "accounts.sms.http_url");
    }
    if (config.get_string("accounts.sms.http_token").empty()) {
      return invalid_argument("required with accounts.sms_provider=http",
                              "accounts.sms.http_token");
    }
  }
  if (const std::string url = config.get_string("notify.webhook_url"); !url.empty()) {
    if (!notify::parse_webhook_url(url).ok()) {
      return invalid_argument("must be an http:// or https:// URL", "notify.webhook_url");
    }
    if (config.get_string("notify.webhook_secret").size() < 32) {
      return invalid_argument("at least 32 bytes are required with notify.webhook_url",
                              "notify.webhook_secret");
    }
  }
  if (config.get_int("notify.lease_s") * 1000 < 4 * config.get_int("notify.webhook_timeout_ms")) {
    return invalid_argument("must be at least 4 x notify.webhook_timeout_ms", "notify.lease_s");
  }
  if (config.get_int("notify.retry_max_ms") < config.get_int("notify.retry_base_ms")) {
    return invalid_argument("must be at least notify.retry_base_ms", "notify.retry_max_ms");
  }
  if (production && config.get_string("storage.backend") == "postgres" &&
      !postgres_link_is_safe(config.get_string("storage.postgres_dsn"))) {
    return invalid_argument(
        "a PostgreSQL server on another host needs sslmode=verify-full in production "
        "(orders and customer data would cross the network unverified)",
        "storage.postgres_dsn");
  }
  return Status::ok();
}
}  // namespace

config::Schema cloud_schema() {
  using namespace config;
  Schema s;
  // Each store keeps a sync connection open and a connection holds a worker thread.
  service::add_common_options(s, 8090, 16 << 20, 128);
  s.add(string_option("state_dir", "/var/lib/shopeasy-cloud",
                      "Directory for the embedded SQLite database"));
  s.add(choice_option("storage.backend", "sqlite", {"sqlite", "postgres"},
                      "Where the cloud keeps its state"));
  Option dsn = string_option("storage.postgres_dsn", "",
                             "libpq connection string when storage.backend is postgres");
  dsn.secret = true;
  s.add(dsn);
  s.add(string_option("auth.jwt.issuer", "",
                      "Customer JWTs must carry this iss (empty with no keys: JWTs are off)"));
  s.add(string_option("auth.jwt.audience", "shopeasy-cloud", "Customer JWTs must list this aud"));
  Option jwt_keys = json_option(
      "auth.jwt.keys", nlohmann::json::array(),
      "Keys that sign customer JWTs: [{\"alg\": \"HS256\", \"secret\": \"...\" (32+ bytes)} or "
      "{\"alg\": \"RS256\"|\"ES256\", \"public_key_file\": PEM path}, optional \"kid\"]");
  jwt_keys.secret = true;
  s.add(jwt_keys);
  s.add(int_option("auth.jwt.leeway_s", 60, 0, 600,
                   "Clock skew tolerated on JWT exp, nbf and iat, in seconds"));
  s.add(choice_option("accounts.sms_provider", "none", {"none", "sandbox", "http"},
                      "Customer phone sign-in (POST /api/auth/otp and /api/auth/verify): none "
                      "(off; customers need JWTs from auth.jwt.keys), sandbox (codes are kept "
                      "for admins at GET /v1/sandbox/sms instead of sent: demos and tests "
                      "only, refused with deployment.production) or http (posted to "
                      "accounts.sms.http_url)"));
  s.add(string_option("accounts.sms.http_url", "",
                      "With accounts.sms_provider=http: the SMS gateway's URL, which gets POST "
                      "{\"to\",\"text\"} as JSON with the token as Bearer; https unless the "
                      "host is a loopback address"));
  Option sms_token = string_option("accounts.sms.http_token", "",
                                   "With accounts.sms_provider=http: the gateway's API token");
  sms_token.secret = true;
  s.add(sms_token);
  s.add(int_option("accounts.sms.http_timeout_ms", 5000, 500, 60000,
                   "Timeout of one call to the SMS gateway; a timeout answers 503 (retry)"));
  s.add(string_option("accounts.sms.http_ca_file", "",
                      "Trust only this CA for the SMS gateway's certificate (empty: the "
                      "system's trust store)"));
  s.add(string_option("accounts.allowed_country_codes", "+91",
                      "Comma-separated country calling codes whose numbers may sign in "
                      "(\"+91,+44\")"));
  s.add(string_option("accounts.signing_key_file", "",
                      "PEM P-256 private key signing the customer tokens the cloud issues, "
                      "created (mode 0600) when missing; empty: customer-jwt-key.pem in "
                      "state_dir. Instances sharing one database must share this file"));
  Option otp_secret = string_option(
      "accounts.otp_secret", "",
      "Secret keying the stored hashes of sign-in codes (at least 32 bytes); empty: derived "
      "from the signing key");
  otp_secret.secret = true;
  s.add(otp_secret);
  s.add(int_option("accounts.access_token_ttl_s", 900, 60, 3600,
                   "Lifetime of the customer access tokens the cloud issues"));
  s.add(int_option("accounts.refresh_token_ttl_s", 2592000, 3600, 31536000,
                   "Lifetime of a refresh token (each use replaces it)"));
  s.add(int_option("accounts.otp.per_phone_15m", 3, 1, 100,
                   "Sign-in codes one number may be sent within 15 minutes"));
  s.add(int_option("accounts.otp.per_phone_day", 10, 1, 1000,
                   "Sign-in codes one number may be sent within 24 hours"));
  s.add(int_option("accounts.otp.per_client_15m", 10, 1, 100000,
                   "Sign-in codes one client address may request within 15 minutes"));
  s.add(int_option("accounts.otp.per_client_day", 50, 1, 1000000,
                   "Sign-in codes one client address may request within 24 hours"));
  s.add(int_option("accounts.otp.per_prefix_hour", 20, 1, 1000000,
                   "Sign-in codes numbers sharing their first 8 digits may be sent within an "
                   "hour (SMS pumping walks adjacent numbers)"));
  s.add(int_option("accounts.otp.global_per_day", 10000, 1, 100000000,
                   "Sign-in codes sent in 24 hours across all numbers (the SMS budget)"));
  s.add(int_option("accounts.otp.verify_per_client_15m", 30, 1, 100000,
                   "Sign-in code checks one client address may make within 15 minutes, "
                   "whatever the numbers"));
  s.add(int_option("storage.postgres_pool", 8, 1, 128,
                   "PostgreSQL connections per instance (the fleet dashboard holds one more "
                   "of its own)"));
  s.add(int_option("stores.online_window_s", 30, 5, 3600,
                   "A store heard from within this many seconds counts as online"));
  s.add(int_option("stores.lag_alert_s", 60, 10, 86400,
                   "Alert when a store has not synced for this many seconds"));
  s.add(config::double_option(
      "fleet.breach_late_share", 0.2, 0, 1,
      "The fleet dashboard lists a store as breaching its delivery promise when more than "
      "this share of its deliveries in the window were late"));
  s.add(int_option("fleet.breach_min_delivered", 3, 1, 100000,
                   "Deliveries in the window a store needs before it can be listed as "
                   "breaching its promise"));
  s.add(int_option("orders.payment_timeout_s", 900, 10, 86400,
                   "An order not paid within this many seconds is cancelled and its stock "
                   "released"));
  s.add(int_option("orders.accept_timeout_s", 60, 1, 3600,
                   "A store must accept a routed order within this many seconds, else it "
                   "goes to the next store"));
  s.add(string_option("orders.currency", "EUR", "ISO 4217 currency of catalog prices"));
  s.add(int_option("orders.max_units_per_order", 200, 1, 100000,
                   "Units (sum of quantities) one order may ask for; an unpaid order holds its "
                   "stock until its payment deadline"));
  s.add(int_option("orders.max_unpaid_per_customer", 3, 1, 1000,
                   "Orders one customer may have waiting for payment at once (429 beyond); "
                   "each holds its stock until its payment deadline"));
  s.add(int_option("orders.idempotency_window_s", 86400, 1, 2592000,
                   "How long an order's Idempotency-Key is remembered: a retry within it gets "
                   "the first answer, after it the key is forgotten and may be used again"));
  s.add(bool_option("notify.enabled", false,
                    "Tell customers about their orders (confirmed, packed, out for delivery, "
                    "delivered, cancelled, refunded, failed) by SMS through "
                    "accounts.sms_provider and by signed webhook to notify.webhook_url"));
  s.add(bool_option("notify.sms", true,
                    "With notify.enabled and an accounts.sms_provider: send SMS notifications"));
  s.add(string_option("notify.webhook_url", "",
                      "With notify.enabled: the customer app backend's URL that gets a signed "
                      "POST per notification (ShopEasy-Signature, Idempotency-Key); empty: none"));
  Option notify_secret = string_option(
      "notify.webhook_secret", "",
      "HMAC-SHA256 key signing notification webhooks (at least 32 bytes with a webhook_url)");
  notify_secret.secret = true;
  s.add(notify_secret);
  s.add(int_option("notify.webhook_timeout_ms", 5000, 100, 60000,
                   "Connect and answer timeout of one notification webhook request"));
  s.add(int_option("notify.max_age_s", 259200, 60, 2592000,
                   "A notification still failing this long after its order change is given "
                   "up (marked dead and counted)"));
  s.add(int_option("notify.retry_base_ms", 1000, 10, 3600000,
                   "The first retry of a failed notification waits up to this; each further "
                   "one up to twice as long (full jitter)"));
  s.add(int_option("notify.retry_max_ms", 3600000, 10, 86400000,
                   "No wait between notification retries is longer than this"));
  s.add(int_option("notify.lease_s", 60, 1, 3600,
                   "How long an instance holds the notifications it claimed before another "
                   "may take them (at least 4 x notify.webhook_timeout_ms)"));
  s.add(int_option("notify.batch_size", 200, 1, 5000,
                   "Notifications claimed and recorded per database transaction"));
  s.add(int_option("notify.poll_interval_ms", 200, 10, 60000,
                   "How often an idle notification worker looks for due notifications"));
  s.add(int_option("notify.senders", 4, 1, 64,
                   "Threads sending one batch of notifications in parallel"));
  s.add(int_option("notify.purge_after_days", 7, 1, 365,
                   "Sent, failed, dead and skipped notifications are deleted this long after "
                   "their last change (pending ones never)"));
  s.add(bool_option("deployment.production", false,
                    "This instance serves real customers: features for demos and tests (the "
                    "sandbox payment gateway) are refused at start-up"));
  s.add(choice_option("payments.provider", "none", {"none", "sandbox", "razorpay", "stripe"},
                      "Who takes customers' payments: none (orders are refused), sandbox (the "
                      "built-in test gateway with a public pay page anyone can use to mark an "
                      "order paid: demos and tests only), razorpay or stripe"));
  Option webhook_secret = string_option(
      "payments.webhook_secret", "",
      "Secret signing payment webhooks (at least 32 bytes): for razorpay and stripe the "
      "webhook secret from the provider's dashboard (required); for sandbox empty means a "
      "random one per start (refused with payments.public_base_url: every instance behind "
      "it must share the secret)");
  webhook_secret.secret = true;
  s.add(webhook_secret);
  s.add(string_option("payments.api_base_url", "",
                      "Base URL of the provider's API (scheme://host[:port]); empty: the real "
                      "one (https://api.razorpay.com, https://api.stripe.com). Must be https "
                      "unless the host is localhost, 127.0.0.0/8 or [::1]"));
  s.add(int_option("payments.api_timeout_ms", 10000, 500, 60000,
                   "Timeout of one call to the provider's API; a timeout answers the customer "
                   "503 (retry)"));
  s.add(string_option("payments.api_ca_file", "",
                      "Trust only this CA for the provider API's certificate (empty: the "
                      "system's trust store)"));
  Option stripe_key = string_option("payments.stripe.secret_key", "",
                                    "Stripe secret (or restricted) API key, sk_... / rk_...");
  stripe_key.secret = true;
  s.add(stripe_key);
  s.add(string_option("payments.razorpay.key_id", "",
                      "Razorpay API key id (rzp_live_... / rzp_test_...); also handed to the "
                      "customer's Checkout"));
  Option razorpay_secret =
      string_option("payments.razorpay.key_secret", "",
                    "Razorpay API key secret (HTTP Basic with the key id; also verifies "
                    "Checkout's payment signatures)");
  razorpay_secret.secret = true;
  s.add(razorpay_secret);
  s.add(int_option("payments.razorpay.webhook_max_age_s", 172800, 3600, 604800,
                   "Razorpay webhooks carry no signed timestamp and are retried with their "
                   "first signature for 24 h: events whose created_at is older than this are "
                   "refused; event ids are remembered twice as long"));
  s.add(string_option("payments.webhook_ca_file", "",
                      "With http.tls_cert_file set: the CA that signed this instance's own "
                      "certificate, trusted by the sandbox gateway when it posts webhooks"));
  Option public_base = string_option(
      "payments.public_base_url", "",
      "The cloud's public base URL (a load balancer's): the sandbox payment page in "
      "confirm_url and where payment webhooks are sent, so any instance can take them; "
      "empty: this instance's own address");
  public_base.validator = validate_public_base_url;
  s.add(public_base);
  return s;
}

CloudDaemon::CloudDaemon(config::Config config, log::Logger logger)
    : config_(std::move(config)), logger_(std::move(logger)) {}

CloudDaemon::~CloudDaemon() { stop(); }

Status CloudDaemon::start() {
  started_at_ = clock_.mono_now();
  const std::string state_dir = config_.get_string("state_dir");
  SHOPEASY_RETURN_IF_ERROR(service::ensure_directory(state_dir, "state_dir"));
  auto tokens = http::TokenAuthenticator::from_json(config_.get_json("auth.tokens"),
                                                    {"admin", "customer", "metrics"});
  if (!tokens.ok()) return tokens.status().with_field_prefix("auth.tokens");

  if (config_.get_string("storage.backend") == "postgres" &&
      !postgres_link_is_safe(config_.get_string("storage.postgres_dsn"))) {
    logger_.warn("postgres_link_unverified",
                 {{"effect",
                   "orders and customer data cross the network without verified TLS; "
                   "add sslmode=verify-full to storage.postgres_dsn"}});
  }
  if (config_.get_string("storage.backend") == "postgres") {
    auto pg = storage::open_postgres_store(
        config_.get_string("storage.postgres_dsn"),
        static_cast<int>(config_.get_int("storage.postgres_pool")), &metrics_);
    if (!pg.ok()) return pg.status();
    store_ = std::move(*pg);
  } else {
    auto lite = storage::open_sqlite_store(state_dir + "/cloud.db");
    if (!lite.ok()) return lite.status();
    store_ = std::move(*lite);
  }
  SHOPEASY_RETURN_IF_ERROR(store_->migrate());
  auth_ = std::make_unique<api::CloudAuthenticator>(std::move(*tokens), *store_);
  SHOPEASY_RETURN_IF_ERROR(setup_accounts(state_dir));
  SHOPEASY_RETURN_IF_ERROR(setup_customer_jwt());
  SHOPEASY_RETURN_IF_ERROR(setup_notify());
  security::UserStoreOptions audit_options;
  audit_options.path = state_dir + "/audit.db";
  auto audit = security::UserStore::open(audit_options, clock_);
  if (!audit.ok()) return audit.status();
  audit_ = std::move(*audit);
  rate_limit_ =
      std::make_unique<security::RequestRateLimit>(clock_, metrics_, logger_.child("http"));
  rate_limit_->configure(config_.get_double("http.rate_limit_per_s"),
                         config_.get_double("http.rate_limit_burst"));
  lagging_gauge_ = &metrics_.gauge("cloud_stores_lagging",
                                   "Active stores that have not synced within the alert window");
  registry_ = std::make_unique<RegistryWatcher>(
      *store_, clock_, RegistryWatcher::Options{},
      [this](const std::vector<storage::StoreRecord>& stores) {
        refresh_index(stores);
        check_lagging(stores);
      },
      [this](const std::vector<storage::StoreSeen>& seen) {
        for (const auto& s : seen) index_.touch(s.id, s.last_seen_ms);
      },
      logger_.child("registry"));
  // The index is complete before the API starts; a failure here is not fatal, the
  // watcher reads the registry again shortly.
  registry_->poll_once();
  routes_ = std::make_unique<api::CloudRoutes>(
      *store_, index_, clock_,
      api::CloudRouteOptions{config_.get_int("stores.online_window_s") * 1000, 1000},
      logger_.child("api"), metrics_);
  // Product search: built from the catalog now; a failure leaves it empty until the
  // next tick retries, the daemon serves everything else meanwhile.
  search_ = std::make_unique<search::SearchService>(*store_, logger_.child("search"), metrics_,
                                                    search::SearchOptions{}, clock_);
  (void)search_->load(to_unix_ms(clock_.wall_now()));
  search_->start(clock_);
  routes_->set_catalog_listener([this](const storage::CatalogItem& item) {
    search_->on_catalog_item(item, to_unix_ms(clock_.wall_now()));
  });
  search_routes_ = std::make_unique<search::SearchRoutes>(
      *search_, index_, clock_, config_.get_int("stores.online_window_s") * 1000,
      logger_.child("search"));
  orders_ = std::make_unique<orders::OrderService>(
      *store_, index_, nullptr, clock_,
      orders::OrderOptions{
          .payment_timeout_ms = config_.get_int("orders.payment_timeout_s") * 1000,
          .accept_timeout_ms = config_.get_int("orders.accept_timeout_s") * 1000,
          .online_window_ms = config_.get_int("stores.online_window_s") * 1000,
          .currency = config_.get_string("orders.currency"),
          .require_payment = true,
          .max_units_per_order = config_.get_int("orders.max_units_per_order"),
          .max_unpaid_per_customer = config_.get_int("orders.max_unpaid_per_customer"),
          .idempotency_window_ms = config_.get_int("orders.idempotency_window_s") * 1000},
      logger_.child("orders"), metrics_);
  pricing_ = std::make_unique<pricing::PricingService>(
      *store_, index_, clock_, config_.get_int("stores.online_window_s") * 1000,
      logger_.child("pricing"), metrics_);
  orders_->set_quote_checker([this](const std::string& quote_id,
                                    const std::vector<wire::OrderLine>& lines,
                                    const wire::DeliveryLocation& delivery) {
    return pricing_->check_quote(quote_id, lines, delivery);
  });
  // Every new order's units count toward its products' popularity in search.
  orders_->set_placed_listener([this](const wire::Order& order) {
    std::vector<std::pair<std::string, std::int64_t>> lines;
    lines.reserve(order.lines.size());
    for (const wire::OrderLine& l : order.lines) lines.emplace_back(l.sku, l.qty);
    search_->count_order(lines);
  });

  if (config_.get_string("storage.backend") == "postgres") {
    auto stats = fleet::open_postgres_fleet_stats(config_.get_string("storage.postgres_dsn"));
    if (!stats.ok()) return stats.status().with_field_prefix("storage.postgres_dsn");
    fleet_stats_ = std::move(*stats);
  } else {
    auto stats = fleet::open_sqlite_fleet_stats(state_dir + "/cloud.db");
    if (!stats.ok()) return stats.status();
    fleet_stats_ = std::move(*stats);
  }
  fleet_ = std::make_unique<fleet::FleetService>(
      *store_, *fleet_stats_,
      [this](const std::vector<std::string>& ids) -> StatusOr<fleet::PricingState> {
        SHOPEASY_ASSIGN_OR_RETURN(pricing::PricingService::SurgeNow now, pricing_->surge_now(ids));
        fleet::PricingState out;
        out.enabled = now.enabled;
        for (auto& [id, fee] : now.fees) {
          out.surge[id] = fleet::SurgeState{
              .step = fee.step, .fee_cents = fee.fee_cents, .reason = std::move(fee.reason)};
        }
        return out;
      },
      clock_,
      fleet::FleetOptions{.breach_late_share = config_.get_double("fleet.breach_late_share"),
                          .breach_min_delivered = config_.get_int("fleet.breach_min_delivered"),
                          .online_window_ms = config_.get_int("stores.online_window_s") * 1000});

  // The /ops page may flip the pricing kill switch and edit the search synonyms with its
  // session cookie alone (CSRF header and Origin checked; see operator_sessions.hpp): in
  // an emergency an operator with the page open should not have to find a bearer token,
  // and the synonyms editor lives on the same page. Nothing else.
  operator_auth_ = std::make_unique<api::OperatorAuthenticator>(
      *audit_, clock_, *authenticator(),
      std::vector<std::string>{"PUT /v1/pricing/enabled", "PUT /v1/search/synonyms"});
  http_ = std::make_unique<http::HttpServer>(service::http_options(config_), operator_auth_.get(),
                                             logger_.child("http"), metrics_);
  http_->set_admission(rate_limit_->admission());
  http_->set_audit_sink(
      security::make_audit_sink(audit_->audit(), metrics_, logger_.child("audit")));
  register_routes();
  // Bound before serving: the payment gateway needs this instance's address, and its
  // routes must be in place before the first request can arrive.
  auto port = http_->bind();
  if (!port.ok()) return port.status();
  const std::string provider = config_.get_string("payments.provider");
  if (provider == "sandbox") {
    SHOPEASY_RETURN_IF_ERROR(start_payments(*port));
    logger_.warn("sandbox_payments",
                 {{"effect",
                   "orders are paid on the built-in test gateway's public page; "
                   "never use with real customers"}});
  } else if (provider == "stripe" || provider == "razorpay") {
    SHOPEASY_RETURN_IF_ERROR(start_payments(*port));
    const std::string api = config_.get_string("payments.api_base_url");
    logger_.info("payments",
                 {{"provider", provider}, {"api_base_url", api.empty() ? "default" : api}});
  } else {
    logger_.info("no_payment_provider", {{"effect", "POST /api/orders answers 503"}});
  }
  registry_->start();
  order_events_->start();
  if (notify_) notify_->start();
  port = http_->start();
  if (!port.ok()) return port.status();
  service::log_routes(*http_, logger_);
  logger_.info("started", {{"http_port", *port},
                           {"storage", config_.get_string("storage.backend")},
                           {"state_dir", state_dir}});
  return Status::ok();
}

void CloudDaemon::stop() {
  // The hub first: it wakes the streams waiting on it, so the server's stop does not
  // wait out their fallback interval.
  if (order_events_) order_events_->stop();
  if (http_) http_->stop();
  if (notify_) notify_->stop();
  if (registry_) registry_->stop();
  if (search_) search_->stop();
  payments_.reset();
}

// The payment provider and the webhook receiver for its scheme. The sandbox gateway posts
// its webhooks to payments.public_base_url when set (behind a load balancer any instance
// may take them), else to this instance's own address, which is only known once the
// server is bound (port 0): called between bind() and start(). Real providers post to
// the URL set in their dashboard, which should be <public_base_url>/v1/payments/webhook;
// confirm_url points at this cloud's checkout route.
payments::IntentOwnerFn CloudDaemon::intent_owner(payments::PaymentProvider* provider) {
  return [this, provider](const std::string& intent_id) -> StatusOr<std::string> {
    StatusOr<payments::PaymentIntent> intent = provider->get_intent(intent_id);
    if (!intent.ok()) return intent.status();
    StatusOr<storage::OrderRecord> order = store_->get_order(intent->order_id);
    if (!order.ok()) return order.status();
    return order->order.customer_id;
  };
}

Status CloudDaemon::start_payments(int http_port) {
  const std::string state_dir = config_.get_string("state_dir");
  const std::string provider = config_.get_string("payments.provider");
  const bool tls = !config_.get_string("http.tls_cert_file").empty();
  const std::string self =
      (tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(http_port);
  std::string secret = config_.get_string("payments.webhook_secret");
  if (secret.empty() && provider == "sandbox") {
    // A signing secret, so from the CSPRNG (std::random_device is not promised to be one).
    StatusOr<std::string> generated = security::random_hex(32);
    if (!generated.ok()) return generated.status();
    secret = std::move(*generated);
  }
  std::string base = config_.get_string("payments.public_base_url");
  if (base.empty()) base = self;
  payments::WebhookVerifierOptions verifier_options;
  verifier_options.secret = secret;
  verifier_options.db_path = state_dir + "/payment-webhooks.db";
  const std::chrono::milliseconds api_timeout(config_.get_int("payments.api_timeout_ms"));

  if (provider == "stripe") {
    payments::StripeOptions o;
    o.api_base_url = config_.get_string("payments.api_base_url");
    o.secret_key = config_.get_string("payments.stripe.secret_key");
    o.public_base_url = base;
    o.timeout = api_timeout;
    o.ca_file = config_.get_string("payments.api_ca_file");
    auto stripe = payments::StripeProvider::create(std::move(o), logger_.child("stripe"));
    if (!stripe.ok()) return stripe.status().with_field_prefix("payments");
    payments::StripeProvider* p = stripe->get();
    verifier_options.scheme = payments::WebhookScheme::kStripe;
    verifier_options.parser = payments::parse_stripe_event;
    payments::register_checkout_route(
        *http_, [p](const std::string& id) { return p->checkout(id); }, intent_owner(p));
    payments_ = std::move(*stripe);
  } else if (provider == "razorpay") {
    payments::RazorpayOptions o;
    o.api_base_url = config_.get_string("payments.api_base_url");
    o.key_id = config_.get_string("payments.razorpay.key_id");
    o.key_secret = config_.get_string("payments.razorpay.key_secret");
    o.db_path = state_dir + "/payments-razorpay.db";
    o.public_base_url = base;
    o.timeout = api_timeout;
    o.ca_file = config_.get_string("payments.api_ca_file");
    auto razorpay = payments::RazorpayProvider::open(std::move(o), logger_.child("razorpay"));
    if (!razorpay.ok()) return razorpay.status().with_field_prefix("payments");
    payments::RazorpayProvider* p = razorpay->get();
    verifier_options.scheme = payments::WebhookScheme::kRazorpay;
    verifier_options.tolerance =
        std::chrono::seconds(config_.get_int("payments.razorpay.webhook_max_age_s"));
    verifier_options.parser = [p](std::string_view body, std::string_view event_id) {
      return p->parse_event(body, event_id);
    };
    payments::register_checkout_route(
        *http_, [p](const std::string& id) { return p->checkout(id); }, intent_owner(p));
    payments::register_upi_route(*http_, *p, intent_owner(p));
    payments_ = std::move(*razorpay);
  } else {
    payments::SandboxOptions sandbox_options;
    sandbox_options.db_path = state_dir + "/payments-sandbox.db";
    sandbox_options.webhook_url = base + "/v1/payments/webhook";
    sandbox_options.webhook_secret = secret;
    sandbox_options.webhook_ca_file = config_.get_string("payments.webhook_ca_file");
    sandbox_options.public_base_url = base;
    // Delivery to ourselves: retry soon after a refusal rather than minutes later.
    sandbox_options.retry_max = std::chrono::seconds(30);
    auto sandbox = payments::SandboxProvider::open(std::move(sandbox_options),
                                                   logger_.child("payments"), metrics_);
    if (!sandbox.ok()) return sandbox.status().with_field_prefix("payments");
    payments::register_sandbox_routes(*http_, **sandbox);
    payments_ = std::move(*sandbox);
  }
  auto verifier = payments::WebhookVerifier::create(std::move(verifier_options),
                                                    logger_.child("webhooks"), metrics_);
  if (!verifier.ok()) return verifier.status().with_field_prefix("payments");
  webhooks_ = std::move(*verifier);
  orders_->set_payments(payments_.get());
  payments::register_webhook_route(*http_, *webhooks_, [this](const payments::PaymentEvent& e) {
    return orders_->on_payment_event(e);
  });
  return Status::ok();
}

// The issuer of the tokens the cloud signs: auth.jwt.issuer, or the program's name.
std::string CloudDaemon::own_issuer() const {
  const std::string configured = config_.get_string("auth.jwt.issuer");
  return configured.empty() ? std::string(kProgram.name) : configured;
}

Status CloudDaemon::setup_accounts(const std::string& state_dir) {
  const std::string provider = config_.get_string("accounts.sms_provider");
  if (provider == "none") return Status::ok();
  if (config_.get_string("storage.backend") == "postgres") {
    auto pg = accounts::open_postgres_account_store(config_.get_string("storage.postgres_dsn"));
    if (!pg.ok()) return pg.status();
    account_store_ = std::move(*pg);
  } else {
    // A file of its own: its schema versions are counted apart from cloud.db's.
    auto lite = accounts::open_sqlite_account_store(state_dir + "/accounts.db");
    if (!lite.ok()) return lite.status();
    account_store_ = std::move(*lite);
  }
  SHOPEASY_RETURN_IF_ERROR(account_store_->migrate());
  std::string key_file = config_.get_string("accounts.signing_key_file");
  if (key_file.empty()) key_file = state_dir + "/customer-jwt-key.pem";
  auto tokens = accounts::TokenService::open(
      accounts::TokenOptions{.key_file = key_file,
                             .issuer = own_issuer(),
                             .audience = config_.get_string("auth.jwt.audience"),
                             .access_ttl_s = config_.get_int("accounts.access_token_ttl_s"),
                             .refresh_ttl_s = config_.get_int("accounts.refresh_token_ttl_s")},
      *account_store_, clock_, logger_.child("tokens"), metrics_);
  if (!tokens.ok()) {
    const Status& st = tokens.status();
    return Status(st.code(), st.message(), "accounts.signing_key_file");
  }
  tokens_ = std::move(*tokens);
  accounts::OtpOptions o;
  o.allowed_country_codes.clear();
  const std::string codes = config_.get_string("accounts.allowed_country_codes");
  for (std::size_t start = 0; start <= codes.size();) {
    std::size_t end = codes.find(',', start);
    if (end == std::string::npos) end = codes.size();
    std::string cc = codes.substr(start, end - start);
    while (!cc.empty() && cc.front() == ' ') cc.erase(0, 1);
    while (!cc.empty() && cc.back() == ' ') cc.pop_back();
    if (!cc.empty() && cc.front() == '+') cc.erase(0, 1);
    if (!cc.empty()) o.allowed_country_codes.push_back(cc);
    start = end + 1;
  }
  o.secret = config_.get_string("accounts.otp_secret");
  if (o.secret.empty()) {
    // Derived from the signing key, so instances sharing the key share the secret.
    std::ifstream in(key_file, std::ios::binary);
    const std::string pem((std::istreambuf_iterator<char>(in)), {});
    o.secret = accounts::token_hash("otp-code-hmac\n" + pem);
  }
  o.per_phone_15m = config_.get_int("accounts.otp.per_phone_15m");
  o.per_phone_day = config_.get_int("accounts.otp.per_phone_day");
  o.per_client_15m = config_.get_int("accounts.otp.per_client_15m");
  o.per_client_day = config_.get_int("accounts.otp.per_client_day");
  o.per_prefix_hour = config_.get_int("accounts.otp.per_prefix_hour");
  o.global_per_day = config_.get_int("accounts.otp.global_per_day");
  o.verify_per_client_15m = config_.get_int("accounts.otp.verify_per_client_15m");
  if (provider == "http") {
    auto http_sms = accounts::HttpSmsProvider::create(accounts::HttpSmsOptions{
        .url = config_.get_string("accounts.sms.http_url"),
        .token = config_.get_string("accounts.sms.http_token"),
        .timeout = std::chrono::milliseconds(config_.get_int("accounts.sms.http_timeout_ms")),
        .ca_file = config_.get_string("accounts.sms.http_ca_file")});
    if (!http_sms.ok()) {
      const Status& st = http_sms.status();
      return Status(st.code(), st.message(), "accounts.sms.http_" + st.field());
    }
    sms_ = std::move(*http_sms);
  } else {
    sms_ = std::make_unique<accounts::SandboxSmsProvider>(*account_store_, clock_);
  }
  auto otp = accounts::OtpService::create(std::move(o), *account_store_, *sms_, clock_,
                                          logger_.child("otp"), metrics_);
  if (!otp.ok()) return otp.status().with_field_prefix("accounts");
  otp_ = std::move(*otp);
  if (provider == "sandbox") {
    logger_.warn("sandbox_sms", {{"effect",
                                  "sign-in codes are kept for admins (GET /v1/sandbox/sms), not "
                                  "sent; never use with real customers"}});
  }
  return Status::ok();
}

// The notification worker and the channels the store queues rows for. Set before any
// thread can change an order.
Status CloudDaemon::setup_notify() {
  if (!config_.get_bool("notify.enabled")) return Status::ok();
  notify::NotifyOptions o;
  o.webhook_url = config_.get_string("notify.webhook_url");
  o.webhook_secret = config_.get_string("notify.webhook_secret");
  o.webhook_timeout = std::chrono::milliseconds(config_.get_int("notify.webhook_timeout_ms"));
  o.retry = notify::RetryPolicy{.base_ms = config_.get_int("notify.retry_base_ms"),
                                .cap_ms = config_.get_int("notify.retry_max_ms"),
                                .max_age_ms = config_.get_int("notify.max_age_s") * 1000};
  o.lease_ms = config_.get_int("notify.lease_s") * 1000;
  o.batch_size = static_cast<int>(config_.get_int("notify.batch_size"));
  o.poll_interval = std::chrono::milliseconds(config_.get_int("notify.poll_interval_ms"));
  o.senders = static_cast<int>(config_.get_int("notify.senders"));
  o.purge_after_ms = config_.get_int("notify.purge_after_days") * 24 * 3600 * 1000;
  const bool sms = config_.get_bool("notify.sms") && sms_ != nullptr;
  auto service = notify::NotifyService::create(
      std::move(o), *store_, sms ? account_store_.get() : nullptr, sms ? sms_.get() : nullptr,
      clock_, logger_.child("notify"), metrics_);
  if (!service.ok()) return service.status().with_field_prefix("notify");
  notify_ = std::move(*service);
  const std::vector<std::string> channels = notify_->channels();
  store_->set_notification_channels(channels);
  std::string names;
  for (const std::string& c : channels) names += (names.empty() ? "" : ",") + c;
  if (channels.empty()) {
    logger_.warn("notify_no_channels",
                 {{"effect",
                   "notify.enabled but neither notify.webhook_url nor an SMS provider is set: "
                   "customers are told nothing"}});
  } else {
    logger_.info("notify", {{"channels", names}});
  }
  return Status::ok();
}

Status CloudDaemon::setup_customer_jwt() {
  const nlohmann::json& keys = config_.get_json("auth.jwt.keys");
  if (!keys.is_array()) return invalid_argument("must be an array", "auth.jwt.keys");
  if (keys.empty() && !tokens_) return Status::ok();
  std::vector<security::JwtKey> parsed;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string field = "auth.jwt.keys[" + std::to_string(i) + "]";
    const auto& k = keys[i];
    if (!k.is_object()) return invalid_argument("must be an object", field);
    security::JwtKey key;
    const std::string alg = k.value("alg", "");
    if (alg == "HS256") {
      key.algorithm = security::JwtAlgorithm::kHS256;
      if (!k.contains("secret") || !k["secret"].is_string()) {
        return invalid_argument("an HS256 key needs \"secret\"", field);
      }
      key.material = k["secret"].get<std::string>();
    } else if (alg == "RS256" || alg == "ES256") {
      key.algorithm =
          alg == "RS256" ? security::JwtAlgorithm::kRS256 : security::JwtAlgorithm::kES256;
      const std::string path = k.value("public_key_file", "");
      std::ifstream in(path);
      if (path.empty() || !in) {
        return invalid_argument("cannot read public_key_file '" + path + "'", field);
      }
      key.material.assign(std::istreambuf_iterator<char>(in), {});
    } else {
      return invalid_argument("alg must be HS256, RS256 or ES256", field + ".alg");
    }
    key.kid = k.value("kid", "");
    parsed.push_back(std::move(key));
  }
  // The cloud's own key verifies the tokens it issues, beside any external issuer's.
  if (tokens_) parsed.push_back(tokens_->public_key());
  security::JwtVerifierOptions o;
  o.issuer = tokens_ ? own_issuer() : config_.get_string("auth.jwt.issuer");
  o.audience = config_.get_string("auth.jwt.audience");
  o.leeway = std::chrono::seconds(config_.get_int("auth.jwt.leeway_s"));
  auto verifier = security::JwtVerifier::create(o, parsed, clock_);
  if (!verifier.ok()) {
    Status st = verifier.status();
    return Status(st.code(), st.message(),
                  st.field().rfind("keys", 0) == 0 ? "auth.jwt." + st.field() : "auth.jwt");
  }
  jwt_verifier_ = std::make_unique<security::JwtVerifier>(std::move(*verifier));
  jwt_auth_ = std::make_unique<security::JwtAuthenticator>(*jwt_verifier_, auth_.get());
  // A deleted account's access tokens are refused at once, not when they expire.
  if (account_store_) {
    deleted_gate_ = std::make_unique<accounts::DeletedAccountGate>(*jwt_auth_, *account_store_,
                                                                   clock_, metrics_);
  }
  return Status::ok();
}

const http::Authenticator* CloudDaemon::authenticator() const {
  if (deleted_gate_) return deleted_gate_.get();
  return jwt_auth_ ? static_cast<const http::Authenticator*>(jwt_auth_.get()) : auth_.get();
}

Status CloudDaemon::reload(const config::Config& fresh) {
  return security::apply_reload(fresh, config_, logger_, *rate_limit_, audit_->audit(), "cloud",
                                {});
}

void CloudDaemon::refresh_index(const std::vector<storage::StoreRecord>& stores) {
  std::vector<routing::IndexedStore> indexed;
  indexed.reserve(stores.size());
  for (const auto& s : stores) indexed.push_back(api::indexed_store(s));
  const routing::StoreIndex::ReconcileResult r = index_.reconcile(std::move(indexed));
  for (const Status& refused : r.refused) {
    logger_.error("routing_index_refused", {{"error", refused.to_string()}});
  }
  if (r.added + r.updated + r.removed > 0) {
    logger_.info("routing_index_changed", {{"added", static_cast<std::int64_t>(r.added)},
                                           {"updated", static_cast<std::int64_t>(r.updated)},
                                           {"removed", static_cast<std::int64_t>(r.removed)}});
  }
}

void CloudDaemon::tick() {
  if (orders_) orders_->tick();
  // Quotes a day past their expiry, once a minute; a failure is retried next time.
  if (pricing_ && clock_.mono_now() - last_quotes_purge_ >= std::chrono::minutes(1)) {
    last_quotes_purge_ = clock_.mono_now();
    StatusOr<std::int64_t> purged = pricing_->purge_quotes();
    if (!purged.ok()) logger_.warn("quotes_purge_failed", {{"error", purged.status().to_string()}});
  }
  // Finished notifications past notify.purge_after_days, once a minute; a failure is
  // retried next time.
  if (notify_ && clock_.mono_now() - last_notify_purge_ >= std::chrono::minutes(1)) {
    last_notify_purge_ = clock_.mono_now();
    StatusOr<std::int64_t> purged = notify_->purge();
    if (!purged.ok()) logger_.warn("notify_purge_failed", {{"error", purged.status().to_string()}});
  }
  // Expired sign-in codes, refresh tokens, old send counts and sandbox messages, once a
  // minute; a failure is retried next time.
  if (account_store_ && clock_.mono_now() - last_accounts_purge_ >= std::chrono::minutes(1)) {
    last_accounts_purge_ = clock_.mono_now();
    StatusOr<std::int64_t> purged = account_store_->purge(to_unix_ms(clock_.wall_now()));
    if (!purged.ok())
      logger_.warn("accounts_purge_failed", {{"error", purged.status().to_string()}});
  }
}

void CloudDaemon::check_lagging(const std::vector<storage::StoreRecord>& stores) {
  const std::int64_t now = to_unix_ms(clock_.wall_now());
  const std::int64_t alert_ms = config_.get_int("stores.lag_alert_s") * 1000;
  std::set<std::string> lagging;
  for (const auto& s : stores) {
    if (!s.registration.active || s.last_seen_ms == 0) continue;
    if (now - s.last_seen_ms > alert_ms) {
      lagging.insert(s.registration.id);
      if (!lagging_.count(s.registration.id)) {
        logger_.warn("store_sync_lagging", {{"store", s.registration.id},
                                            {"seconds_since_seen", (now - s.last_seen_ms) / 1000}});
      }
    } else if (lagging_.count(s.registration.id)) {
      logger_.info("store_sync_recovered", {{"store", s.registration.id}});
    }
  }
  lagging_ = std::move(lagging);
  lagging_gauge_->set(static_cast<double>(lagging_.size()));
}

nlohmann::json CloudDaemon::health() const {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.mono_now() - started_at_);
  return {{"status", "ok"},
          {"service", kProgram.name},
          {"version", kProgram.version},
          {"storage", config_.get_string("storage.backend")},
          {"uptime_s", uptime.count()}};
}

void CloudDaemon::register_routes() {
  service::add_health_and_metrics(*http_, metrics_, [this] { return health(); });
  routes_->register_routes(*http_);
  search_routes_->register_routes(*http_);
  pricing::register_pricing_routes(*http_, *pricing_);
  fleet::register_fleet_routes(*http_, *fleet_);
  http_->route("GET", "/v1/audit", http::Access::roles_of({"admin"}),
               [this](const http::Request& req) {
                 return security::audit_query_response(audit_->audit(), req);
               });
  order_events_ = std::make_unique<api::OrderEventHub>(
      *store_, clock_, api::OrderEventHub::Options{}, logger_.child("order_events"), metrics_);
  api::register_order_routes(*http_, *orders_, *store_, api::OrderRouteOptions{},
                             order_events_.get(), clock_);
  webui::register_ops_page(*http_);
  api::register_operator_session_routes(
      *http_, *audit_, clock_, metrics_,
      api::OperatorSessionOptions{.secure_cookie =
                                      !config_.get_string("http.tls_cert_file").empty()});
  webui::register_shop_page(*http_);
  // Any customer's own orders, whoever issued their token.
  accounts::register_my_orders_route(*http_, *store_);
  accounts::register_account_deletion_route(*http_, *store_, account_store_.get(), clock_,
                                            logger_.child("accounts"), metrics_);
  notify::register_notify_routes(*http_, *store_, clock_, metrics_);
  if (otp_) {
    accounts::register_account_routes(*http_, *otp_, *tokens_, *account_store_,
                                      config_.get_string("accounts.sms_provider") == "sandbox");
    accounts::register_address_routes(*http_, *account_store_, clock_);
  }
  apidoc::register_openapi_route(*http_, "cloud.openapi.json");
}

int run_cloud(int argc, const char* const* argv) {
  return service::run_daemon(
      kProgram, cloud_schema(), argc, argv,
      [](config::Config config, log::Logger logger) {
        return std::make_unique<CloudDaemon>(std::move(config), std::move(logger));
      },
      validate_cloud_config);
}

}  // namespace shopeasy::cloud
