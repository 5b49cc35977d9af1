#include "tools/search-eval/generator.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <tuple>

namespace shopeasy::tools::search_eval {

namespace {

enum Kind { kVolume, kWeight, kCount };

struct Base {
  const char* name;
  int category;
  Kind kind;
  std::vector<const char*> hinglish;  // what customers type instead of the name
};

const char* const kCategories[] = {"dairy",  "vegetables", "fruits",   "staples",
                                   "spices", "snacks",     "household"};

const std::vector<std::vector<const char*>> kBrands = {
    {"Amul", "Nandini", "Mother Dairy", "Heritage", "Aavin", "Gowardhan", "Milky Mist",
     "Akshayakalpa", "Country Delight", "Epigamia", "Britannia", "Nestle"},
    {"Fresho", "Farm Fresh", "Green Basket", "Organic Tattva", "Kisan Farms", "Desi Harvest",
     "Village Pick", "Urban Greens", "Nature Fresh", "Pure Harvest", "Daily Farm", "Sabzi Wala"},
    {"Fresho", "Orchard Gold", "Fruit Bowl", "Kashmir Valley", "Nashik Farms", "Ratnagiri",
     "Sunny Orchards", "Farm Fresh", "Green Basket", "Pure Harvest", "Desi Harvest", "Tropicana"},
    {"Aashirvaad", "Fortune", "Tata Sampann", "India Gate", "Daawat", "Pillsbury", "Rajdhani",
     "24 Mantra", "Patanjali", "Saffola", "Organic Tattva", "Lal Qilla"},
    {"Everest", "MDH", "Catch", "Eastern", "Aachi", "Sakthi", "Tata Sampann", "Badshah",
     "Patanjali", "Priya", "Ramdev", "Suhana"},
    {"Haldiram", "Britannia", "Parle", "Sunfeast", "Maggi", "Bikaji", "Lays", "Kurkure", "Cadbury",
     "Kelloggs", "Dabur", "Society"},
    {"Surf Excel", "Ariel", "Tide", "Rin", "Vim", "Pril", "Harpic", "Lizol", "Colgate", "Dettol",
     "Lifebuoy", "Santoor"},
};

const std::vector<Base> kBases = {
    {"Toned Milk", 0, kVolume, {"doodh", "dudh"}},
    {"Full Cream Milk", 0, kVolume, {"doodh"}},
    {"Curd", 0, kWeight, {"dahi", "dahee"}},
    {"Butter", 0, kWeight, {"makhan", "makkhan"}},
    {"Ghee", 0, kVolume, {"ghi", "desi ghee"}},
    {"Paneer", 0, kWeight, {"panir"}},
    {"Buttermilk", 0, kVolume, {"chaas", "chhach"}},
    {"Fresh Cream", 0, kVolume, {"malai"}},
    {"Cheese Slices", 0, kWeight, {"cheez"}},
    {"Onion", 1, kWeight, {"pyaaz", "pyaj", "pyaz", "kanda"}},
    {"Potato", 1, kWeight, {"aloo", "alu", "batata"}},
    {"Tomato", 1, kWeight, {"tamatar"}},
    {"Brinjal", 1, kWeight, {"baingan", "baigan"}},
    {"Garlic", 1, kWeight, {"lahsun", "lehsun"}},
    {"Ginger", 1, kWeight, {"adrak"}},
    {"Green Chilli", 1, kWeight, {"hari mirch"}},
    {"Coriander Leaves", 1, kWeight, {"dhania", "dhaniya"}},
    {"Spinach", 1, kWeight, {"palak"}},
    {"Cauliflower", 1, kWeight, {"gobi", "phool gobi"}},
    {"Cabbage", 1, kWeight, {"patta gobi"}},
    {"Green Peas", 1, kWeight, {"matar", "hara matar"}},
    {"Carrot", 1, kWeight, {"gajar"}},
    {"Cucumber", 1, kWeight, {"kheera", "khira"}},
    {"Okra", 1, kWeight, {"bhindi", "bhendi"}},
    {"Bottle Gourd", 1, kWeight, {"lauki", "ghiya"}},
    {"Bitter Gourd", 1, kWeight, {"karela"}},
    {"Lemon", 1, kCount, {"nimbu", "limbu"}},
    {"Radish", 1, kWeight, {"mooli"}},
    {"Capsicum", 1, kWeight, {"shimla mirch"}},
    {"Banana", 2, kCount, {"kela"}},
    {"Apple", 2, kWeight, {"seb"}},
    {"Mango", 2, kWeight, {"aam"}},
    {"Orange", 2, kWeight, {"santra"}},
    {"Grapes", 2, kWeight, {"angoor", "angur"}},
    {"Pomegranate", 2, kWeight, {"anar", "anaar"}},
    {"Guava", 2, kWeight, {"amrood", "amrud"}},
    {"Papaya", 2, kWeight, {"papita"}},
    {"Watermelon", 2, kWeight, {"tarbooz"}},
    {"Coconut", 2, kCount, {"nariyal"}},
    {"Whole Wheat Flour", 3, kWeight, {"atta", "aata", "gehu ka atta"}},
    {"Basmati Rice", 3, kWeight, {"basmati chawal"}},
    {"Sona Masoori Rice", 3, kWeight, {"sona masoori chawal"}},
    {"Semolina", 3, kWeight, {"sooji", "suji", "rava"}},
    {"Gram Flour", 3, kWeight, {"besan"}},
    {"Flattened Rice", 3, kWeight, {"poha", "pohe"}},
    {"Toor Dal", 3, kWeight, {"arhar dal", "tuvar dal"}},
    {"Moong Dal", 3, kWeight, {"mung dal"}},
    {"Masoor Dal", 3, kWeight, {"masur dal"}},
    {"Kidney Beans", 3, kWeight, {"rajma"}},
    {"Sugar", 3, kWeight, {"cheeni", "chini"}},
    {"Iodised Salt", 3, kWeight, {"namak"}},
    {"Jaggery", 3, kWeight, {"gur", "gud"}},
    {"Mustard Oil", 3, kVolume, {"sarson tel", "sarson ka tel"}},
    {"Groundnut Oil", 3, kVolume, {"mungfali tel"}},
    {"Refined Flour", 3, kWeight, {"maida"}},
    {"Turmeric Powder", 4, kWeight, {"haldi powder", "haldi"}},
    {"Red Chilli Powder", 4, kWeight, {"lal mirch powder"}},
    {"Cumin Seeds", 4, kWeight, {"jeera", "jira"}},
    {"Coriander Powder", 4, kWeight, {"dhania powder"}},
    {"Garam Masala", 4, kWeight, {"garammasala"}},
    {"Black Pepper", 4, kWeight, {"kali mirch"}},
    {"Green Cardamom", 4, kWeight, {"elaichi", "ilaichi"}},
    {"Cloves", 4, kWeight, {"laung", "lavang"}},
    {"Cinnamon", 4, kWeight, {"dalchini"}},
    {"Mustard Seeds", 4, kWeight, {"rai", "sarson"}},
    {"Asafoetida", 4, kWeight, {"hing", "heeng"}},
    {"Carom Seeds", 4, kWeight, {"ajwain"}},
    {"Tamarind", 4, kWeight, {"imli"}},
    {"Biscuits", 5, kWeight, {"biskut"}},
    {"Bread", 5, kWeight, {"pav", "double roti"}},
    {"Instant Noodles", 5, kWeight, {"noodle"}},
    {"Potato Chips", 5, kWeight, {"aloo chips", "wafers"}},
    {"Tea", 5, kWeight, {"chai"}},
    {"Coffee", 5, kWeight, {"kaapi"}},
    {"Honey", 5, kWeight, {"shahad"}},
    {"Cashews", 5, kWeight, {"kaju"}},
    {"Almonds", 5, kWeight, {"badam"}},
    {"Raisins", 5, kWeight, {"kishmish"}},
    {"Eggs", 5, kCount, {"anda", "ande"}},
    {"Detergent Powder", 6, kWeight, {"washing powder"}},
    {"Dishwash Bar", 6, kCount, {"bartan sabun"}},
    {"Toothpaste", 6, kWeight, {"manjan"}},
    {"Bath Soap", 6, kCount, {"sabun"}},
    {"Incense Sticks", 6, kCount, {"agarbatti"}},
    {"Floor Cleaner", 6, kVolume, {"phenyl"}},
};

const char* const kVariants[] = {"",        "Organic", "Premium", "Classic", "Select",
                                 "Gold",    "Fresh",   "Pure",    "Rich",    "Lite",
                                 "Special", "Daily",   "Natural", "Royal"};

struct Size {
  const char* written[3];  // how names write it
  const char* other;       // another spelling of the same amount, for unit queries
};

const std::vector<std::vector<Size>> kSizes = {
    {{{"200 ml", "200ml", "200 ML"}, "0.2 l"},
     {{"500 ml", "500ml", "500 Ml"}, "0.5 litre"},
     {{"1 L", "1 Ltr", "1 Litre"}, "1000 ml"},
     {{"2 L", "2 Ltr", "2 Litre"}, "2000ml"},
     {{"5 L", "5 Ltr", "5 Litre"}, "5000 ml"}},
    {{{"100 g", "100g", "100 gm"}, "0.1 kg"},
     {{"200 g", "200g", "200 gm"}, "0.2kg"},
     {{"250 g", "250g", "250 gm"}, "0.25 kg"},
     {{"500 g", "500g", "500 gm"}, "0.5 kg"},
     {{"1 kg", "1kg", "1 Kg"}, "1000 g"},
     {{"2 kg", "2kg", "2 Kg"}, "2000 gm"},
     {{"5 kg", "5kg", "5 Kg"}, "5000g"}},
    {{{"1 pc", "1 piece", "1 pcs"}, "1 pieces"},
     {{"6 pcs", "6 pieces", "6 pc"}, "6 pc"},
     {{"12 pcs", "12 pieces", "1 dozen"}, "12 pieces"},
     {{"30 pcs", "30 pieces", "30 pc"}, "30 pieces"}},
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (w.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out += w;
  }
  return out;
}

// One random edit (substitution, insertion, deletion or transposition of letters).
std::string one_edit(std::string w, std::mt19937_64& rng) {
  const char* letters = "abcdefghijklmnopqrstuvwxyz";
  for (;;) {
    std::string out = w;
    const int op = static_cast<int>(rng() % 4);
    const std::size_t pos = rng() % w.size();
    if (op == 0) {
      out[pos] = letters[rng() % 26];
    } else if (op == 1) {
      out.insert(out.begin() + static_cast<std::ptrdiff_t>(pos), letters[rng() % 26]);
    } else if (op == 2 && w.size() > 1) {
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(pos));
    } else if (op == 3 && pos + 1 < w.size() && w[pos] != w[pos + 1]) {
      std::swap(out[pos], out[pos + 1]);
    } else {
      continue;
    }
    if (out != w) return out;
  }
}

// `edits` random edits leaving at least `min_len` letters.
std::string edited(const std::string& w, int edits, std::size_t min_len, std::mt19937_64& rng) {
  for (;;) {
    std::string out = w;
    for (int i = 0; i < edits; ++i) out = one_edit(out, rng);
    if (out.size() >= min_len && out != w) return out;
  }
}

}  // namespace

