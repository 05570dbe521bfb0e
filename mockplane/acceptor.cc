#include "mockplane/acceptor.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace mockplane {

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Listen(const std::string& host, int port) {
  std::unique_ptr<Acceptor> acceptor(new Acceptor(host, port));
  if (pipe2(acceptor->wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::lock_guard<std::mutex> lock(acceptor->mu_);
  absl::Status status = acceptor->OpenLocked();
  if (!status.ok()) return status;
  return acceptor;
}

absl::Status Acceptor::OpenLocked() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port_);
  if (int rc = getaddrinfo(host_.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot listen on ", host_, ":", port_, ": ", gai_strerror(rc)));
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  const bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
                  bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, 128) == 0;
  freeaddrinfo(found);
  if (!ok) {
    const std::string error = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host_, ":", port_, ": ", error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  return absl::OkStatus();
}

void Acceptor::Start(grpc::Server* server) {
  server_ = server;
  thread_ = std::thread([this] { Loop(); });
}

void Acceptor::Wake() {
  const char byte = 0;
  (void)!write(wake_pipe_[1], &byte, 1);
}

absl::Status Acceptor::RefuseNewConnections(bool refuse) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::FailedPreconditionError("acceptor stopped");
    if (refuse && listen_fd_ >= 0) {
      close(listen_fd_);
      listen_fd_ = -1;
    } else if (!refuse && listen_fd_ < 0) {
      absl::Status status = OpenLocked();
      if (!status.ok()) return status;
    }
  }
  Wake();  // the loop picks up the new listening socket (or none)
  return absl::OkStatus();
}

void Acceptor::Loop() {
  while (true) {
    int listen_fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      listen_fd = listen_fd_;
    }
    pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {listen_fd, POLLIN, 0}};
    // A negative fd is ignored by poll(): while refusing only the pipe counts.
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
      }
      continue;  // re-read the state
    }
    if (!(fds[1].revents & POLLIN)) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || listen_fd_ != listen_fd) continue;  // closed meanwhile
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    grpc::AddInsecureChannelFromFd(server_, fd);  // the server owns fd now
  }
}

void Acceptor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

Acceptor::~Acceptor() {
  Stop();
  if (wake_pipe_[0] >= 0) close(wake_pipe_[0]);
  if (wake_pipe_[1] >= 0) close(wake_pipe_[1]);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
