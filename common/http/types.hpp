// The project's own HTTP request and response, so handlers never see cpp-httplib:
// they can be unit-tested without a socket and the server library can be swapped in
// one place (server.cpp).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::http {

struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

using Headers = std::map<std::string, std::string, CaseInsensitiveLess>;

// Who made a request, as established by an Authenticator.
struct Principal {
  std::string subject;  // token or user name, store id, customer id
  std::string role;     // "admin", "manager", "picker", "viewer", "store", "customer"
  bool authenticated() const { return !role.empty(); }
};

struct Request {
  std::string method;
  std::string path;
  std::string body;
  std::string remote_addr;
  Headers headers;
  std::map<std::string, std::string> query;
  std::vector<std::string> params;  // the route pattern's capture groups, in order
  Principal principal;

  // The header's value, or empty when absent.
  std::string header(std::string_view name) const;
  std::optional<std::string> query_param(std::string_view name) const;
  // Whether the Content-Type is application/json (parameters such as charset allowed).
  bool is_json() const;
};

// Receives the body of a streamed response (Server-Sent Events). write() returns
// false once the client has gone; the producer then stops.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool write(std::string_view data) = 0;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced by this function instead of `body`: it is called
  // repeatedly with the writer until it returns false (finished or client gone).
  std::function<bool(StreamWriter&)> stream;

  static Response json(int status, const nlohmann::json& body);
  static Response text(int status, std::string body, std::string content_type = "text/plain");
  // The project's one error shape: {"error":{"code":"...","message":"...","field":"..."}}
  // with the HTTP status chosen by http_status_for().
  static Response error(const Status& status);
  Response& with_header(std::string name, std::string value);
};

// The HTTP status for a Status code, chosen by what the client should do next.
int http_status_for(StatusCode code);
// The error body for a Status; `field` is omitted when empty.
std::string error_body(const Status& status);

}  // namespace shopeasy::http
