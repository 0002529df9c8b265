// Fuzzes the pure half of FilePond's chunk protocol (http/filepond/filepond_request.*), the
// parsers of everything a client controls on the /filepond route: the query (as a request
// target), the creation form (a Content-Type and a multipart body, split at the input's first
// '\n'), the metadata JSON (nlohmann::json's SAX parser) and Upload-Name. Checked: no crash or
// UB (ASan, UBSan, and an exactly sized copy of the input so a read past it is seen); views
// point into the input; an accepted query names one known parameter whose value holds no '&';
// a form's value lies within the body, and a form the parser accepts still parses (the same
// value) when the boundary's quotes change; kept metadata pairs have tus-safe keys, no repeated
// key, and stay within kMaxKeptMetadataBytes; the query, form and name parsers never allocate.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/check.h"
#include "http/filepond/filepond_request.h"
#include "tests/fuzz/fuzz_support.h"

namespace ringest::filepond {
namespace {

using fuzz::AllocationFreeScope;

bool within(std::string_view inner, std::string_view outer) {
  auto i = reinterpret_cast<uintptr_t>(inner.data());
  auto o = reinterpret_cast<uintptr_t>(outer.data());
  return inner.empty() ||
         (i >= o && inner.size() <= outer.size() && i - o <= outer.size() - inner.size());
}

void check_query(std::string_view target) {
  Query q;
  {
    AllocationFreeScope no_allocation;
    q = parse_query(target);
  }
  RINGEST_CHECK(within(q.value, target));
  if (q.kind == QueryKind::kNone) {
    RINGEST_CHECK(q.value.empty());
    size_t question = target.find('?');
    RINGEST_CHECK(question == std::string_view::npos || question + 1 == target.size());
  }
  if (q.kind == QueryKind::kPatch || q.kind == QueryKind::kRestore ||
      q.kind == QueryKind::kLoad || q.kind == QueryKind::kFetch) {
    RINGEST_CHECK(q.value.find('&') == std::string_view::npos);
  }
}

void check_form(std::string_view input) {
  size_t newline = input.find('\n');
  std::string_view type = input.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? std::string_view()
                                                             : input.substr(newline + 1);
  std::string_view value;
  FormError error;
  {
    AllocationFreeScope no_allocation;
    error = parse_metadata_form(type, body, &value);
  }
  RINGEST_CHECK(within(value, body));
  if (error != FormError::kOk) return;
  RINGEST_CHECK(value.size() <= body.size());
  // The same boundary, quoted: the same answer.
  size_t at = type.find("boundary=");
  if (at == std::string_view::npos || type.find('"') != std::string_view::npos ||
      type.find(';', at) != std::string_view::npos) {
    return;
  }
  std::string quoted(type.substr(0, at + 9));
  quoted += '"';
  std::string_view boundary = type.substr(at + 9);
  while (!boundary.empty() && (boundary.back() == ' ' || boundary.back() == '\t')) {
    boundary.remove_suffix(1);
  }
  quoted.append(boundary);
  quoted += '"';
  std::string_view again;
  RINGEST_CHECK(parse_metadata_form(quoted, body, &again) == FormError::kOk);
  RINGEST_CHECK(again == value);
}

void check_metadata(std::string_view json) {
  std::vector<MetadataPair> pairs;
  MetadataError error = metadata_pairs(json, &pairs);
  if (error != MetadataError::kOk) {
    RINGEST_CHECK(pairs.empty());
    return;
  }
  size_t bytes = 4;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::string& key = pairs[i].key;
    RINGEST_CHECK(!key.empty() && key.size() <= kMaxKeptKeyBytes);
    for (char c : key) RINGEST_CHECK(c > 0x20 && c < 0x7f && c != ',');
    for (size_t j = 0; j < i; ++j) RINGEST_CHECK(pairs[j].key != key);
    bytes += 6 + key.size() + pairs[i].value.size();
  }
  RINGEST_CHECK(bytes <= kMaxKeptMetadataBytes);
}

void check_name(std::string_view value) {
  bool valid;
  {
    AllocationFreeScope no_allocation;
    valid = valid_upload_name(value);
  }
  if (!valid) return;
  RINGEST_CHECK(!value.empty() && value.size() <= kMaxUploadNameBytes);
  for (char c : value) {
    RINGEST_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  }
}

}  // namespace
}  // namespace ringest::filepond

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ringest::fuzz::install_allocation_hooks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringest::filepond;
  // An exactly sized copy: ASan sees any read past the end of the input.
  std::unique_ptr<char[]> copy(new char[size ? size : 1]);
  if (size) std::memcpy(copy.get(), data, size);
  std::string_view input(copy.get(), size);
  check_query(input);
  check_form(input);
  if (size <= 70000) check_metadata(input);  // the most a form can carry
  check_name(input);
  return 0;
}
