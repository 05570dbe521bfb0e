// A program a test or benchmark runs as a separate process (so that it can
// really be killed, or measured apart), with the first line of its stdout
// readable. Killed with SIGKILL on destruction if still running.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_CHILD_PROCESS_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class ChildProcess {
 public:
  // Starts argv[0] with the arguments that follow.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(std::vector<std::string> argv);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // The next line the process prints (without the newline); blocks until it
  // does, or fails once its stdout is closed.
  absl::StatusOr<std::string> ReadLine();
  // Sends `signal` and waits for the process to end.
  void Stop(int signal = SIGKILL);

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

// Where a data dependency (e.g. "mockplane/polaris_mock_server") lies in the
// runfiles of this test or `bazel run` binary.
std::string RunfilesPath(const std::string& path);

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_CHILD_PROCESS_H_
