#include "common/search/search_index.hpp"

#include <algorithm>
#include <bit>
#include <limits>
#include <mutex>

#include "common/search/text.hpp"

namespace shopeasy::search {

namespace {

constexpr int kEditCost = 10;
constexpr int kPrefixCost = 3;
constexpr int kSynonymCost = 2;
constexpr int kReusedWordCost = 5;
// Synonym keys a half-typed last word may stand for ("pya" -> pyaaz, pyaj).
constexpr std::size_t kMaxPrefixKeys = 8;

using Postings = std::vector<std::pair<std::uint32_t, int>>;

// Sorts by product and keeps each product's lowest cost.
void normalise(Postings& p) {
  std::sort(p.begin(), p.end());
  std::size_t out = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (out > 0 && p[out - 1].first == p[i].first) continue;  // sorted: first is lowest
    p[out++] = p[i];
  }
  p.resize(out);
}

// Products in both, costs added.
Postings intersect(const Postings& a, const Postings& b) {
  Postings out;
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].first < b[j].first) {
      ++i;
    } else if (b[j].first < a[i].first) {
      ++j;
    } else {
      out.emplace_back(a[i].first, a[i].second + b[j].second);
      ++i;
      ++j;
    }
  }
  return out;
}

// Products in either, the lower cost kept.
Postings unite(const Postings& a, const Postings& b) {
  Postings out;
  out.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].first < b[j].first)) {
      out.push_back(a[i++]);
    } else if (i == a.size() || b[j].first < a[i].first) {
      out.push_back(b[j++]);
    } else {
      out.emplace_back(a[i].first, std::min(a[i].second, b[j].second));
      ++i;
      ++j;
    }
  }
  return out;
}

// Bit c % 32 for each of the first `count` bytes of `w`.
std::uint32_t letters(std::string_view w, std::size_t count) {
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < std::min(count, w.size()); ++i) {
    mask |= 1u << (static_cast<unsigned char>(w[i]) % 32);
  }
  return mask;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// A query group: the words it covers and the phrases that satisfy it, with their cost.
struct Group {
  Phrase phrase;
  std::vector<std::pair<Phrase, int>> alternatives;

  void add(Phrase p, int cost) {
    for (auto& [have, c] : alternatives) {
      if (have == p) {
        c = std::min(c, cost);
        return;
      }
    }
    alternatives.emplace_back(std::move(p), cost);
  }
};

std::vector<Group> parse_groups(const std::vector<std::string>& words, const Synonyms& syn) {
  std::vector<Group> groups;
  std::size_t i = 0;
  while (i < words.size()) {
    bool found = false;
    const std::size_t longest = std::min(syn.longest_member_words(), words.size() - i);
    for (std::size_t len = longest; len >= 2 && !found; --len) {
      Phrase phrase(words.begin() + static_cast<std::ptrdiff_t>(i),
                    words.begin() + static_cast<std::ptrdiff_t>(i + len));
      std::vector<Phrase> alts = syn.alternatives(phrase);
      if (alts.empty()) continue;
      Group g{phrase, {}};
      g.add(phrase, 0);
      for (auto& a : alts) g.add(std::move(a), kSynonymCost);
      groups.push_back(std::move(g));
      i += len;
      found = true;
    }
    if (found) continue;
    const std::string& w = words[i];
    Group g{{w}, {}};
    g.add({w}, 0);
    std::vector<Phrase> exact = syn.alternatives({w});
    for (auto& a : exact) g.add(std::move(a), kSynonymCost);
    if (!has_digit(w)) {
      const int k = max_edits(w.size());
      const bool last = i + 1 == words.size();
      std::size_t prefix_keys = 0;
      for (const std::string& key : syn.single_words()) {
        if (key == w) continue;
        int cost = -1;
        if (exact.empty() && k > 0) {
          const int d = osa_distance(w, key, k);
          if (d <= k) cost = kSynonymCost + kEditCost * d;
        }
        if (cost < 0 && last && w.size() >= 3 && prefix_keys < kMaxPrefixKeys &&
            starts_with(key, w)) {
          cost = kSynonymCost + kPrefixCost;
          ++prefix_keys;
        }
        if (cost < 0) continue;
        for (auto& a : syn.alternatives({key})) g.add(std::move(a), cost);
      }
    }
    groups.push_back(std::move(g));
    ++i;
  }
  return groups;
}

}  // namespace

