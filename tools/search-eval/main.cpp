// search-eval: how well product search finds what customers mean, on a generated
// 50,000-SKU grocery catalog and labelled queries of seven classes. Prints recall@10
// and MRR per class, the queries whose short words or numbers a result ignored (must
// be 0), the index's memory and the time per query; exits 1 when a target is missed.
//
//   search-eval [--seeds 1,2] [--skus 50000] [--per-class 200] [--noise-words N]
//
// --noise-words adds a made-up product-line word from a pool of N to every name (a
// vocabulary of real size, with many near neighbours); the queries do not name it.
//
// Seed 1 is the one the ranking and the synonym table were tuned on; evaluate others
// (2 and up) as held out.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "cloud/search/search_service.hpp"
#include "common/search/search_index.hpp"
#include "common/search/text.hpp"
#include "tools/search-eval/generator.hpp"

namespace shopeasy::tools::search_eval {
namespace {

using shopeasy::search::Phrase;
using shopeasy::search::SearchIndex;
using shopeasy::search::TextQuery;

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

bool word_in(const std::string& w, const std::vector<std::string>& name) {
  for (const auto& n : name) {
    if (shopeasy::search::is_quantity(w) ? n == w : n.rfind(w, 0) == 0) return true;
  }
  return false;
}

bool phrase_in(const Phrase& p, const std::vector<std::string>& name) {
  return std::all_of(p.begin(), p.end(), [&](const std::string& w) { return word_in(w, name); });
}

bool is_short(const std::string& w) { return w.size() < 4 || shopeasy::search::has_digit(w); }

struct ClassScore {
  int queries = 0;
  double recall = 0;
  double rr = 0;
};

struct Target {
  QueryClass cls;
  double min_recall;
};
const Target kTargets[] = {{QueryClass::kExact, 0.99},
                           {QueryClass::kPrefix, 0.99},
                           {QueryClass::kOneTypo, 0.95},
                           {QueryClass::kHinglish, 0.90}};

bool evaluate(std::uint64_t seed, std::size_t skus, std::size_t per_class, std::size_t noise,
              bool verbose) {
  const long rss_start = rss_kib();
  std::vector<Product> catalog = generate_catalog(seed, skus, noise);
  std::vector<shopeasy::search::Product> items;
  items.reserve(catalog.size());
  for (const auto& p : catalog) items.push_back(cloud::search::to_search_product(p.item));
  const long rss_catalog = rss_kib();
  SearchIndex index;
  const auto build_start = std::chrono::steady_clock::now();
  index.rebuild(items);
  const double build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - build_start)
          .count();
  const long rss_index = rss_kib();
  std::map<std::string, std::size_t> by_sku;
  for (std::size_t i = 0; i < catalog.size(); ++i) by_sku[catalog[i].item.sku] = i;

