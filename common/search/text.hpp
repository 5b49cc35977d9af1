// The text layer of product search (pure functions, no state): the normaliser that
// turns a product name or a customer's query into words, unit normalisation, and the
// bounded edit distance used for typo tolerance.
//
// Words: lower case, ASCII-folded (Latin-1 accents dropped), split on anything that is
// not a letter or digit; a '.' between digits stays (1.5). Letters outside Latin-1
// (Devanagari, ...) are kept as they are, so a name written in them matches the same
// query. A quantity, with or without a space ("1l", "1 litre", "1000 ml", "0.5 kg",
// "6 pcs"), becomes one canonical word: millilitres ("1000ml"), grams ("500g") or
// pieces ("6pc"), so every spelling of the same amount is the same word.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace shopeasy::search {

// The words of `text`, in order, quantities canonical.
std::vector<std::string> tokenize(std::string_view text);

// True for a canonical quantity word ("1000ml", "500g", "6pc"): it only ever matches
// itself, never as a prefix or with typos (100ml is not 1000ml).
bool is_quantity(std::string_view word);
// True when the word has a digit: numbers match as prefixes but never with typos.
bool has_digit(std::string_view word);

// Edits a query word of this many bytes may carry and still match: 0 under 4, 1 for
// 4..8, 2 beyond.
int max_edits(std::size_t length);

// Optimal-string-alignment (Damerau) distance between a and b, or k + 1 when it is
// larger than k (the work stops early then).
int osa_distance(std::string_view a, std::string_view b, int k);
// The smallest OSA distance between `query` and any prefix of `term`, or k + 1 when
// it is larger than k: how far a word being typed is from the start of `term`.
int prefix_osa_distance(std::string_view query, std::string_view term, int k);

// Both of the above in one pass (the index needs both for every candidate word).
struct OsaDistances {
  int full = 0;    // osa_distance(query, term, k)
  int prefix = 0;  // prefix_osa_distance(query, term, k)
};
OsaDistances osa_distances(std::string_view query, std::string_view term, int k);

}  // namespace shopeasy::search
