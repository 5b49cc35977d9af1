// SearchIndex: the catalog's product names as an in-memory inverted index (word ->
// products), answering a customer's query by text relevance. Every query word must
// match some word of the name, as a prefix, with the typos its length allows
// (text.hpp), or through a synonym group (synonyms.hpp); no word is ever dropped, so
// "amul 500" never returns Amul products that are not 500 g. Quantities and numbers
// match without typos.
//
// Relevance is a cost, lower is better: 10 per edit, 3 for a word matched only as a
// prefix, 2 for a match through a synonym, summed over the query's words, and 5 for
// each query word left without a name word of its own (in "pure harvest pure apple",
// the second "pure" needs a second "Pure" in the name). Ties are
// broken by the shorter name (fewer words left unmatched), then name and SKU, so the
// order is stable. Availability is not the index's business: the caller re-ranks
// equal relevance by stock at the serving store (SearchService).
//
// Thread-safe: queries share a lock, updates take it alone; an update touches only
// the posting lists of the product's own words.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "cloud/search/synonyms.hpp"
#include "cloud/storage/cloud_store.hpp"
#include "common/status/status.hpp"

namespace shopeasy::cloud::search {

struct TextQuery {
  std::string text;      // what the customer typed
  std::string category;  // only this category (compared normalised); empty: any
  std::string brand;     // only names starting with this brand (normalised); empty: any
  std::size_t max_hits = 1000;
};

struct TextHit {
  storage::CatalogItem item;
  int cost = 0;  // relevance, lower is better
};

// What a query was understood as, for the response and the tests.
struct ParsedQuery {
  std::vector<std::string> words;   // normalised query words
  std::vector<std::string> groups;  // each group's phrase ("wheat flour")
};

class SearchIndex {
 public:
  // Most words a query may have; more are refused (not dropped).
  static constexpr std::size_t kMaxQueryWords = 16;

  SearchIndex();

  // Replaces everything with `items` (inactive ones are left out).
  void rebuild(const std::vector<storage::CatalogItem>& items);
  // Adds, replaces or (inactive) removes one product.
  void upsert(const storage::CatalogItem& item);
  // Replaces the synonym groups (the built-in table merged with the operator's).
  void set_synonyms(Synonyms synonyms);

  // Products matching every word of the query, best first, at most max_hits.
  // kInvalidArgument (field "q") for a query with no letters or digits or with more
  // than kMaxQueryWords words.
  StatusOr<std::vector<TextHit>> search(const TextQuery& query,
                                        ParsedQuery* parsed = nullptr) const;

  std::size_t size() const;
  std::size_t vocabulary() const;

 private:
  struct Doc {
    storage::CatalogItem item;
    std::vector<std::uint32_t> terms;       // the name's distinct word ids
    std::vector<std::string> words;         // the name's words in order (for brand filters)
    std::vector<std::uint32_t> word_terms;  // the word id of each of them
    std::string category_key;               // normalised category
    bool live = false;
  };
  // A query word's candidate products with their cost, sorted by product.
  using Postings = std::vector<std::pair<std::uint32_t, int>>;

  std::uint32_t term_id(const std::string& word);
  void add_doc_locked(std::uint32_t id);
  void remove_doc_locked(std::uint32_t id);
  // Also appends the ids of the words it matched to `matched`.
  Postings word_postings(const std::string& word, bool typos,
                         std::vector<std::uint32_t>& matched) const;
  Postings phrase_postings(const Phrase& phrase, int penalty,
                           std::vector<std::uint32_t>& matched) const;

  // Guards every member below; queries hold it shared.
  mutable std::shared_mutex mu_;
  std::vector<Doc> docs_;
  std::unordered_map<std::string, std::uint32_t> doc_by_sku_;
  std::vector<std::string> terms_;
  std::unordered_map<std::string, std::uint32_t> term_by_word_;
  std::vector<std::vector<std::uint32_t>> postings_;  // term -> sorted doc ids
  // term -> the letters among its first k + 2 bytes (bit c % 32), for k = 1 and 2: a
  // cheap test that rules out most words before the edit distance is computed.
  std::vector<std::uint32_t> head_letters_[2];
  // term -> all its letters (bit c % 32): a query word with more than k letters the
  // term lacks cannot be within k edits of it.
  std::vector<std::uint32_t> all_letters_;
  std::size_t live_ = 0;
  std::shared_ptr<const Synonyms> synonyms_;
};

}  // namespace shopeasy::cloud::search
