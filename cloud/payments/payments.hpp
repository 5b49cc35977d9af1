// Payments for cloud orders: the PaymentProvider interface, the built-in sandbox
// gateway with its hosted payment page, the Stripe and Razorpay adapters with their
// checkout and UPI routes, and the signed-webhook receiver. The order flow includes
// this one header.
#pragma once

#include "cloud/payments/payment_types.hpp"
#include "cloud/payments/provider_routes.hpp"
#include "cloud/payments/razorpay_provider.hpp"
#include "cloud/payments/sandbox_provider.hpp"
#include "cloud/payments/stripe_provider.hpp"
#include "cloud/payments/webhook.hpp"