SearchIndex::SearchIndex() : synonyms_(std::make_shared<Synonyms>(Synonyms::builtin())) {}

std::uint32_t SearchIndex::term_id(const std::string& word) {
  auto [it, inserted] = term_by_word_.try_emplace(word, static_cast<std::uint32_t>(terms_.size()));
  if (inserted) {
    terms_.push_back(word);
    postings_.emplace_back();
    head_letters_[0].push_back(letters(word, 3));
    head_letters_[1].push_back(letters(word, 4));
    all_letters_.push_back(letters(word, word.size()));
  }
  return it->second;
}

void SearchIndex::add_doc_locked(std::uint32_t id) {
  Doc& d = docs_[id];
  d.words = tokenize(d.item.name);
  const std::vector<std::string> cat = tokenize(d.item.category);
  d.category_key = join_phrase(cat);
  d.terms.clear();
  for (const auto& w : d.words) d.terms.push_back(term_id(w));
  d.word_terms = d.terms;
  std::sort(d.terms.begin(), d.terms.end());
  d.terms.erase(std::unique(d.terms.begin(), d.terms.end()), d.terms.end());
  for (std::uint32_t t : d.terms) {
    auto& list = postings_[t];
    list.insert(std::lower_bound(list.begin(), list.end(), id), id);
  }
  d.live = true;
  ++live_;
}

void SearchIndex::remove_doc_locked(std::uint32_t id) {
  Doc& d = docs_[id];
  if (!d.live) return;
  for (std::uint32_t t : d.terms) {
    auto& list = postings_[t];
    auto it = std::lower_bound(list.begin(), list.end(), id);
    if (it != list.end() && *it == id) list.erase(it);
  }
  d.terms.clear();
  d.words.clear();
  d.word_terms.clear();
  d.live = false;
  --live_;
}

void SearchIndex::rebuild(const std::vector<Product>& items) {
  // Built aside, then swapped in, so queries wait only for the swap.
  SearchIndex fresh;
  sync::MutexLock fresh_lock(fresh.mu_);  // never contended: no one else sees it yet
  fresh.docs_.reserve(items.size());
  for (const auto& item : items) {
    if (!item.active || fresh.doc_by_sku_.count(item.sku)) continue;
    const auto id = static_cast<std::uint32_t>(fresh.docs_.size());
    fresh.docs_.push_back(Doc{item, {}, {}, {}, {}, false});
    fresh.doc_by_sku_.emplace(item.sku, id);
    // Ids grow, so appending keeps every posting list sorted.
    Doc& d = fresh.docs_.back();
    d.words = tokenize(item.name);
    d.category_key = join_phrase(tokenize(item.category));
    for (const auto& w : d.words) d.terms.push_back(fresh.term_id(w));
    d.word_terms = d.terms;
    std::sort(d.terms.begin(), d.terms.end());
    d.terms.erase(std::unique(d.terms.begin(), d.terms.end()), d.terms.end());
    for (std::uint32_t t : d.terms) fresh.postings_[t].push_back(id);
    d.live = true;
    ++fresh.live_;
  }
  sync::MutexLock lock(mu_);
  docs_ = std::move(fresh.docs_);
  doc_by_sku_ = std::move(fresh.doc_by_sku_);
  terms_ = std::move(fresh.terms_);
  head_letters_[0] = std::move(fresh.head_letters_[0]);
  head_letters_[1] = std::move(fresh.head_letters_[1]);
  all_letters_ = std::move(fresh.all_letters_);
  term_by_word_ = std::move(fresh.term_by_word_);
  postings_ = std::move(fresh.postings_);
  live_ = fresh.live_;
}

