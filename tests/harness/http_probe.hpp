// HttpProbe: a minimal blocking HTTP/1.1 client for integration tests, written on a
// plain socket so it shares nothing with the HTTP stack under test. One request per
// connection ("Connection: close"); responses framed by Content-Length, chunked
// transfer encoding or connection close are all understood.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/status/status.hpp"

namespace shopeasy::testing {

struct HttpReply {
  int status = 0;
  std::string body;  // De-chunked.
  // Header names lower-cased ("content-type"); repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
};

// Sends one request and reads the reply within `timeout` (connect included). Adds Host,
// Connection: close and, when there is a body or the method is POST/PUT/PATCH,
// Content-Length, unless `headers` sets them. kInvalidArgument for a CR or LF in the
// method, path or headers; kUnavailable when the connection fails or the reply is
// malformed; kDeadlineExceeded on timeout.
StatusOr<HttpReply> http_request_checked(
    const std::string& host, int port, std::string_view method, std::string_view path,
    std::string_view body = {}, const std::map<std::string, std::string>& headers = {},
    std::chrono::milliseconds timeout = std::chrono::seconds(5));

// As http_request_checked, with every failure folded into nullopt.
std::optional<HttpReply> http_request(const std::string& host, int port, std::string_view method,
                                      std::string_view path, std::string_view body = {},
                                      const std::map<std::string, std::string>& headers = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Recording for the contract check (tests/contract/replay_main.cpp): when the environment
// variable SHOPEASY_RECORD_REPLIES names a directory, every reply that http_request and
// http_request_checked get from a port registered here is appended, one JSON object per
// line ({"service","method","path","status","type","body"}), to <dir>/<pid>.jsonl.
// start_daemon registers each daemon it starts. Thread-safe.
void record_replies_of(int port, const std::string& service);

// Records a reply read by other means (a stream read only until enough of it arrived,
// see read_stream in tests/integration) as http_request would have.
void record_reply(int port, std::string_view method, std::string_view path, const HttpReply& reply);

}  // namespace shopeasy::testing
