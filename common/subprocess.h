// Child processes: the embedded PostgreSQL, crash-test children, peers started
// by benchmarks. POSIX fork/exec with an optional switch to another user (so a
// root process can run PostgreSQL as `postgres`).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace remotegpu {

struct SpawnOptions {
  // Run as this user (requires root). Empty: the current user.
  std::string run_as_user;
  // Give the parent a pipe that reads the child's stdout.
  bool capture_stdout = false;
  // Send the child's stderr to stdout (only with capture_stdout).
  bool merge_stderr = false;
  // Extra "NAME=value" entries added to the inherited environment.
  std::vector<std::string> extra_env;
};

// A running child. The destructor SIGKILLs and reaps a child still running,
// so a failing test never leaks processes. Not thread-safe.
class Subprocess {
 public:
  static Result<Subprocess> Spawn(const std::vector<std::string>& argv,
                                  const SpawnOptions& options = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Read end of the child's stdout, or -1 without capture_stdout. Owned by this object.
  int stdout_fd() const { return stdout_fd_; }

  // Sends `signal` to the child; a no-op once it was reaped.
  void Signal(int signal);
  // Waits for the child to end; returns its wait status (see waitpid(2)).
  int Wait();
  // Reads the captured stdout until end of file.
  std::string ReadAllStdout();

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  void Reset();

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
};

// Runs a command to completion. Returns its stdout and stderr together when it
// exits 0; otherwise an IoError that quotes the command and its output.
Result<std::string> RunCommand(const std::vector<std::string>& argv,
                               const SpawnOptions& options = {});

// uid and gid of a named user, if it exists.
struct UserIds {
  uid_t uid;
  gid_t gid;
};
std::optional<UserIds> LookupUser(const std::string& name);

// In a child between fork and exec: becomes `user` (supplementary groups
// dropped, then the group, then the user), or stays as it is when it already
// runs as that user. Only async-signal-safe calls; false (errno set) when
// the kernel refuses.
bool DropPrivilegesTo(const UserIds& user);

}  // namespace remotegpu
