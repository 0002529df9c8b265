// Always-on invariant checks. Plain assert() vanishes under NDEBUG; these do not.
// A failed check is a bug in ringest, never a reaction to input: it prints and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RINGEST_CHECK(cond)                                                              \
  do {                                                                                   \
    if (__builtin_expect(!(cond), 0)) {                                                  \
      std::fprintf(stderr, "ringest: check failed: %s at %s:%d\n", #cond, __FILE__,      \
                   __LINE__);                                                            \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)
