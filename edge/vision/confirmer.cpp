#include "edge/vision/confirmer.hpp"

#include <set>

namespace shopeasy::edge::vision {

std::vector<std::string> CodeConfirmer::observe(const std::vector<std::string>& codes) {
  std::vector<std::string> confirmed;
  std::set<std::string> now;
  for (const std::string& c : codes) {
    if (!now.insert(c).second) continue;
    State& s = codes_[c];
    if (s.seen_last && !s.reported) {
      s.reported = true;
      confirmed.push_back(c);
    }
  }
  for (auto it = codes_.begin(); it != codes_.end();) {
    State& s = it->second;
    if (now.count(it->first)) {
      s.seen_last = true;
      s.absent = 0;
      ++it;
      continue;
    }
    s.seen_last = false;
    // Forgotten once absent long enough: the next appearance is a new one.
    if (++s.absent >= rearm_frames_) {
      it = codes_.erase(it);
    } else {
      ++it;
    }
  }
  return confirmed;
}

}  // namespace shopeasy::edge::vision
