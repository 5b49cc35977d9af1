#include "cloud/notify/notification_text.hpp"

#include <algorithm>

namespace shopeasy::cloud::notify {

std::string notification_text(std::string_view kind, const std::string& order_id,
                              const nlohmann::json& body, std::int64_t at_ms) {
  const std::string order = "ShopEasy: your order " + order_id;
  if (kind == "confirmed") return order + " is confirmed.";
  if (kind == "packed") return order + " is packed.";
  if (kind == "out_for_delivery") {
    const std::int64_t eta = body.value("eta_ms", std::int64_t{0});
    const std::int64_t at = body.value("at_ms", at_ms);
    if (eta > at) {
      const std::int64_t minutes = std::max<std::int64_t>(1, (eta - at + 59'999) / 60'000);
      return order + " is on its way, arriving in about " + std::to_string(minutes) + " min.";
    }
    return order + " is on its way.";
  }
  if (kind == "delivered") return order + " was delivered.";
  if (kind == "cancelled") return order + " was cancelled.";
  if (kind == "refunded") return order + " was refunded.";
  if (kind == "failed") return order + " could not be completed; any payment is refunded.";
  return order + " changed: " + std::string(kind) + ".";
}

}  // namespace shopeasy::cloud::notify
