// The "tcp" prober: connects (and with `send`, writes it and reads a reply
// that must start with one of `receive`), all within the timeout.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sdk/breaker/fault_detect.h"

namespace grpc_cpp_polaris {
namespace {

// "0x..." is hex (as upstream's TCP configs write bytes); anything else is
// the bytes themselves.
std::string Bytes(const std::string& text) {
  if (absl::StartsWithIgnoreCase(text, "0x") && text.size() % 2 == 0) {
    const std::string hex = text.substr(2);
    bool all_hex = true;
    for (char c : hex) all_hex = all_hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (all_hex) return absl::HexStringToBytes(hex);
  }
  return text;
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool Wait(int fd, short events, absl::Time deadline) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return false;
    pollfd entry{fd, events, 0};
    const int ready = poll(&entry, 1, static_cast<int>(left));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

class TcpProber final : public Prober {
 public:
  absl::string_view name() const override { return "tcp"; }

  absl::Status Probe(const ProbeTarget& target, const ActiveProbeOptions& options) const override {
    const absl::Time deadline = absl::Now() + options.timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(target.port);
    if (getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
      // A host name: resolved (blocking, on the probe's thread).
      hints.ai_flags = AI_NUMERICSERV;
      found = nullptr;
      if (getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
        return absl::UnavailableError(absl::StrCat("cannot resolve ", target.host));
      }
    }
    Socket socket(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (socket.fd() < 0) {
      freeaddrinfo(found);
      return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    }
    const int connected = connect(socket.fd(), found->ai_addr, found->ai_addrlen);
    freeaddrinfo(found);
    const std::string where = absl::StrCat(target.host, ":", target.port);
    if (connected != 0) {
      if (errno != EINPROGRESS) {
        return absl::UnavailableError(absl::StrCat("connect to ", where, ": ", std::strerror(errno)));
      }
      if (!Wait(socket.fd(), POLLOUT, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat("connect to ", where, ": timed out"));
      }
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        return absl::UnavailableError(absl::StrCat("connect to ", where, ": ", std::strerror(error)));
      }
    }
    if (options.send.empty()) return absl::OkStatus();
    const std::string request = Bytes(options.send);
    size_t sent = 0;
    while (sent < request.size()) {
      if (!Wait(socket.fd(), POLLOUT, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat("send to ", where, ": timed out"));
      }
      const ssize_t n = send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat("send to ", where, ": ", std::strerror(errno)));
      }
      if (n > 0) sent += static_cast<size_t>(n);
    }
    if (options.receive.empty()) return absl::OkStatus();
    std::vector<std::string> expected;
    size_t longest = 0;
    for (const std::string& text : options.receive) {
      expected.push_back(Bytes(text));
      longest = std::max(longest, expected.back().size());
    }
    std::string reply;
    char buffer[1024];
    while (reply.size() < longest) {
      for (const std::string& want : expected) {
        if (absl::StartsWith(reply, want)) return absl::OkStatus();
      }
      if (!Wait(socket.fd(), POLLIN, deadline)) break;
      const ssize_t n = recv(socket.fd(), buffer, sizeof(buffer), 0);
      if (n == 0) break;  // closed
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        break;
      }
      reply.append(buffer, static_cast<size_t>(n));
    }
    for (const std::string& want : expected) {
      if (absl::StartsWith(reply, want)) return absl::OkStatus();
    }
    return absl::UnavailableError(
        absl::StrCat("reply from ", where, " (", absl::CHexEscape(reply.substr(0, 64)),
                     ") matches none of the ", expected.size(), " expected"));
  }
};

}  // namespace

std::unique_ptr<Prober> MakeTcpProber() { return std::make_unique<TcpProber>(); }

}  // namespace grpc_cpp_polaris
