// What a customer is told of their order, in one sentence: the SMS text and the
// `notification` the live order stream carries are this text. A rules unit of its own,
// so the storage layer (which writes the notification with the status, in one
// transaction) and the notification worker both use it without storage depending on
// the worker. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace shopeasy::cloud::notify {

// The sentence for a change of `kind` ("confirmed", "packed", "out_for_delivery",
// "delivered", "cancelled", "refunded", "failed"; anything else is named as it is) to
// `order_id`, whose status event body is `body` (its "eta_ms" and "at_ms" give the
// minutes left when out for delivery). `at_ms` stands in for the body's own at_ms when
// it has none.
std::string notification_text(std::string_view kind, const std::string& order_id,
                              const nlohmann::json& body, std::int64_t at_ms);

}  // namespace shopeasy::cloud::notify
