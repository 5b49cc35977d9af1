#include "cloud/accounts/deleted_account_gate.hpp"

#include <chrono>

namespace shopeasy::cloud::accounts {
namespace {

metrics::CounterFamily& refusals(metrics::Registry& metrics) {
  return metrics.counter_family("cloud_auth_customer_refused_total",
                                "Customer tokens refused after a valid signature, by reason",
                                {"reason"});
}

}  // namespace

DeletedAccountGate::DeletedAccountGate(const http::Authenticator& inner, AccountStore& store,
                                       const Clock& clock, metrics::Registry& metrics)
    : inner_(inner),
      store_(store),
      clock_(clock),
      deleted_(refusals(metrics).with({"account_deleted"})),
      check_failed_(refusals(metrics).with({"check_failed"})),
      check_seconds_(metrics.histogram(
          "cloud_auth_deleted_check_seconds",
          "Time to ask the account store whether a customer token's account was deleted",
          {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05})) {}

StatusOr<http::Principal> DeletedAccountGate::authenticate(const http::Request& request) const {
  SHOPEASY_ASSIGN_OR_RETURN(http::Principal principal, inner_.authenticate(request));
  if (principal.role != "customer") return principal;
  const auto started = clock_.mono_now();
  StatusOr<bool> deleted = store_.customer_deleted(principal.subject);
  check_seconds_.observe(std::chrono::duration<double>(clock_.mono_now() - started).count());
  if (!deleted.ok()) {
    check_failed_.inc();
    return unavailable("cannot check the customer account now; try again");
  }
  if (*deleted) {
    deleted_.inc();
    return Status(StatusCode::kUnauthenticated,
                  "the account of this token was deleted; sign in again");
  }
  return principal;
}

}  // namespace shopeasy::cloud::accounts