void SearchIndex::upsert(const Product& item) {
  sync::MutexLock lock(mu_);
  auto it = doc_by_sku_.find(item.sku);
  if (it != doc_by_sku_.end()) {
    remove_doc_locked(it->second);
    docs_[it->second].item = item;
    if (item.active) add_doc_locked(it->second);
    return;
  }
  if (!item.active) return;
  const auto id = static_cast<std::uint32_t>(docs_.size());
  docs_.push_back(Doc{item, {}, {}, {}, {}, false});
  doc_by_sku_.emplace(item.sku, id);
  add_doc_locked(id);
}

void SearchIndex::set_synonyms(Synonyms synonyms) {
  auto fresh = std::make_shared<const Synonyms>(std::move(synonyms));
  sync::MutexLock lock(mu_);
  synonyms_ = std::move(fresh);
}

std::size_t SearchIndex::size() const {
  sync::ReaderLock lock(mu_);
  return live_;
}

std::size_t SearchIndex::vocabulary() const {
  sync::ReaderLock lock(mu_);
  return terms_.size();
}

SearchIndex::Postings SearchIndex::word_postings(const std::string& w, bool typos,
                                                 std::vector<std::uint32_t>& matched) const {
  Postings out;
  // Lambdas are outside the lock analysis: they read through a pointer taken here,
  // under the caller's shared lock, and run before this function returns.
  const std::vector<std::vector<std::uint32_t>>* postings = &postings_;
  auto take = [&](std::size_t t, int cost) {
    matched.push_back(static_cast<std::uint32_t>(t));
    for (std::uint32_t doc : (*postings)[t]) out.emplace_back(doc, cost);
  };
  if (is_quantity(w)) {  // 100ml is not 1000ml: only itself
    auto it = term_by_word_.find(w);
    if (it != term_by_word_.end()) take(it->second, 0);
    return out;
  }
  const int k = has_digit(w) || !typos ? 0 : max_edits(w.size());
  // Words are skipped by their letters before any distance is computed. With k edits,
  // one of the word's first k + 1 bytes is among the match's first k + 2 (a
  // transposition moves a byte by one); every letter of the word the term lacks costs
  // an edit; and a match is at least |w| - k long.
  const std::uint32_t head = k > 0 ? letters(w, static_cast<std::size_t>(k) + 1) : 0;
  const std::vector<std::uint32_t>* heads = k > 0 ? &head_letters_[k - 1] : nullptr;
  const std::uint32_t all = letters(w, w.size());
  const std::size_t shortest = w.size() > static_cast<std::size_t>(k) ? w.size() - k : 0;
  for (std::size_t t = 0; t < terms_.size(); ++t) {
    if (postings_[t].empty()) continue;
    const std::string& term = terms_[t];
    if (term == w) {
      take(t, 0);
      continue;
    }
    if (!typos) {
      // A synonym's word is a whole word (plurals allowed): "kela" finds "kele" and
      // "kelas", never "kelat".
      if (term.size() <= w.size() + 2 && starts_with(term, w) &&
          (term == w + "s" || term == w + "es")) {
        take(t, kPrefixCost);
      }
      continue;
    }
    if (starts_with(term, w)) {
      take(t, kPrefixCost);
      continue;
    }
    if (k == 0 || term.size() < shortest || ((*heads)[t] & head) == 0 ||
        std::popcount(all & ~all_letters_[t]) > k || has_digit(term)) {
      continue;
    }
    const OsaDistances d = osa_distances(w, term, k);
    int best = std::numeric_limits<int>::max();
    if (d.full <= k) best = kEditCost * d.full;
    if (d.prefix <= k) best = std::min(best, kEditCost * d.prefix + kPrefixCost);
    if (best != std::numeric_limits<int>::max()) take(t, best);
  }
  normalise(out);
  return out;
}

