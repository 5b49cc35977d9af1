// Synonym groups for search: spellings customers use for the same thing (Hinglish,
// regional names, brand misspellings). A query phrase that is a member of a group also
// finds products named with any other member. The built-in table (synonyms.txt,
// compiled in) covers Indian grocery; operators add groups of their own
// (GET/PUT /v1/search/synonyms), which are merged on top.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status/status.hpp"

namespace shopeasy::search {

// A phrase as normalised words ("wheat", "flour").
using Phrase = std::vector<std::string>;

class Synonyms {
 public:
  // Most words in one member; longer phrases are refused.
  static constexpr std::size_t kMaxPhraseWords = 3;

  // Parses the text format of synonyms.txt: one group a line, members split by '|',
  // '#' comments. kInvalidArgument naming the line ("line 12") for a group with fewer
  // than two members or a member with no words or too many.
  static StatusOr<Synonyms> parse(std::string_view text);
  // The compiled-in table.
  static const Synonyms& builtin();
  // Operator groups as JSON: {"groups": [["doodh", "milk"], ...]}. At most 5000 groups
  // of 2..32 members of 1..64 bytes each; kInvalidArgument naming the field
  // ("groups[3][1]") otherwise.
  static StatusOr<Synonyms> from_json(const nlohmann::json& body);

  // Adds the groups of `other` to these.
  void merge(const Synonyms& other);
  // The phrases equivalent to `phrase` (itself excluded); empty when it is in no group.
  std::vector<Phrase> alternatives(const Phrase& phrase) const;
  // Single-word members, for matching a query word with typos or as a prefix.
  const std::vector<std::string>& single_words() const { return single_words_; }
  // The most words any member has.
  std::size_t longest_member_words() const { return longest_; }

  std::size_t groups() const { return groups_.size(); }
  std::size_t entries() const { return by_key_.size(); }
  // {"groups": [[...], ...]} with each member as written after normalisation.
  nlohmann::json to_json() const;

 private:
  Status add_group(const std::vector<std::string>& members, const std::string& field);
  void finish();  // sorts single_words_ once every group is in
  std::vector<std::vector<Phrase>> groups_;
  std::map<std::string, std::vector<std::size_t>> by_key_;  // joined phrase -> groups
  std::vector<std::string> single_words_;                   // sorted, unique
  std::size_t longest_ = 1;
};

std::string join_phrase(const Phrase& p);

// The text of the compiled-in table (synonyms.txt).
std::string_view builtin_synonyms_text();

}  // namespace shopeasy::search
