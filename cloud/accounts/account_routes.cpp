#include "cloud/accounts/account_routes.hpp"

#include "common/http/request_helpers.hpp"

namespace shopeasy::cloud::accounts {
namespace {

using http::Access;
using http::Request;
using http::Response;
using nlohmann::json;

// The body as a JSON object of at most kMaxAuthBodyBytes.
StatusOr<json> small_body(const Request& r) {
  if (r.body.empty()) return invalid_argument("the body is empty; send a JSON object", "body");
  if (r.body.size() > kMaxAuthBodyBytes) {
    return Status(StatusCode::kPayloadTooLarge,
                  "the body must be at most " + std::to_string(kMaxAuthBodyBytes) + " bytes",
                  "body");
  }
  return http::json_body(r);
}

// A required string field of at most max_len bytes.
StatusOr<std::string> string_field(const json& body, const char* name, std::size_t max_len) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return invalid_argument("is required", name);
  if (!it->is_string()) return invalid_argument("must be a string", name);
  std::string value = it->get<std::string>();
  if (value.empty()) return invalid_argument("is required", name);
  if (value.size() > max_len) {
    return invalid_argument("must be at most " + std::to_string(max_len) + " bytes", name);
  }
  return value;
}

json pair_json(const TokenPair& p) {
  return {{"access_token", p.access_token},
          {"token_type", "Bearer"},
          {"expires_in", p.expires_in_s},
          {"refresh_token", p.refresh_token},
          {"customer_id", p.customer_id}};
}

// Refuses a bad request, counting it by the field it names.
Response refuse(OtpService& otp, const Status& st) {
  if (st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kPayloadTooLarge ||
      st.code() == StatusCode::kUnsupportedMediaType) {
    otp.count_bad_request(st.field().empty() ? "body" : st.field());
  }
  return Response::error(st);
}

}  // namespace

void register_account_routes(http::HttpServer& server, OtpService& otp, TokenService& tokens,
                             AccountStore& store, bool sandbox_sms) {
  server.route("POST", "/api/auth/otp", Access::public_route(), [&otp](const Request& r) {
    StatusOr<json> body = small_body(r);
    if (!body.ok()) return refuse(otp, body.status());
    StatusOr<std::string> phone = string_field(*body, "phone", 32);
    if (!phone.ok()) return refuse(otp, phone.status());
    StatusOr<OtpSendResult> sent = otp.send(*phone, r.remote_addr);
    if (!sent.ok()) return Response::error(sent.status());  // send() counted bad numbers
    if (!sent->sent) {
      return Response::error(Status(StatusCode::kResourceExhausted,
                                    "too many codes requested; retry after " +
                                        std::to_string(sent->retry_after_s) + " s",
                                    "phone"))
          .with_header("Retry-After", std::to_string(sent->retry_after_s));
    }
    // The same answer whether or not the number has an account.
    return Response::json(202, {{"sent", true}, {"expires_in", sent->expires_in_s}});
  });

  server.route(
      "POST", "/api/auth/verify", Access::public_route(), [&otp, &tokens](const Request& r) {
        StatusOr<json> body = small_body(r);
        if (!body.ok()) return refuse(otp, body.status());
        StatusOr<std::string> phone = string_field(*body, "phone", 32);
        if (!phone.ok()) return refuse(otp, phone.status());
        StatusOr<std::string> code = string_field(*body, "code", 16);
        if (!code.ok()) return refuse(otp, code.status());
        StatusOr<OtpVerifyResult> checked = otp.verify(*phone, *code, r.remote_addr);
        if (!checked.ok()) return Response::error(checked.status());
        if (checked->customer_id.empty()) {
          return Response::error(Status(StatusCode::kResourceExhausted,
                                        "too many code checks from this address; retry after " +
                                            std::to_string(checked->retry_after_s) + " s",
                                        "code"))
              .with_header("Retry-After", std::to_string(checked->retry_after_s));
        }
        StatusOr<TokenPair> pair = tokens.issue(checked->customer_id);
        if (!pair.ok()) return Response::error(pair.status());
        return Response::json(200, pair_json(*pair));
      });

  server.route("POST", "/api/auth/refresh", Access::public_route(),
               [&otp, &tokens](const Request& r) {
                 StatusOr<json> body = small_body(r);
                 if (!body.ok()) return refuse(otp, body.status());
                 StatusOr<std::string> token = string_field(*body, "refresh_token", 128);
                 if (!token.ok()) return refuse(otp, token.status());
                 StatusOr<TokenPair> pair = tokens.refresh(*token);
                 if (!pair.ok()) return refuse(otp, pair.status());
                 return Response::json(200, pair_json(*pair));
               });

  server.route("POST", "/api/auth/logout", Access::public_route(),
               [&otp, &tokens](const Request& r) {
                 StatusOr<json> body = small_body(r);
                 if (!body.ok()) return refuse(otp, body.status());
                 StatusOr<std::string> token = string_field(*body, "refresh_token", 128);
                 if (!token.ok()) return refuse(otp, token.status());
                 if (Status st = tokens.logout(*token); !st.is_ok()) return refuse(otp, st);
                 return Response::json(200, {{"signed_out", true}});
               });

  server.route("GET", R"(/\.well-known/jwks\.json)", Access::public_route(),
               [&tokens](const Request&) {
                 return Response::json(200, tokens.jwks())
                     .with_header("Cache-Control", "public, max-age=300");
               });

  server.route("GET", "/api/me", Access::roles_of({"customer"}), [&store](const Request& r) {
    StatusOr<std::string> phone = store.phone_of(r.principal.subject);
    // A customer of an external issuer has no phone number here.
    json me = {{"customer_id", r.principal.subject}};
    if (phone.ok()) {
      me["phone"] = *phone;
    } else if (phone.status().code() != StatusCode::kNotFound) {
      return Response::error(phone.status());
    }
    return Response::json(200, me);
  });

  if (sandbox_sms) {
    server.route("GET", "/v1/sandbox/sms", Access::roles_of({"admin"}), [&store](const Request& r) {
      StatusOr<std::optional<std::string>> phone = http::string_param(r, "phone", 32);
      if (!phone.ok()) return Response::error(phone.status());
      if (!phone->has_value()) return Response::error(invalid_argument("is required", "phone"));
      StatusOr<std::optional<std::int64_t>> limit = http::int_param(r, "limit", 1, 100);
      if (!limit.ok()) return Response::error(limit.status());
      StatusOr<std::vector<SandboxSms>> messages = store.sandbox_sms(**phone, limit->value_or(10));
      if (!messages.ok()) return Response::error(messages.status());
      json out = json::array();
      for (const SandboxSms& m : *messages) {
        out.push_back({{"phone", m.phone}, {"body", m.body}, {"at_ms", m.at_ms}});
      }
      return Response::json(200, {{"messages", out}});
    });
  }
}

}  // namespace shopeasy::cloud::accounts
