#include "common/status.h"

#include <gtest/gtest.h>

namespace remotegpu {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.conflict(), nullptr);
}

TEST(StatusTest, ConflictCarriesStreamExpectedAndActual) {
  Status s = Status::Conflict({"host-1", "2", 3});
  EXPECT_EQ(s.code(), StatusCode::kVersionConflict);
  ASSERT_NE(s.conflict(), nullptr);
  EXPECT_EQ(s.conflict()->stream_id, "host-1");
  EXPECT_EQ(s.conflict()->expected, "2");
  EXPECT_EQ(s.conflict()->actual, 3u);
  EXPECT_EQ(s.ToString(), "VersionConflict: stream host-1 is at version 3, expected 2");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> value = 7;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 7);
  EXPECT_TRUE(value.status().ok());

  Result<int> error = Status::NotFound("no host-9");
  ASSERT_FALSE(error.ok());
  EXPECT_EQ(error.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(error.status().message(), "no host-9");
}

Status FailsAtSecond(int* reached) {
  RGPU_RETURN_IF_ERROR(Status::Ok());
  *reached = 1;
  RGPU_RETURN_IF_ERROR(Status::IoError("disk"));
  *reached = 2;
  return Status::Ok();
}

TEST(StatusTest, ReturnIfErrorStopsAtFirstFailure) {
  int reached = 0;
  Status s = FailsAtSecond(&reached);
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(reached, 1);
}

}  // namespace
}  // namespace remotegpu
