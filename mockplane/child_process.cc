#include "mockplane/child_process.h"

#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace grpc_cpp_polaris {
namespace mockplane {

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(std::vector<std::string> argv) {
  int fds[2];
  if (argv.empty() || pipe(fds) != 0) return absl::InternalError("cannot create a pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  std::unique_ptr<ChildProcess> process(new ChildProcess());
  const int rc = posix_spawn(&process->pid_, argv[0].c_str(), &actions, nullptr, args.data(),
                             environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    process->pid_ = -1;
    return absl::UnavailableError(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  process->out_ = fdopen(fds[0], "r");
  return process;
}

absl::StatusOr<std::string> ChildProcess::ReadLine() {
  std::string line;
  for (int c = std::fgetc(out_); c != EOF; c = std::fgetc(out_)) {
    if (c == '\n') return line;
    line.push_back(static_cast<char>(c));
  }
  return absl::UnavailableError(absl::StrCat("process ", pid_, " closed its output"));
}

void ChildProcess::Stop(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

ChildProcess::~ChildProcess() {
  Stop();
  if (out_ != nullptr) std::fclose(out_);
}

std::string RunfilesPath(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir != nullptr && workspace != nullptr) return absl::StrCat(srcdir, "/", workspace, "/", path);
  // `bazel run`: beside the binary.
  return absl::StrCat(program_invocation_name, ".runfiles/grpc_cpp_polaris/", path);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
