#include "common/search/synonyms.hpp"

#include <algorithm>

#include "common/search/text.hpp"

namespace shopeasy::search {

extern const char kBuiltinSynonyms[];

std::string_view builtin_synonyms_text() { return kBuiltinSynonyms; }

std::string join_phrase(const Phrase& p) {
  std::string out;
  for (const auto& w : p) {
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

Status Synonyms::add_group(const std::vector<std::string>& members, const std::string& field) {
  std::vector<Phrase> group;
  for (std::size_t i = 0; i < members.size(); ++i) {
    Phrase p = tokenize(members[i]);
    const std::string where = field + "[" + std::to_string(i) + "]";
    if (p.empty()) return invalid_argument("a member has no letters or digits", where);
    if (p.size() > kMaxPhraseWords) {
      return invalid_argument("a member has more than 3 words", where);
    }
    if (std::find(group.begin(), group.end(), p) == group.end()) group.push_back(std::move(p));
  }
  if (group.size() < 2) return invalid_argument("a group needs two different members", field);
  const std::size_t id = groups_.size();
  for (const Phrase& p : group) {
    by_key_[join_phrase(p)].push_back(id);
    longest_ = std::max(longest_, p.size());
    if (p.size() == 1) single_words_.push_back(p[0]);
  }
  groups_.push_back(std::move(group));
  return Status::ok();
}

StatusOr<Synonyms> Synonyms::parse(std::string_view text) {
  Synonyms out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    line = line.substr(0, line.find('#'));
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::vector<std::string> members;
    while (true) {
      const std::size_t bar = line.find('|');
      members.emplace_back(line.substr(0, bar));
      if (bar == std::string_view::npos) break;
      line = line.substr(bar + 1);
    }
    Status st = out.add_group(members, "line " + std::to_string(line_no));
    if (!st.is_ok()) return st;
  }
  out.finish();
  return out;
}

const Synonyms& Synonyms::builtin() {
  static const Synonyms table = [] {
    auto parsed = parse(builtin_synonyms_text());
    // The table is checked by a unit test; a broken one must not stop the daemon.
    return parsed.ok() ? std::move(*parsed) : Synonyms();
  }();
  return table;
}

StatusOr<Synonyms> Synonyms::from_json(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("groups")) {
    return invalid_argument("is required", "groups");
  }
  const auto& groups = body["groups"];
  if (!groups.is_array()) return invalid_argument("must be an array", "groups");
  if (groups.size() > 5000) return invalid_argument("at most 5000 groups", "groups");
  Synonyms out;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const std::string field = "groups[" + std::to_string(g) + "]";
    const auto& group = groups[g];
    if (!group.is_array() || group.size() < 2 || group.size() > 32) {
      return invalid_argument("must be an array of 2 to 32 strings", field);
    }
    std::vector<std::string> members;
    for (std::size_t i = 0; i < group.size(); ++i) {
      const std::string where = field + "[" + std::to_string(i) + "]";
      if (!group[i].is_string()) return invalid_argument("must be a string", where);
      const auto& s = group[i].get_ref<const std::string&>();
      if (s.empty() || s.size() > 64) return invalid_argument("must be 1 to 64 bytes", where);
      for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7F) return invalid_argument("has a control character", where);
      }
      members.push_back(s);
    }
    SHOPEASY_RETURN_IF_ERROR(out.add_group(members, field));
  }
  out.finish();
  return out;
}

void Synonyms::merge(const Synonyms& other) {
  for (const auto& group : other.groups_) {
    const std::size_t id = groups_.size();
    for (const Phrase& p : group) {
      by_key_[join_phrase(p)].push_back(id);
      longest_ = std::max(longest_, p.size());
      if (p.size() == 1) single_words_.push_back(p[0]);
    }
    groups_.push_back(group);
  }
  finish();
}

void Synonyms::finish() {
  std::sort(single_words_.begin(), single_words_.end());
  single_words_.erase(std::unique(single_words_.begin(), single_words_.end()), single_words_.end());
}

std::vector<Phrase> Synonyms::alternatives(const Phrase& phrase) const {
  std::vector<Phrase> out;
  auto it = by_key_.find(join_phrase(phrase));
  if (it == by_key_.end()) return out;
  for (std::size_t g : it->second) {
    for (const Phrase& p : groups_[g]) {
      if (p != phrase && std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
    }
  }
  return out;
}

nlohmann::json Synonyms::to_json() const {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& group : groups_) {
    nlohmann::json members = nlohmann::json::array();
    for (const Phrase& p : group) members.push_back(join_phrase(p));
    groups.push_back(std::move(members));
  }
  return {{"groups", std::move(groups)}};
}

}  // namespace shopeasy::search
