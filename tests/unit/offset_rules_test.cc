// Proves the append rules: the request offset must equal the committed offset, and a declared
// body may fill but never pass the upload length; remaining_bytes never underflows.
#include "engine/upload/offset_rules.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace ringest {
namespace {

const char* check_name(AppendCheck c) {
  switch (c) {
    case AppendCheck::kOk:
      return "kOk";
    case AppendCheck::kOffsetMismatch:
      return "kOffsetMismatch";
    case AppendCheck::kExceedsLength:
      return "kExceedsLength";
  }
  return "?";
}

struct AppendCase {
  const char* name;
  uint64_t committed;
  uint64_t length;
  uint64_t request_offset;
  int64_t body_bytes;
  AppendCheck expected;
};

std::ostream& operator<<(std::ostream& os, const AppendCase& c) { return os << c.name; }

class CheckAppendTest : public ::testing::TestWithParam<AppendCase> {};

TEST_P(CheckAppendTest, Table) {
  const AppendCase& c = GetParam();
  AppendCheck got = check_append(c.committed, c.length, c.request_offset, c.body_bytes);
  EXPECT_EQ(got, c.expected) << c.name << ": got " << check_name(got) << ", want "
                             << check_name(c.expected);
}

constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);

INSTANTIATE_TEST_SUITE_P(
    Rules, CheckAppendTest,
    ::testing::Values(
        AppendCase{"first_append_fills_all", 0, 100, 0, 100, AppendCheck::kOk},
        AppendCase{"first_append_partial", 0, 100, 0, 30, AppendCheck::kOk},
        AppendCase{"middle_append_partial", 40, 100, 40, 10, AppendCheck::kOk},
        AppendCase{"body_exactly_fills_remaining", 40, 100, 40, 60, AppendCheck::kOk},
        AppendCase{"one_byte_over", 40, 100, 40, 61, AppendCheck::kExceedsLength},
        AppendCase{"one_byte_over_from_zero", 0, 100, 0, 101, AppendCheck::kExceedsLength},
        AppendCase{"huge_body", 0, 100, 0, INT64_MAX, AppendCheck::kExceedsLength},
        AppendCase{"empty_body", 40, 100, 40, 0, AppendCheck::kOk},
        AppendCase{"offset_behind", 40, 100, 30, 10, AppendCheck::kOffsetMismatch},
        AppendCase{"offset_ahead", 40, 100, 50, 10, AppendCheck::kOffsetMismatch},
        AppendCase{"offset_past_length", 40, 100, 101, 0, AppendCheck::kOffsetMismatch},
        AppendCase{"mismatch_wins_over_exceeds", 40, 100, 0, 1000, AppendCheck::kOffsetMismatch},
        AppendCase{"unknown_length_matching_offset", 40, 100, 40, -1, AppendCheck::kOk},
        AppendCase{"unknown_length_other_negative", 40, 100, 40, INT64_MIN, AppendCheck::kOk},
        AppendCase{"unknown_length_mismatch", 40, 100, 41, -1, AppendCheck::kOffsetMismatch},
        AppendCase{"unknown_length_at_end", 100, 100, 100, -1, AppendCheck::kOk},
        AppendCase{"complete_upload_empty_body", 100, 100, 100, 0, AppendCheck::kOk},
        AppendCase{"complete_upload_one_byte", 100, 100, 100, 1, AppendCheck::kExceedsLength},
        AppendCase{"zero_length_upload_empty_body", 0, 0, 0, 0, AppendCheck::kOk},
        AppendCase{"zero_length_upload_one_byte", 0, 0, 0, 1, AppendCheck::kExceedsLength},
        AppendCase{"zero_length_upload_unknown_body", 0, 0, 0, -1, AppendCheck::kOk},
        AppendCase{"zero_length_upload_bad_offset", 0, 0, 1, 0, AppendCheck::kOffsetMismatch},
        AppendCase{"max_length_filled_at_once", 0, kMax, 0, INT64_MAX, AppendCheck::kOk},
        AppendCase{"max_length_last_byte", kMax - 1, kMax, kMax - 1, 1, AppendCheck::kOk},
        AppendCase{"max_length_two_bytes_left_three_sent", kMax - 2, kMax, kMax - 2, 3,
                   AppendCheck::kExceedsLength}),
    [](const ::testing::TestParamInfo<AppendCase>& param_info) {
      return std::string(param_info.param.name);
    });

struct RemainingCase {
  uint64_t offset;
  uint64_t length;
  uint64_t expected;
};

TEST(RemainingBytesTest, Table) {
  const RemainingCase cases[] = {
      {0, 100, 100},      {40, 100, 60},
      {99, 100, 1},       {100, 100, 0},
      {0, 0, 0},          {150, 100, 0},
      {0, kMax, kMax},    {kMax, kMax, 0},
      {UINT64_MAX, 0, 0}, {1, UINT64_MAX, UINT64_MAX - 1},
  };
  for (const RemainingCase& c : cases) {
    EXPECT_EQ(remaining_bytes(c.offset, c.length), c.expected)
        << "offset " << c.offset << " length " << c.length;
  }
}

TEST(RemainingBytesTest, AgreesWithCheckAppendAtTheBoundary) {
  // A body of exactly remaining_bytes() passes; one more byte does not.
  for (uint64_t length : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{1} << 40}) {
    for (uint64_t offset : {uint64_t{0}, length / 2, length}) {
      int64_t remaining = static_cast<int64_t>(remaining_bytes(offset, length));
      EXPECT_EQ(check_append(offset, length, offset, remaining), AppendCheck::kOk)
          << offset << "/" << length;
      EXPECT_EQ(check_append(offset, length, offset, remaining + 1), AppendCheck::kExceedsLength)
          << offset << "/" << length;
    }
  }
}

}  // namespace
}  // namespace ringest
