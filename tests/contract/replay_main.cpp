// contract_replay: checks every reply the integration tests recorded (see
// tests/harness/http_probe.hpp, SHOPEASY_RECORD_REPLIES) against the daemon's OpenAPI
// document: the route is documented, the status is documented for it, the content type
// is one it lists, a JSON body conforms to its schema, and each event of an event
// stream is of a documented type whose data conforms to that type's schema
// (`x-events`). The contract test makes its own calls; this covers the thousands the
// other tests make, bad inputs included.
//
// Usage: contract_replay --cloud DOC --edge DOC DIR
// Prints each distinct finding once with how often it was seen and one example, then a
// summary; exits 1 when there is a finding, 2 on a usage or I/O error.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/contract/json_schema.hpp"
#include "tests/contract/sse.hpp"

namespace {

using nlohmann::json;
namespace contract = shopeasy::contract;

std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t end = std::min(path.find('/', i), path.size());
    out.emplace_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

// The documented path a concrete one falls under: same number of segments, every
// literal segment equal; the one with the most literal segments wins ("/api/orders/me"
// before "/api/orders/{id}"). Empty when none.
std::string documented_path(const json& doc, const std::string& method, std::string_view path) {
  const std::vector<std::string> want = segments(path);
  std::string best;
  int best_literals = -1;
  for (const auto& [templ, ops] : doc.at("paths").items()) {
    if (!ops.contains(method)) continue;
    const std::vector<std::string> have = segments(templ);
    if (have.size() != want.size()) continue;
    int literals = 0;
    bool match = true;
    for (std::size_t i = 0; i < have.size() && match; ++i) {
      if (have[i].size() > 1 && have[i].front() == '{' && have[i].back() == '}') continue;
      if (have[i] != want[i]) match = false;
      ++literals;
    }
    if (match && literals > best_literals) {
      best = templ;
      best_literals = literals;
    }
  }
  return best;
}

struct Finding {
  int count = 0;
  std::string example;
};

}  // namespace

