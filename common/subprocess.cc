#include "common/subprocess.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace remotegpu {

std::optional<UserIds> LookupUser(const std::string& name) {
  struct passwd* entry = getpwnam(name.c_str());
  if (entry == nullptr) return std::nullopt;
  return UserIds{entry->pw_uid, entry->pw_gid};
}

Result<Subprocess> Subprocess::Spawn(const std::vector<std::string>& argv,
                                     const SpawnOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("empty command line");
  std::optional<UserIds> user;
  if (!options.run_as_user.empty()) {
    user = LookupUser(options.run_as_user);
    if (!user) return Status::NotFound("no such user: " + options.run_as_user);
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const auto& e : options.extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  int pipe_fds[2] = {-1, -1};
  if (options.capture_stdout && pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    if (pipe_fds[0] >= 0) close(pipe_fds[0]), close(pipe_fds[1]);
    return Status::IoError(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    if (options.capture_stdout) {
      dup2(pipe_fds[1], STDOUT_FILENO);
      if (options.merge_stderr) dup2(pipe_fds[1], STDERR_FILENO);
    }
    if (user && !DropPrivilegesTo(*user)) _exit(126);
    execve(args[0], args.data(), env.data());
    if (errno == ENOENT) execvpe(args[0], args.data(), env.data());
    _exit(127);
  }
  if (options.capture_stdout) close(pipe_fds[1]);
  return Subprocess(pid, pipe_fds[0]);
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(other.pid_), stdout_fd_(other.stdout_fd_) {
  other.pid_ = -1;
  other.stdout_fd_ = -1;
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    Reset();
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
  }
  return *this;
}

Subprocess::~Subprocess() { Reset(); }

void Subprocess::Reset() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
}

void Subprocess::Signal(int signal) {
  if (pid_ > 0) kill(pid_, signal);
}

int Subprocess::Wait() {
  if (pid_ <= 0) return 0;
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

std::string Subprocess::ReadAllStdout() {
  std::string out;
  if (stdout_fd_ < 0) return out;
  char buffer[4096];
  while (true) {
    ssize_t n = read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> RunCommand(const std::vector<std::string>& argv, const SpawnOptions& options) {
  SpawnOptions capture = options;
  capture.capture_stdout = true;
  capture.merge_stderr = true;
  auto child = Subprocess::Spawn(argv, capture);
  if (!child.ok()) return child.status();
  std::string output = child->ReadAllStdout();
  int status = child->Wait();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return output;
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  std::string how = WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                      : "was killed by signal " + std::to_string(WTERMSIG(status));
  return Status::IoError("`" + command + "` " + how + ": " + output);
}

bool DropPrivilegesTo(const UserIds& user) {
  if (getuid() == user.uid && geteuid() == user.uid && getgid() == user.gid) return true;
  return setgroups(0, nullptr) == 0 && setgid(user.gid) == 0 && setuid(user.uid) == 0;
}

}  // namespace remotegpu
