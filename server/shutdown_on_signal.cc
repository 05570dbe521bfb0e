#include "server/shutdown_on_signal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
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
  // One pipe for the process's life: a handler running on another thread
  // while the object goes must never write to a reused descriptor.
  static int fds[2] = {-1, -1};
  if (fds[0] < 0 && pipe2(fds, O_CLOEXEC) != 0) {
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
  for (int signal : signals_) {
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    struct sigaction previous = {};
    sigaction(signal, &action, &previous);
    previous_.push_back(previous);
  }
  watcher_ = std::thread([this] { Watch(); });
}

ShutdownOnSignal::~ShutdownOnSignal() {
  for (size_t i = 0; i < signals_.size(); ++i) sigaction(signals_[i], &previous_[i], nullptr);
  const int fd = g_write_fd.exchange(-1);
  (void)!write(fd, &kStopWatching, 1);
  watcher_.join();
  g_installed = false;
}

void ShutdownOnSignal::BlockSignals(const std::vector<int>& signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) sigaddset(&set, signal);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void ShutdownOnSignal::Watch() {
  // Signals blocked in every thread (BlockSignals) stay pending for the
  // process: the signalfd hands them over without any handler running.
  // Otherwise the kernel gives them to a thread that does not block them,
  // whose handler writes to the pipe.
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals_) sigaddset(&set, signal);
  const int signal_fd = signalfd(-1, &set, SFD_CLOEXEC);
  while (true) {
    pollfd fds[2] = {{g_read_fd, POLLIN, 0}, {signal_fd, POLLIN, 0}};
    const int ready = poll(fds, signal_fd >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    int signal = 0;
    if ((fds[0].revents & POLLIN) != 0) {
      unsigned char byte = 0;
      if (read(g_read_fd, &byte, 1) != 1 || byte == kStopWatching) break;
      signal = byte;
    } else if (signal_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      signalfd_siginfo info = {};
      if (read(signal_fd, &info, sizeof(info)) != sizeof(info)) continue;
      signal = static_cast<int>(info.ssi_signo);
    } else {
      continue;
    }
    if (signal_.exchange(signal) != 0) continue;  // already shutting down
    gpr_log(GPR_INFO, "polaris: signal %d: taking the server offline and stopping it", signal);
    absl::Status status = server_->Shutdown();
    if (!status.ok()) {
      gpr_log(GPR_ERROR, "polaris: graceful shutdown: %s", status.ToString().c_str());
    }
  }
  if (signal_fd >= 0) close(signal_fd);
}

}  // namespace grpc_cpp_polaris
