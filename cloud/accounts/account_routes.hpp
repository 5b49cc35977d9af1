// The customer sign-in routes: POST /api/auth/otp, /api/auth/verify, /api/auth/refresh,
// /api/auth/logout, GET /.well-known/jwks.json (public), GET /api/me (customer) and,
// with the sandbox SMS provider, GET /v1/sandbox/sms (admin). Bodies are small JSON
// objects; anything else is refused naming the field, counted, with nothing changed.
#pragma once

#include "cloud/accounts/account_store.hpp"
#include "cloud/accounts/otp_service.hpp"
#include "cloud/accounts/token_service.hpp"
#include "common/http/server.hpp"

namespace shopeasy::cloud::accounts {

// Largest body the sign-in routes read.
inline constexpr std::size_t kMaxAuthBodyBytes = 4096;

// The services and store must outlive the server.
void register_account_routes(http::HttpServer& server, OtpService& otp, TokenService& tokens,
                             AccountStore& store, bool sandbox_sms);

}  // namespace shopeasy::cloud::accounts
