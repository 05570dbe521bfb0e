#include "mockplane/acceptor.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace grpc_cpp_polaris {
namespace mockplane {

absl::StatusOr<std::unique_ptr<Acceptor>> Acceptor::Listen(const std::string& host, int port,
                                                           AcceptorOptions options) {
  if (options.handshake_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("handshake_timeout must be positive");
  }
  if (options.max_pending_handshakes == 0) {
    return absl::InvalidArgumentError("max_pending_handshakes must be positive");
  }
  std::unique_ptr<Acceptor> acceptor(new Acceptor(host, port, options));
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

namespace {

// What every HTTP/2 client sends first (RFC 9113, section 3.4).
constexpr char kClientPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr size_t kClientPrefaceLength = sizeof(kClientPreface) - 1;
// A connection that sent part of the preface is peeked again this often
// (it stays readable, so polling it would spin).
constexpr absl::Duration kPartialPrefaceRecheck = absl::Milliseconds(10);
constexpr absl::Duration kFirstAcceptBackoff = absl::Milliseconds(5);
constexpr absl::Duration kMaxAcceptBackoff = absl::Seconds(1);
// Connections accepted per wake-up, so that pending ones are served too.
constexpr int kAcceptBurst = 64;

int PollTimeoutMs(absl::Time now, absl::Time wake_at) {
  if (wake_at == absl::InfiniteFuture()) return -1;
  if (wake_at <= now) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(wake_at - now, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

// Deadlines and backoffs are kept on a monotonic clock: a step of the wall
// clock must not close every pending connection at once.
absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace

Acceptor::Preface Acceptor::PeekPreface(int fd) {
  char buffer[kClientPrefaceLength];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Preface::kPartial
                                                                              : Preface::kBad;
  if (n == 0) return Preface::kBad;  // closed before the preface
  if (std::memcmp(buffer, kClientPreface, static_cast<size_t>(n)) != 0) return Preface::kBad;
  return static_cast<size_t>(n) == kClientPrefaceLength ? Preface::kComplete : Preface::kPartial;
}

void Acceptor::Reject(int fd) {
  close(fd);
  handshake_failures_.fetch_add(1, std::memory_order_relaxed);
}

bool Acceptor::AcceptOne(int listen_fd, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || listen_fd_ != listen_fd) return false;  // closed meanwhile
  const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // The connection stays in the backlog; try again after a backoff.
      accept_failures_.fetch_add(1, std::memory_order_relaxed);
      accept_backoff_ = accept_backoff_ == absl::ZeroDuration()
                            ? kFirstAcceptBackoff
                            : std::min(2 * accept_backoff_, kMaxAcceptBackoff);
      accept_resume_ = now + accept_backoff_;
    }
    return false;  // EAGAIN, ECONNABORTED, ...: nothing to do
  }
  accept_backoff_ = absl::ZeroDuration();
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (pending_.size() >= options_.max_pending_handshakes) {
    Reject(pending_.front().fd);  // the one that had the most time
    pending_.pop_front();
  }
  pending_.push_back(Pending{fd, now + options_.handshake_timeout, now});
  return true;
}

void Acceptor::Loop() {
  std::vector<pollfd> fds;
  while (true) {
    int listen_fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      listen_fd = listen_fd_;
    }
    absl::Time now = MonotonicNow();
    while (!pending_.empty() && pending_.front().deadline <= now) {  // deadlines are in order
      Reject(pending_.front().fd);
      pending_.pop_front();
    }
    absl::Time wake_at = absl::InfiniteFuture();
    const bool accepting = listen_fd >= 0 && now >= accept_resume_;
    if (listen_fd >= 0 && !accepting) wake_at = accept_resume_;
    fds.clear();
    // A negative fd is ignored by poll().
    fds.push_back({wake_pipe_[0], POLLIN, 0});
    fds.push_back({accepting ? listen_fd : -1, POLLIN, 0});
    for (const Pending& pending : pending_) {
      const bool peek = now >= pending.next_peek;
      fds.push_back({peek ? pending.fd : -1, POLLIN, 0});
      wake_at = std::min({wake_at, pending.deadline, peek ? absl::InfiniteFuture() : pending.next_peek});
    }
    if (poll(fds.data(), fds.size(), PollTimeoutMs(now, wake_at)) < 0) {
      // EINTR: at once. Anything else (e.g. EINVAL: more descriptors than
      // RLIMIT_NOFILE allows) would repeat: not in a tight loop.
      if (errno != EINTR) absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
      }
      continue;  // re-read the state
    }
    now = MonotonicNow();
    std::deque<Pending> waiting;
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending pending = pending_[i];
      const pollfd& polled = fds[i + 2];
      if (polled.revents == 0 && !(polled.fd < 0 && now >= pending.next_peek)) {
        waiting.push_back(pending);
        continue;
      }
      switch (PeekPreface(pending.fd)) {
        case Preface::kComplete:
          grpc::AddInsecureChannelFromFd(server_, pending.fd);  // the server owns fd now
          handed_over_.fetch_add(1, std::memory_order_relaxed);
          break;
        case Preface::kBad:
          Reject(pending.fd);
          break;
        case Preface::kPartial:
          pending.next_peek = now + kPartialPrefaceRecheck;
          waiting.push_back(pending);
          break;
      }
    }
    pending_.swap(waiting);
    if (fds[1].revents & POLLIN) {
      for (int i = 0; i < kAcceptBurst && AcceptOne(listen_fd, now); ++i) {
      }
    }
  }
  for (const Pending& pending : pending_) close(pending.fd);
  pending_.clear();
}

Acceptor::Stats Acceptor::stats() const {
  Stats stats;
  stats.handed_over = handed_over_.load(std::memory_order_relaxed);
  stats.handshake_failures = handshake_failures_.load(std::memory_order_relaxed);
  stats.accept_failures = accept_failures_.load(std::memory_order_relaxed);
  return stats;
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
