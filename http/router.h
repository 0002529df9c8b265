// Router: maps a request path to the handler of the route that owns it. Routes are path
// prefixes ("/files/" also owns "/files") or exact paths ("/metrics"), matched longest first;
// "*" (OPTIONS *) goes to the route marked as the server's default. Built once at start-up,
// read-only afterwards (shared by every reactor).
#pragma once

#include <string_view>
#include <vector>

#include "http/handler.h"

namespace ringest::http {

struct Route {
  Handler* handler = nullptr;
  std::string_view rest;  // the path after the route's prefix ("" for an exact route)
};

class Router {
 public:
  // `prefix` ends in '/' for a prefix route (the same path without the '/' matches too, with an
  // empty rest); anything else is an exact path.
  void add(std::string_view prefix, Handler* handler);
  // An exact path, even one that ends in '/' (the root "/").
  void add_exact(std::string_view path, Handler* handler);
  // The handler that answers "OPTIONS *" (about the server as a whole).
  void set_default(Handler* handler) { default_ = handler; }
  // A route, or one with a null handler (404).
  Route route(std::string_view path) const;

 private:
  struct Entry {
    std::string_view prefix;
    Handler* handler;
    bool exact;
  };
  void sort();
  std::vector<Entry> entries_;  // longest prefix first
  Handler* default_ = nullptr;
};

}  // namespace ringest::http
