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
#include <string>
#include <unordered_map>
#include <vector>

#include "common/search/synonyms.hpp"
#include "common/status/status.hpp"
#include "common/sync/mutex.hpp"

namespace shopeasy::search {

// A product as the index knows it: the words it is found by, and what a hit carries
// back to the caller (the cloud's catalog item, the store's product).
struct Product {
  std::string sku;
  std::string name;
  std::string category;
  std::int64_t price_cents = 0;
  std::string unit = "each";
  bool active = true;  // inactive products are left out
};

struct TextQuery {
  std::string text;      // what the customer typed
  std::string category;  // only this category (compared normalised); empty: any
  std::string brand;     // only names starting with this brand (normalised); empty: any
  std::size_t max_hits = 1000;
};

struct TextHit {
  Product item;
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
  void rebuild(const std::vector<Product>& items) EXCLUDES(mu_);
  // Adds, replaces or (inactive) removes one product.
  void upsert(const Product& item) EXCLUDES(mu_);
  // Replaces the synonym groups (the built-in table merged with the operator's).
  void set_synonyms(Synonyms synonyms) EXCLUDES(mu_);

  // Products matching every word of the query, best first, at most max_hits.
  // kInvalidArgument (field "q") for a query with no letters or digits or with more
  // than kMaxQueryWords words.
  StatusOr<std::vector<TextHit>> search(const TextQuery& query, ParsedQuery* parsed = nullptr) const
      EXCLUDES(mu_);

  std::size_t size() const EXCLUDES(mu_);
  std::size_t vocabulary() const EXCLUDES(mu_);

 private:
  struct Doc {
    Product item;
    std::vector<std::uint32_t> terms;       // the name's distinct word ids
    std::vector<std::string> words;         // the name's words in order (for brand filters)
    std::vector<std::uint32_t> word_terms;  // the word id of each of them
    std::string category_key;               // normalised category
    bool live = false;
  };
  // A query word's candidate products with their cost, sorted by product.
  using Postings = std::vector<std::pair<std::uint32_t, int>>;

  std::uint32_t term_id(const std::string& word) REQUIRES(mu_);
  void add_doc_locked(std::uint32_t id) REQUIRES(mu_);
  void remove_doc_locked(std::uint32_t id) REQUIRES(mu_);
  // Also appends the ids of the words it matched to `matched`.
  Postings word_postings(const std::string& word, bool typos,
                         std::vector<std::uint32_t>& matched) const REQUIRES_SHARED(mu_);
  Postings phrase_postings(const Phrase& phrase, int penalty,
                           std::vector<std::uint32_t>& matched) const REQUIRES_SHARED(mu_);

  // Guards every member below; queries hold it shared.
  mutable sync::SharedMutex mu_;
  std::vector<Doc> docs_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::uint32_t> doc_by_sku_ GUARDED_BY(mu_);
  std::vector<std::string> terms_ GUARDED_BY(mu_);
  std::unordered_map<std::string, std::uint32_t> term_by_word_ GUARDED_BY(mu_);
  std::vector<std::vector<std::uint32_t>> postings_ GUARDED_BY(mu_);  // term -> sorted doc ids
  // term -> the letters among its first k + 2 bytes (bit c % 32), for k = 1 and 2: a
  // cheap test that rules out most words before the edit distance is computed.
  std::vector<std::uint32_t> head_letters_[2] GUARDED_BY(mu_);
  // term -> all its letters (bit c % 32): a query word with more than k letters the
  // term lacks cannot be within k edits of it.
  std::vector<std::uint32_t> all_letters_ GUARDED_BY(mu_);
  std::size_t live_ GUARDED_BY(mu_) = 0;
  std::shared_ptr<const Synonyms> synonyms_ GUARDED_BY(mu_);
};

}  // namespace shopeasy::search