SearchIndex::Postings SearchIndex::phrase_postings(const Phrase& phrase, int penalty,
                                                   std::vector<std::uint32_t>& matched) const {
  // Typos and half-typed words are the customer's: a synonym's own spelling is matched
  // as a whole word (else "chai" would reach "chips", and "tea" with it).
  const bool typos = penalty == 0;
  Postings acc;
  for (std::size_t i = 0; i < phrase.size(); ++i) {
    Postings p = word_postings(phrase[i], typos, matched);
    acc = i == 0 ? std::move(p) : intersect(acc, p);
    if (acc.empty()) break;
  }
  for (auto& e : acc) e.second += penalty;
  return acc;
}

StatusOr<std::vector<TextHit>> SearchIndex::search(const TextQuery& query,
                                                   ParsedQuery* parsed) const {
  const std::vector<std::string> words = tokenize(query.text);
  if (words.empty()) return invalid_argument("the query has no letters or digits", "q");
  if (words.size() > kMaxQueryWords) {
    return invalid_argument("the query has more than " + std::to_string(kMaxQueryWords) + " words",
                            "q");
  }
  const std::string category = join_phrase(tokenize(query.category));
  const std::vector<std::string> brand = tokenize(query.brand);

  sync::ReaderLock lock(mu_);
  const std::vector<Group> groups = parse_groups(words, *synonyms_);
  if (parsed != nullptr) {
    parsed->words = words;
    parsed->groups.clear();
    for (const auto& g : groups) parsed->groups.push_back(join_phrase(g.phrase));
  }
  Postings acc;
  std::vector<std::vector<std::uint32_t>> group_terms(groups.size());  // sorted word ids
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    Postings group;
    for (const auto& [phrase, cost] : groups[gi].alternatives) {
      group = unite(group, phrase_postings(phrase, cost, group_terms[gi]));
    }
    std::sort(group_terms[gi].begin(), group_terms[gi].end());
    acc = gi == 0 ? std::move(group) : intersect(acc, group);
    if (acc.empty()) break;
  }
  if (groups.size() > 1) {
    // Each query word takes a name word of its own, in query order; one that finds
    // none left is a repeat the name does not back.
    for (auto& [doc, cost] : acc) {
      const auto& terms = docs_[doc].word_terms;
      std::uint64_t used = 0;
      for (const auto& wanted : group_terms) {
        bool found = false;
        for (std::size_t i = 0; i < terms.size() && i < 64; ++i) {
          if ((used >> i & 1u) == 0 && std::binary_search(wanted.begin(), wanted.end(), terms[i])) {
            used |= std::uint64_t{1} << i;
            found = true;
            break;
          }
        }
        if (!found) cost += kReusedWordCost;
      }
    }
  }
  // Read by the lambdas below through a pointer taken under the shared lock, which
  // is held until the function returns (lambdas are outside the lock analysis).
  const std::vector<Doc>* docs = &docs_;
  if (!category.empty() || !brand.empty()) {
    std::erase_if(acc, [&](const auto& e) {
      const Doc& d = (*docs)[e.first];
      if (!category.empty() && d.category_key != category) return true;
      if (brand.size() > d.words.size()) return true;
      return !std::equal(brand.begin(), brand.end(), d.words.begin());
    });
  }
  auto better = [&](const std::pair<std::uint32_t, int>& a,
                    const std::pair<std::uint32_t, int>& b) {
    if (a.second != b.second) return a.second < b.second;
    const Doc& da = (*docs)[a.first];
    const Doc& db = (*docs)[b.first];
    if (da.words.size() != db.words.size()) return da.words.size() < db.words.size();
    if (da.item.name != db.item.name) return da.item.name < db.item.name;
    return da.item.sku < db.item.sku;
  };
  const std::size_t n = std::min(acc.size(), query.max_hits);
  std::partial_sort(acc.begin(), acc.begin() + static_cast<std::ptrdiff_t>(n), acc.end(), better);
  std::vector<TextHit> hits;
  hits.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    hits.push_back(TextHit{docs_[acc[i].first].item, acc[i].second});
  return hits;
}

}  // namespace shopeasy::search
