#include "cloud/accounts/account_deletion_route.hpp"

#include "common/security/encoding.hpp"

namespace shopeasy::cloud::accounts {

void register_account_deletion_route(http::HttpServer& server, storage::CloudStore& orders,
                                     AccountStore* accounts, const Clock& clock, log::Logger logger,
                                     metrics::Registry& metrics) {
  metrics::CounterFamily& outcomes = metrics.counter_family(
      "cloud_account_deletions_total", "Account deletions asked for, by outcome", {"outcome"});
  server.route(
      "DELETE", "/api/me", http::Access::roles_of({"customer"}),
      [&orders, accounts, &clock, logger, &outcomes](const http::Request& r) {
        const std::string& customer = r.principal.subject;
        // Random, so the tombstone cannot be traced back to the customer id.
        StatusOr<std::string> random = security::random_hex(16);
        if (!random.ok()) return http::Response::error(random.status());
        const std::string tombstone = "forgotten-" + *random;
        StatusOr<storage::ForgetResult> forgot =
            orders.forget_customer(customer, tombstone, to_unix_ms(clock.wall_now()));
        if (!forgot.ok()) {
          outcomes.with({"error"}).inc();
          return http::Response::error(forgot.status());
        }
        if (forgot->open_orders > 0) {
          outcomes.with({"orders_in_progress"}).inc();
          return http::Response::error(failed_precondition(
              std::to_string(forgot->open_orders) +
              " order(s) still open; delete the account once they are delivered or cancelled"));
        }
        if (accounts != nullptr) {
          StatusOr<bool> deleted =
              accounts->delete_customer(customer, to_unix_ms(clock.wall_now()));
          if (!deleted.ok()) {
            outcomes.with({"error"}).inc();
            return http::Response::error(deleted.status());
          }
        }
        outcomes.with({"deleted"}).inc();
        // The tombstone is logged so support can answer an accounting question about the
        // orders; the customer id is not, since the point is to drop the link.
        logger.info("account_deleted", {{"tombstone", tombstone},
                                        {"orders", forgot->orders_forgotten},
                                        {"stores_told", forgot->stores_told}});
        return http::Response::json(200, {{"deleted", true},
                                          {"orders_anonymised", forgot->orders_forgotten},
                                          {"stores_told", forgot->stores_told}});
      });
}

}  // namespace shopeasy::cloud::accounts