int main(int argc, char** argv) {
  std::string cloud_doc, edge_doc, dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--cloud" && i + 1 < argc) {
      cloud_doc = argv[++i];
    } else if (arg == "--edge" && i + 1 < argc) {
      edge_doc = argv[++i];
    } else if (!arg.empty() && arg[0] != '-') {
      dir = arg;
    } else {
      std::cerr << "usage: contract_replay --cloud DOC --edge DOC DIR\n";
      return 2;
    }
  }
  if (cloud_doc.empty() || edge_doc.empty() || dir.empty()) {
    std::cerr << "usage: contract_replay --cloud DOC --edge DOC DIR\n";
    return 2;
  }
  std::map<std::string, json> docs;
  for (const auto& [service, file] :
       {std::pair{"shopeasy-cloud", cloud_doc}, std::pair{"shopeasy-edge", edge_doc}}) {
    std::ifstream in(file);
    json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.contains("paths")) {
      std::cerr << "contract_replay: " << file << " is not an OpenAPI document\n";
      return 2;
    }
    docs[service] = std::move(doc);
  }

  std::map<std::string, Finding> findings;  // "<service> <what>" -> count and example
  std::map<std::string, int> checked;       // service -> replies checked
  int skipped = 0;
  int events_checked = 0;  // events of recorded event streams
  auto note = [&](const std::string& key, const std::string& example) {
    Finding& f = findings[key];
    if (f.count++ == 0) f.example = example;
  };
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".jsonl") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      const json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || !r.is_object()) continue;
      const std::string service = r.value("service", "");
      auto doc_it = docs.find(service);
      if (doc_it == docs.end()) continue;
      const json& doc = doc_it->second;
      std::string method = r.value("method", "");
      std::transform(method.begin(), method.end(), method.begin(), ::tolower);
      std::string path = r.value("path", "");
      path = path.substr(0, path.find('?'));
      const int status = r.value("status", 0);
      const std::string body = r.value("body", "");
      const std::string example = r.value("method", "") + " " + r.value("path", "") + " -> " +
                                  std::to_string(status) + " " + body.substr(0, 240);
      const std::string templ = documented_path(doc, method, path);
      if (templ.empty()) {
        // Probes of unknown routes (404, 405) are the tests' business; a route that
        // answers with success but is not in the document is a gap.
        if (status < 400)
          note(service + " undocumented route " + r.value("method", "") + " " + path, example);
        else
          ++skipped;
        continue;
      }
      ++checked[service];
      const std::string op_name = r.value("method", "") + " " + templ;
      const json& op = doc.at("paths").at(templ).at(method);
      const std::string code = std::to_string(status);
      // A route that exists only under another configuration is not there to answer.
      if (status == 404 && op.contains("x-registered-when") &&
          body.find("no route for") != std::string::npos) {
        ++skipped;
        continue;
      }
      if (!op.at("responses").contains(code)) {
        note(service + " " + op_name + ": status " + code + " not documented", example);
        continue;
      }
      const json& response = op.at("responses").at(code);
      if (!response.contains("content")) continue;
      const std::string type_header = r.value("type", "");
      const std::string type = type_header.substr(0, type_header.find(';'));
      const json& content = response.at("content");
      if (!content.contains(type) && !content.contains("application/octet-stream") &&
          !content.contains("*/*")) {
        note(service + " " + op_name + " " + code + ": content type '" + type + "' not documented",
             example);
        continue;
      }
      // One finding per rule broken, whatever the array index.
      auto note_errors = [&](const std::string& prefix,
                             const std::vector<contract::SchemaError>& errors,
                             const std::string& sample) {
        for (const auto& e : errors) {
          std::string where = e.path;
          for (std::size_t i = 0; (i = where.find('[', i)) != std::string::npos;) {
            const std::size_t end = where.find(']', i);
            if (end == std::string::npos) break;
            where.replace(i, end - i + 1, "[]");
            i += 2;
          }
          std::string what = e.message;
          if (what.size() > 120) what = what.substr(0, 120) + "...";
          note(prefix + ": " + where + " " + what, sample);
        }
      };
      if (type == "text/event-stream" && content.contains(type)) {
        // Each complete event's data against the schema documented for its type; a
        // stream recorded mid-event (or cut) loses only its unfinished last event.
        const json events = content.at(type).value("x-events", json::object());
        const std::string prefix = service + " " + op_name + " " + code + " event ";
        for (const contract::SseEvent& event : contract::parse_sse(body)) {
          ++events_checked;
          const std::string sample = r.value("method", "") + " " + r.value("path", "") +
                                     " -> event: " + event.type +
                                     " data: " + event.data.substr(0, 200);
          if (!events.contains(event.type)) {
            note(prefix + event.type + ": event type not documented", sample);
            continue;
          }
          if (!events.at(event.type).contains("schema")) {
            note(prefix + event.type + ": no data schema documented", sample);
            continue;
          }
          const json data = json::parse(event.data, nullptr, false);
          if (data.is_discarded()) {
            note(prefix + event.type + ": data is not JSON", sample);
            continue;
          }
          note_errors(
              prefix + event.type,
              contract::SchemaValidator(doc).validate(data, events.at(event.type).at("schema")),
              sample);
        }
        continue;
      }
      if (type != "application/json" || !content.contains(type) || r.value("truncated", false)) {
        continue;
      }
      const json value = json::parse(body, nullptr, false);
      if (value.is_discarded()) {
        note(service + " " + op_name + " " + code + ": body is not JSON", example);
        continue;
      }
      if (!content.at(type).contains("schema")) continue;
      note_errors(service + " " + op_name + " " + code,
                  contract::SchemaValidator(doc).validate(value, content.at(type).at("schema")),
                  example);
    }
  }
  for (const auto& [key, f] : findings) {
    std::cout << "FINDING (" << f.count << "x) " << key << "\n    e.g. " << f.example << "\n";
  }
  int total = 0;
  for (const auto& [service, n] : checked) total += n;
  std::cout << "contract_replay: " << total << " recorded replies checked (";
  bool first = true;
  for (const auto& [service, n] : checked) {
    std::cout << (first ? "" : ", ") << service << " " << n;
    first = false;
  }
  std::cout << "), " << events_checked << " streamed events checked, " << skipped
            << " refusals of routes not registered skipped, " << findings.size()
            << " distinct findings\n";
  return findings.empty() ? 0 : 1;
}