  const std::vector<LabelledQuery> queries = generate_queries(seed, catalog, per_class);
  std::map<QueryClass, ClassScore> scores;
  int short_ignored = 0;
  std::vector<double> micros;
  for (const auto& q : queries) {
    std::size_t relevant = 0;
    for (const auto& p : catalog) relevant += q.relevant(p) ? 1 : 0;
    shopeasy::search::ParsedQuery parsed;
    const auto t0 = std::chrono::steady_clock::now();
    auto hits = index.search(TextQuery{q.text, "", "", 10}, &parsed);
    micros.push_back(
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ClassScore& s = scores[q.cls];
    ++s.queries;
    if (!hits.ok()) {
      if (verbose) std::printf("  refused [%s] %s\n", class_name(q.cls), q.text.c_str());
      continue;
    }
    int found = 0;
    int first = 0;
    for (std::size_t r = 0; r < hits->size(); ++r) {
      const Product& p = catalog[by_sku[(*hits)[r].item.sku]];
      if (q.relevant(p)) {
        ++found;
        if (first == 0) first = static_cast<int>(r) + 1;
      }
    }
    s.recall +=
        relevant == 0 ? 1.0 : static_cast<double>(found) / std::min<std::size_t>(relevant, 10);
    s.rr += first > 0 ? 1.0 / first : 0.0;
    if (verbose && found == 0) {
      std::printf("  miss [%s] %-40s -> %s\n", class_name(q.cls), q.text.c_str(),
                  hits->empty() ? "(nothing)" : (*hits)[0].item.name.c_str());
    }
    // Every short word or number of the query must be in every result (itself, as a
    // prefix, or through its synonym group).
    bool ignored = false;
    for (const auto& h : *hits) {
      const auto name = shopeasy::search::tokenize(h.item.name);
      for (const auto& group : parsed.groups) {
        const Phrase phrase = shopeasy::search::tokenize(group);
        if (std::none_of(phrase.begin(), phrase.end(), is_short)) continue;
        bool ok = phrase_in(phrase, name);
        for (const auto& alt : shopeasy::search::Synonyms::builtin().alternatives(phrase)) {
          ok = ok || phrase_in(alt, name);
        }
        if (!ok) {
          ignored = true;
          if (verbose) std::printf("    [%s] not in %s\n", group.c_str(), h.item.name.c_str());
        }
      }
    }
    if (ignored) {
      ++short_ignored;
      if (verbose) std::printf("  short word ignored: %s\n", q.text.c_str());
    }
  }
  std::sort(micros.begin(), micros.end());
  auto pct = [&](double p) { return micros[static_cast<std::size_t>(p * (micros.size() - 1))]; };

  std::printf(
      "seed %llu: %zu SKUs, %zu words, index built in %.0f ms, index RSS %.1f MiB "
      "(catalog vector %.1f MiB), %zu queries\n",
      static_cast<unsigned long long>(seed), index.size(), index.vocabulary(), build_ms,
      (rss_index - rss_catalog) / 1024.0, (rss_catalog - rss_start) / 1024.0, queries.size());
  std::printf("  %-9s %7s %10s %6s\n", "class", "queries", "recall@10", "MRR");
  bool pass = true;
  for (auto& [cls, s] : scores) {
    const double recall = s.queries ? s.recall / s.queries : 0;
    const double mrr = s.queries ? s.rr / s.queries : 0;
    std::string verdict;
    for (const auto& t : kTargets) {
      if (t.cls != cls) continue;
      const bool met = recall >= t.min_recall;
      pass = pass && met;
      char buf[64];
      std::snprintf(buf, sizeof buf, "  target %.0f%%: %s", t.min_recall * 100,
                    met ? "met" : "MISSED");
      verdict = buf;
    }
    std::printf("  %-9s %7d %9.1f%% %6.3f%s\n", class_name(cls), s.queries, recall * 100, mrr,
                verdict.c_str());
  }
  std::printf("  queries with a short word or number ignored: %d (must be 0)\n", short_ignored);
  std::printf("  time per query: p50 %.0f us, p99 %.0f us\n", pct(0.5), pct(0.99));
  return pass && short_ignored == 0;
}

}  // namespace
}  // namespace shopeasy::tools::search_eval

int main(int argc, char** argv) {
  std::vector<std::uint64_t> seeds = {1, 2};
  std::size_t skus = 50000;
  std::size_t per_class = 200;
  bool verbose = false;
  std::size_t noise = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "search-eval: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") {
      seeds.clear();
      std::string list = next();
      std::size_t pos = 0;
      while (pos <= list.size()) {
        const std::size_t comma = list.find(',', pos);
        seeds.push_back(std::strtoull(list.substr(pos, comma - pos).c_str(), nullptr, 10));
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    } else if (a == "--skus") {
      skus = std::strtoul(next().c_str(), nullptr, 10);
    } else if (a == "--per-class") {
      per_class = std::strtoul(next().c_str(), nullptr, 10);
    } else if (a == "--noise-words") {
      noise = std::strtoul(next().c_str(), nullptr, 10);
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      std::fprintf(stderr,
                   "usage: search-eval [--seeds 1,2] [--skus 50000] [--per-class 200] "
                   "[--noise-words N] [--verbose]\n");
      return 2;
    }
  }
  if (skus == 0 || per_class == 0) {
    std::fprintf(stderr, "search-eval: --skus and --per-class must be positive\n");
    return 2;
  }
  bool pass = true;
  for (auto seed : seeds) {
    pass = shopeasy::tools::search_eval::evaluate(seed, skus, per_class, noise, verbose) && pass;
  }
  return pass ? 0 : 1;
}
