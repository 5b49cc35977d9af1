#include "tests/contract/route_template.hpp"

namespace shopeasy::contract {

std::optional<std::string> template_of_pattern(const std::string& pattern) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size()) return std::nullopt;
      out += pattern[++i];
    } else if (c == '(') {
      // A capture group, possibly with nested groups or bracketed classes inside.
      int depth = 0;
      bool in_class = false;
      std::size_t j = i;
      for (; j < pattern.size(); ++j) {
        const char d = pattern[j];
        if (d == '\\') {
          ++j;
        } else if (in_class) {
          if (d == ']') in_class = false;
        } else if (d == '[') {
          in_class = true;
        } else if (d == '(') {
          ++depth;
        } else if (d == ')' && --depth == 0) {
          break;
        }
      }
      if (j >= pattern.size()) return std::nullopt;
      out += "{}";
      i = j;
    } else if (std::string_view("[]{}*+?|^$.").find(c) != std::string_view::npos) {
      return std::nullopt;
    } else {
      out += c;
    }
  }
  return out;
}

std::string template_of_path(const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      const std::size_t end = path.find('}', i);
      if (end == std::string::npos) return out + path.substr(i);
      out += "{}";
      i = end;
    } else {
      out += path[i];
    }
  }
  return out;
}

}  // namespace shopeasy::contract
