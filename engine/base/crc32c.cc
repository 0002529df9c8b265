#include "engine/base/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace ringest {

uint32_t crc32c(const void* data, size_t size, uint32_t crc) {
  // ISA-L works on the inverted register and takes int lengths.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t reg = ~crc;
  while (size > 0) {
    int n = size > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(size);
    reg = crc32_iscsi(p, n, reg);
    p += n;
    size -= static_cast<size_t>(n);
  }
  return ~reg;
}

}  // namespace ringest
