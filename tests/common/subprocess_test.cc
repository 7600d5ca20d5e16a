#include "common/subprocess.h"

#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

namespace remotegpu {
namespace {

TEST(SubprocessTest, RunCommandReturnsOutput) {
  auto out = RunCommand({"/bin/sh", "-c", "echo hello; echo oops >&2"});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "hello\noops\n");
}

TEST(SubprocessTest, RunCommandReportsExitCodeAndOutput) {
  auto out = RunCommand({"/bin/sh", "-c", "echo broken; exit 3"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kIoError);
  EXPECT_NE(out.status().message().find("exited with 3"), std::string::npos);
  EXPECT_NE(out.status().message().find("broken"), std::string::npos);
}

TEST(SubprocessTest, MissingProgramExits127) {
  auto child = Subprocess::Spawn({"/nonexistent/program"});
  ASSERT_TRUE(child.ok());
  int status = child->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 127);
}

TEST(SubprocessTest, SignalKillsChild) {
  auto child = Subprocess::Spawn({"/bin/sleep", "30"});
  ASSERT_TRUE(child.ok());
  child->Signal(SIGKILL);
  int status = child->Wait();
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(SubprocessTest, UnknownUserIsNotFound) {
  auto child = Subprocess::Spawn({"/bin/true"}, {.run_as_user = "no-such-user-rgpu"});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace remotegpu
