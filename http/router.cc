#include "http/router.h"

#include <algorithm>

namespace ringest::http {

void Router::add(std::string_view prefix, Handler* handler) {
  entries_.push_back({prefix, handler, prefix.back() != '/'});
  sort();
}

void Router::add_exact(std::string_view path, Handler* handler) {
  entries_.push_back({path, handler, true});
  sort();
}

void Router::sort() {
  std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

Route Router::route(std::string_view path) const {
  if (path == "*") return {default_, {}};
  for (const Entry& e : entries_) {
    std::string_view prefix = e.prefix;
    if (e.exact) {
      if (path == prefix) return {e.handler, {}};
    } else {
      if (path.substr(0, prefix.size()) == prefix) return {e.handler, path.substr(prefix.size())};
      if (path == prefix.substr(0, prefix.size() - 1)) return {e.handler, {}};
    }
  }
  return {};
}

}  // namespace ringest::http
