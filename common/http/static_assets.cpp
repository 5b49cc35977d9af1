#include "common/http/static_assets.hpp"

#include <regex>

namespace shopeasy::http {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// If-None-Match may list several ETags, weak or strong, or "*".
bool etag_matches(std::string_view header, std::string_view quoted) {
  if (header.empty()) return false;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view tag = header.substr(pos, end - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
    if (tag.rfind("W/", 0) == 0) tag.remove_prefix(2);
    if (tag == "*" || tag == quoted) return true;
    pos = end + 1;
  }
  return false;
}

// Pages may use only what they ship; styles may be set inline by the scripts.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

}  // namespace

std::string_view content_type_for(std::string_view path) {
  struct Type {
    std::string_view ext;
    std::string_view type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".webmanifest", "application/manifest+json"},
  };
  for (const auto& t : kTypes) {
    if (ends_with(path, t.ext)) return t.type;
  }
  return "application/octet-stream";
}

const EmbeddedFile* StaticAssets::find(std::string_view path) const {
  for (const auto& f : files_) {
    if (path == f.path) return &f;
  }
  return nullptr;
}

Response StaticAssets::serve(const Request& request, std::string_view path) const {
  const EmbeddedFile* f = find(path);
  if (f == nullptr) {
    return Response::error(not_found("no file " + std::string(path) + " in the page"));
  }
  const std::string etag = "\"" + std::string(f->etag) + "\"";
  Response r;
  r.content_type = std::string(content_type_for(f->path));
  if (etag_matches(request.header("If-None-Match"), etag)) {
    r.status = 304;
  } else {
    r.status = 200;
    r.body.assign(reinterpret_cast<const char*>(f->data), f->size);
  }
  r.with_header("ETag", etag)
      .with_header("Cache-Control", "no-cache")
      .with_header("X-Content-Type-Options", "nosniff")
      .with_header("Referrer-Policy", "no-referrer");
  for (const FileHeader& h : headers_) {
    if (h.path == f->path) r.with_header(h.name, h.value);
  }
  if (ends_with(f->path, ".html")) {
    r.with_header("Content-Security-Policy", kPolicy).with_header("X-Frame-Options", "DENY");
  }
  return r;
}

void StaticAssets::register_routes(HttpServer& server, const std::string& index_route,
                                   const std::string& index_file, const std::string& prefix) const {
  server.route("GET",
               std::regex_replace(index_route, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"),
               Access::public_route(),
               [this, index_file](const Request& r) { return serve(r, index_file); });
  const std::string escaped =
      std::regex_replace(prefix, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)");
  server.route("GET", escaped + "([A-Za-z0-9._/-]{1,200})", Access::public_route(),
               [this](const Request& r) { return serve(r, r.params.at(0)); });
}

}  // namespace shopeasy::http
