#include "agent/process_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "agent/proc_text.h"
#include "common/subprocess.h"

namespace remotegpu::agent {
namespace {

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// "exited with status 3", "killed by signal 9".
std::string Describe(int wait_status) {
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    return "killed by signal " + std::to_string(WTERMSIG(wait_status)) + " (" +
           strsignal(WTERMSIG(wait_status)) + ")";
  }
  return "ended (wait status " + std::to_string(wait_status) + ")";
}

}  // namespace

std::string ProcessRuntime::LogPath(const std::string& env_id) const {
  return (std::filesystem::path(work_dir_) / (env_id + ".log")).string();
}

Status ProcessRuntime::Start(const WorkloadSpec& spec) {
  if (spec.command.empty()) {
    return Status::InvalidArgument("the process runtime needs a command (" + spec.env_id +
                                   " names only an image)");
  }
  if (auto it = children_.find(spec.env_id); it != children_.end()) {
    RGPU_RETURN_IF_ERROR(Remove(spec.env_id));
  }
  std::error_code error;
  std::filesystem::create_directories(work_dir_, error);
  if (error) return Status::IoError("cannot create " + work_dir_ + ": " + error.message());

  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls. Nothing of the agent's environment is passed
  // on: it may hold the agent's token.
  std::optional<UserIds> user;
  if (!run_as_user_.empty()) {
    user = LookupUser(run_as_user_);
    if (!user) return Status::FailedPrecondition("no user " + run_as_user_ + " to run workloads");
  }
  std::map<std::string, std::string> variables = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", "/tmp"},
      {"LANG", "C.UTF-8"}};
  for (const auto& [name, value] : spec.env) variables[name] = value;
  std::string devices;
  for (uint32_t gpu : spec.gpu_indexes)
    devices += (devices.empty() ? "" : ",") + std::to_string(gpu);
  variables["CUDA_VISIBLE_DEVICES"] = devices;
  variables["REMOTEGPU_ENV_ID"] = spec.env_id;
  for (const auto& port : spec.ports) {
    variables["REMOTEGPU_PORT_" + Upper(port.service)] = std::to_string(port.host_port);
  }
  std::vector<std::string> entries;
  for (const auto& [name, value] : variables) entries.push_back(name + "=" + value);
  std::vector<char*> envp, argv;
  for (auto& entry : entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> command = spec.command;
  for (auto& word : command) argv.push_back(word.data());
  argv.push_back(nullptr);

  const std::string log_path = LogPath(spec.env_id);
  const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log < 0) return Status::IoError("cannot open " + log_path + ": " + std::strerror(errno));
  // exec's failure comes back through a close-on-exec pipe: nothing read
  // means exec worked.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    close(log);
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log);
    close(report[0]);
    close(report[1]);
    return Status::IoError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    setpgid(0, 0);
    // Drop to the workload's user first: changing credentials clears the
    // parent-death signal, which must outlast it.
    if (user && !DropPrivilegesTo(*user)) {
      const int failure = errno;
      [[maybe_unused]] ssize_t ignored = write(report[1], &failure, sizeof failure);
      _exit(127);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The agent died before prctl.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);  // The agent blocks SIGTERM; children must not.
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execvpe(argv[0], argv.data(), envp.data());
    const int failure = errno;
    [[maybe_unused]] ssize_t ignored = write(report[1], &failure, sizeof failure);
    _exit(127);
  }
  close(log);
  close(report[1]);
  int failure = 0;
  const ssize_t got = read(report[0], &failure, sizeof failure);
  close(report[0]);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    waitpid(pid, nullptr, 0);
    return Status::InvalidArgument("cannot run " + spec.command[0] + ": " + std::strerror(failure));
  }
  children_[spec.env_id] = Child{pid, spec.generation, false, 0};
  return Status::Ok();
}

void ProcessRuntime::Poll(Child& child) {
  if (child.exited) return;
  int status = 0;
  if (waitpid(child.pid, &status, WNOHANG) == child.pid) {
    child.exited = true;
    child.wait_status = status;
  }
}

Status ProcessRuntime::Remove(const std::string& env_id) {
  auto it = children_.find(env_id);
  if (it == children_.end()) return Status::Ok();
  Child& child = it->second;
  Poll(child);
  if (!child.exited) {
    kill(-child.pid, SIGTERM);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(stop_grace_ms_);
    while (!child.exited && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      Poll(child);
    }
    if (!child.exited) {
      kill(-child.pid, SIGKILL);
      waitpid(child.pid, nullptr, 0);
    }
  }
  kill(-child.pid, SIGKILL);  // Whatever the process group left behind.
  children_.erase(it);
  return Status::Ok();
}

Result<std::vector<WorkloadStatus>> ProcessRuntime::List() {
  std::vector<WorkloadStatus> out;
  for (auto& [env_id, child] : children_) {
    Poll(child);
    WorkloadStatus status{env_id, !child.exited, 0, "", child.generation};
    if (child.exited) {
      status.exit_code = WIFEXITED(child.wait_status) ? WEXITSTATUS(child.wait_status)
                                                      : 128 + WTERMSIG(child.wait_status);
      status.reason = "process " + Describe(child.wait_status);
    }
    out.push_back(std::move(status));
  }
  return out;
}

Result<std::string> ProcessRuntime::Logs(const std::string& env_id, int tail) {
  if (!children_.contains(env_id)) return Status::NotFound("no workload " + env_id);
  const std::string text = ReadTextFile(LogPath(env_id));
  // Back from the end to the newline before the `tail`-th last line.
  size_t start = 0;
  int seen = 0;
  for (size_t i = text.size(); i-- > 0;) {
    if (text[i] == '\n' && i + 1 != text.size() && ++seen == tail) {
      start = i + 1;
      break;
    }
  }
  return text.substr(start);
}

void ProcessRuntime::Shutdown() {
  while (!children_.empty()) (void)Remove(children_.begin()->first);
}

pid_t ProcessRuntime::PidOf(const std::string& env_id) const {
  auto it = children_.find(env_id);
  return it == children_.end() || it->second.exited ? -1 : it->second.pid;
}

}  // namespace remotegpu::agent
