// CodeConfirmer: the two-frame rule for product codes read by a camera. Every reader
// sometimes returns a wrong code that still has a valid check digit; the same wrong
// code in two consecutive frames is far rarer. A code is confirmed when it is seen in
// a frame and in the frame before it, and is confirmed once per appearance: it can be
// confirmed again only after it has been absent for `rearm_frames` frames in a row.
// Not thread-safe (one per camera).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace shopeasy::edge::vision {

class CodeConfirmer {
 public:
  explicit CodeConfirmer(int rearm_frames = 3)
      : rearm_frames_(rearm_frames < 1 ? 1 : rearm_frames) {}

  // Feeds the codes of one frame (duplicates ignored); returns those confirmed by it,
  // in the order given.
  std::vector<std::string> observe(const std::vector<std::string>& codes);

  // Forgets every code (after a camera outage: frames before and after do not agree).
  void reset() { codes_.clear(); }

 private:
  struct State {
    bool seen_last = false;  // in the previous frame
    bool reported = false;   // confirmed during this appearance
    int absent = 0;          // frames in a row without it
  };
  int rearm_frames_;
  std::map<std::string, State> codes_;
};

}  // namespace shopeasy::edge::vision
