#include "server/shutdown_on_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

// The pipe from the handler to the watcher; -1 when none is installed.
std::atomic<int> g_write_fd{-1};
int g_read_fd = -1;
std::atomic<bool> g_installed{false};

void OnSignal(int signal) {
  const int saved = errno;
  const int fd = g_write_fd.load();
  if (fd >= 0) {
    const unsigned char byte = static_cast<unsigned char>(signal);
    (void)!write(fd, &byte, 1);
  }
  errno = saved;
}

constexpr unsigned char kStopWatching = 0;

}  // namespace

absl::StatusOr<std::unique_ptr<ShutdownOnSignal>> ShutdownOnSignal::Install(
    PolarisServer* server, std::vector<int> signals) {
  if (server == nullptr) return absl::InvalidArgumentError("ShutdownOnSignal: no server");
  for (int signal : signals) {
    if (signal <= 0 || signal >= 64 || signal == SIGKILL || signal == SIGSTOP) {
      return absl::InvalidArgumentError(
          absl::StrCat("ShutdownOnSignal: signal ", signal, " cannot be handled"));
    }
  }
  if (g_installed.exchange(true)) {
    return absl::FailedPreconditionError("ShutdownOnSignal is already installed in this process");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    g_installed = false;
    return absl::InternalError(absl::StrCat("ShutdownOnSignal: pipe: ", std::strerror(errno)));
  }
  g_read_fd = fds[0];
  g_write_fd = fds[1];
  std::unique_ptr<ShutdownOnSignal> handler(new ShutdownOnSignal(server, std::move(signals)));
  return handler;
}

ShutdownOnSignal::ShutdownOnSignal(PolarisServer* server, std::vector<int> signals)
    : server_(server), signals_(std::move(signals)) {
  watcher_ = std::thread([this] { Watch(); });
  for (int signal : signals_) {
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction previous = {};
    sigaction(signal, &action, &previous);
    previous_.push_back(previous);
  }
}

ShutdownOnSignal::~ShutdownOnSignal() {
  for (size_t i = 0; i < signals_.size(); ++i) sigaction(signals_[i], &previous_[i], nullptr);
  const int fd = g_write_fd.exchange(-1);
  (void)!write(fd, &kStopWatching, 1);
  watcher_.join();
  close(fd);
  close(g_read_fd);
  g_read_fd = -1;
  g_installed = false;
}

void ShutdownOnSignal::Watch() {
  while (true) {
    unsigned char byte = 0;
    const ssize_t n = read(g_read_fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == kStopWatching) return;
    if (signal_.exchange(byte) != 0) continue;  // already shutting down
    gpr_log(GPR_INFO, "polaris: signal %d: taking the server offline and stopping it", byte);
    absl::Status status = server_->Shutdown();
    if (!status.ok()) {
      gpr_log(GPR_ERROR, "polaris: graceful shutdown: %s", status.ToString().c_str());
    }
  }
}

}  // namespace grpc_cpp_polaris