const char* class_name(QueryClass c) {
  switch (c) {
    case QueryClass::kExact:
      return "exact";
    case QueryClass::kPrefix:
      return "prefix";
    case QueryClass::kOneTypo:
      return "one-typo";
    case QueryClass::kTwoTypo:
      return "two-typo";
    case QueryClass::kHinglish:
      return "hinglish";
    case QueryClass::kUnits:
      return "units";
    case QueryClass::kBrands:
      return "brands";
  }
  return "?";
}

std::vector<Product> generate_catalog(std::uint64_t seed, std::size_t count,
                                      std::size_t noise_words) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> noise;
  {
    std::mt19937_64 noise_rng(seed ^ 0x9E3779B97F4A7C15ull);
    const char* consonants = "bcdfghjklmnprstvz";
    const char* vowels = "aeiou";
    std::set<std::string> made;
    while (made.size() < noise_words) {
      std::string w;
      const std::size_t len = 5 + noise_rng() % 5;
      while (w.size() < len) {
        w.push_back(consonants[noise_rng() % 17]);
        if (w.size() < len) w.push_back(vowels[noise_rng() % 5]);
      }
      made.insert(w);
    }
    noise.assign(made.begin(), made.end());
  }
  std::set<std::tuple<int, int, int, int>> seen;
  std::vector<Product> out;
  out.reserve(count);
  std::size_t attempts = 0;
  while (out.size() < count && attempts++ < count * 50) {
    Product p;
    p.base = static_cast<int>(rng() % kBases.size());
    const Base& base = kBases[static_cast<std::size_t>(p.base)];
    const auto& brands = kBrands[static_cast<std::size_t>(base.category)];
    p.brand = static_cast<int>(rng() % brands.size());
    p.variant = static_cast<int>(rng() % std::size(kVariants));
    const auto& sizes = kSizes[base.kind];
    p.size = static_cast<int>(rng() % sizes.size());
    if (!seen.insert({p.base, p.brand, p.variant, p.size}).second) continue;
    const Size& size = sizes[static_cast<std::size_t>(p.size)];
    p.item.sku = "SKU" + std::to_string(100000 + out.size());
    std::string line;
    if (!noise.empty()) {
      line = noise[rng() % noise.size()];
      line[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(line[0])));
    }
    p.item.name = join({brands[static_cast<std::size_t>(p.brand)], line, kVariants[p.variant],
                        base.name, size.written[rng() % 3]});
    p.item.category = kCategories[base.category];
    p.item.price_cents = static_cast<std::int64_t>(1000 + rng() % 90000);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<LabelledQuery> generate_queries(std::uint64_t seed, const std::vector<Product>& catalog,
                                            std::size_t per_class) {
  std::mt19937_64 rng(seed * 7919 + 17);
  std::vector<LabelledQuery> out;
  auto pick = [&]() -> const Product& { return catalog[rng() % catalog.size()]; };
  auto brand_of = [](const Product& p) {
    return std::string(kBrands[static_cast<std::size_t>(
        kBases[static_cast<std::size_t>(p.base)].category)][static_cast<std::size_t>(p.brand)]);
  };
  auto base_of = [](const Product& p) { return kBases[static_cast<std::size_t>(p.base)]; };
  for (int c = 0; c < kQueryClasses; ++c) {
    const auto cls = static_cast<QueryClass>(c);
    for (std::size_t n = 0; n < per_class; ++n) {
      const Product& p = pick();
      LabelledQuery q;
      q.cls = cls;
      const std::string brand = lower(brand_of(p));
      const std::string variant = lower(kVariants[p.variant]);
      const Base& base = base_of(p);
      const std::string base_name = lower(base.name);
      switch (cls) {
        case QueryClass::kExact:
          q.text = p.item.name;
          q.brand = p.brand, q.variant = p.variant, q.base = p.base, q.size = p.size;
          break;
        case QueryClass::kPrefix: {
          std::vector<std::string> words = split(join({brand, variant, base_name}));
          std::string& last = words.back();
          const std::size_t keep = std::max<std::size_t>(3, last.size() / 2 + rng() % 2);
          if (keep < last.size()) last = last.substr(0, keep);
          q.text = join(words);
          q.brand = p.brand, q.variant = p.variant, q.base = p.base;
          break;
        }
        case QueryClass::kOneTypo:
        case QueryClass::kTwoTypo: {
          std::vector<std::string> words = split(join({brand, variant, base_name}));
          std::vector<std::size_t> long_words, very_long;
          for (std::size_t i = 0; i < words.size(); ++i) {
            if (words[i].size() >= 4) long_words.push_back(i);
            if (words[i].size() >= 9) very_long.push_back(i);
          }
          if (long_words.empty()) {
            --n;
            continue;
          }
          // The typed word stays as long as the tolerance asks (4+ letters for one edit,
          // 9+ for two in one word): shorter ones are matched exactly by design.
          if (cls == QueryClass::kOneTypo) {
            auto& w = words[long_words[rng() % long_words.size()]];
            w = edited(w, 1, 4, rng);
          } else if (!very_long.empty() && rng() % 2 == 0) {
            auto& w = words[very_long[rng() % very_long.size()]];
            w = edited(w, 2, 9, rng);
          } else if (long_words.size() >= 2) {
            const std::size_t a = rng() % long_words.size();
            std::size_t b = rng() % long_words.size();
            if (b == a) b = (a + 1) % long_words.size();
            words[long_words[a]] = edited(words[long_words[a]], 1, 4, rng);
            words[long_words[b]] = edited(words[long_words[b]], 1, 4, rng);
          } else {
            --n;
            continue;
          }
          q.text = join(words);
          q.brand = p.brand, q.variant = p.variant, q.base = p.base;
          break;
        }
        case QueryClass::kHinglish: {
          const std::string said = base.hinglish[rng() % base.hinglish.size()];
          q.text = rng() % 2 == 0 ? join({brand, said}) : join({said, brand});
          q.brand = p.brand, q.base = p.base;
          break;
        }
        case QueryClass::kUnits: {
          const Size& size = kSizes[base.kind][static_cast<std::size_t>(p.size)];
          q.text = join({brand, base_name, size.other});
          q.brand = p.brand, q.base = p.base, q.size = p.size;
          break;
        }
        case QueryClass::kBrands: {
          // A brand as customers misspell it: one edit to its longest word (4+ letters).
          std::vector<std::string> words = split(brand);
          std::size_t longest = 0;
          for (std::size_t i = 0; i < words.size(); ++i) {
            if (words[i].size() > words[longest].size()) longest = i;
          }
          if (words[longest].size() < 4) {
            --n;
            continue;
          }
          words[longest] = edited(words[longest], 1, 4, rng);
          q.text = join({join(words), base_name});
          q.brand = p.brand, q.base = p.base;
          break;
        }
      }
      out.push_back(std::move(q));
    }
  }
  return out;
}

}  // namespace shopeasy::tools::search_eval
