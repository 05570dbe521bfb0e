#include "server/registration.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include <grpc/support/log.h>
#include <grpcpp/server.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "sdk/control_plane_client.h"
#include "server/heartbeat_hub.h"

namespace grpc_cpp_polaris {
namespace {

// Tries of a deregistration that timed out or found the control plane
// unavailable (each bounded by ControlPlaneOptions' rpc_timeout).
constexpr int kDeregisterAttempts = 3;

absl::Status Validate(const RegisterOptions& options, int port) {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("RegisterOptions.", field, " ", why));
  };
  if (options.service.empty()) return bad("service", "is required");
  if (options.service_namespace.empty()) return bad("service_namespace", "is empty");
  if (port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is not in 1..65535"));
  }
  if (options.weight > 10000) return bad("weight", absl::StrCat(options.weight, " exceeds 10000"));
  if (options.ttl < absl::Seconds(1) || options.ttl > absl::Seconds(60) ||
      options.ttl != absl::Seconds(absl::ToInt64Seconds(options.ttl))) {
    return bad("ttl", absl::StrCat(absl::FormatDuration(options.ttl),
                                   " must be whole seconds in 1s..60s"));
  }
  if (options.control_plane_address.empty()) return bad("control_plane_address", "is empty");
  if (options.deregister_propagation_delay < absl::ZeroDuration()) {
    return bad("deregister_propagation_delay", "is negative");
  }
  if (options.drain_timeout < absl::ZeroDuration()) return bad("drain_timeout", "is negative");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> LocalHostFor(const std::string& control_plane_address) {
  absl::string_view address = control_plane_address;
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("control plane address '", address, "' has no port"));
  }
  std::string host(absl::StripSuffix(absl::StripPrefix(address.substr(0, colon), "["), "]"));
  std::string port(address.substr(colon + 1));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve control plane '", address, "': ", gai_strerror(rc)));
  }
  std::string result;
  for (addrinfo* ai = found; ai != nullptr && result.empty(); ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    // A UDP connect() only picks the route and source address; nothing is sent.
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw = local.ss_family == AF_INET6
                            ? static_cast<const void*>(
                                  &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
                            : &reinterpret_cast<sockaddr_in*>(&local)->sin_addr;
      if (inet_ntop(local.ss_family, raw, text, sizeof(text)) != nullptr) result = text;
    }
    close(fd);
  }
  freeaddrinfo(found);
  if (result.empty()) {
    return absl::UnavailableError(
        absl::StrCat("no local address reaches control plane '", address, "'"));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<Registration>> Register(grpc::Server& server, int port,
                                                      const RegisterOptions& options) {
  absl::Status valid = Validate(options, port);
  if (!valid.ok()) return valid;
  std::unique_ptr<Registration> registration(new Registration(&server, port, options));
  if (registration->host_.empty()) {
    absl::StatusOr<std::string> host = LocalHostFor(options.control_plane_address);
    if (!host.ok()) return host.status();
    registration->host_ = *host;
  }
  absl::Status registered = registration->RegisterNow();
  if (!registered.ok()) {
    // Nothing to undo.
    std::call_once(registration->deregister_once_, [] {});
    return registered;
  }
  // The first heartbeat goes out at once rather than one TTL later: a
  // control plane may hold a health-checked instance back until it has one.
  registration->HeartbeatNow();
  const absl::Time next_heartbeat = options.clock->Now() + options.ttl;
  Registration* raw = registration.get();
  // Every TTL on the one heartbeat thread of this control plane.
  HeartbeatHub* hub = registration->hub_;
  registration->heartbeat_task_ = hub->Add(options.clock, next_heartbeat, options.ttl,
                                           [raw](bool reregister) { raw->Beat(reregister); });
  // A control plane that comes back may have lost its state: register again
  // at once instead of waiting for heartbeats to be refused.
  const uint64_t task = registration->heartbeat_task_;
  registration->reconnect_listener_ =
      registration->client_->AddReconnectListener([hub, task] { hub->Reregister(task); });
  return registration;
}

Registration::Registration(grpc::Server* server, int port, RegisterOptions options)
    : server_(server),
      port_(port),
      options_(std::move(options)),
      host_(options_.host),
      client_(ControlPlaneClient::Shared(options_.control_plane_address)),
      hub_(&HeartbeatHub::For(options_.control_plane_address)) {}

Registration::~Registration() {
  absl::Status status = Deregister();
  if (!status.ok()) {
    gpr_log(GPR_ERROR, "polaris: deregistering %s failed: %s", instance_id().c_str(),
            status.ToString().c_str());
  }
}

absl::Status Registration::RegisterNow() {
  InstanceRegistration request;
  request.key = ServiceKey{options_.service_namespace, options_.service};
  request.instance.host = host_;
  request.instance.port = static_cast<uint32_t>(port_);
  request.instance.weight = options_.weight;
  request.instance.protocol = options_.protocol;
  request.instance.version = options_.version;
  request.instance.metadata = options_.metadata;
  request.instance.location = options_.location;
  request.ttl_seconds = static_cast<uint32_t>(absl::ToInt64Seconds(options_.ttl));
  request.service_token = options_.service_token;
  absl::StatusOr<std::string> id = client_->RegisterInstance(request);
  if (!id.ok()) return id.status();
  std::lock_guard<std::mutex> lock(mu_);
  instance_id_ = *id;
  return absl::OkStatus();
}

std::string Registration::instance_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return instance_id_;
}

InstanceRef Registration::Ref() const {
  return InstanceRef{ServiceKey{options_.service_namespace, options_.service}, instance_id(),
                     host_, static_cast<uint32_t>(port_), options_.service_token};
}

void Registration::HeartbeatNow() {
  absl::Status status = client_->Heartbeat(Ref());
  if (absl::IsNotFound(status)) {
    // The control plane forgot us (e.g. it restarted without state).
    status = RegisterNow();
    if (status.ok()) status = client_->Heartbeat(Ref());
  }
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++failed_heartbeats_;
    gpr_log(GPR_ERROR, "polaris: heartbeat of %s failed: %s", instance_id_.c_str(),
            status.ToString().c_str());
  }
}

void Registration::Beat(bool reregister) {
  if (reregister) {
    // Idempotent on the control plane: it replaces the instance.
    absl::Status status = RegisterNow();
    if (!status.ok()) {
      gpr_log(GPR_ERROR, "polaris: registering %s again after reconnecting failed: %s",
              options_.service.c_str(), status.ToString().c_str());
    }
  }
  HeartbeatNow();
}

void Registration::StopHeartbeats() {
  std::call_once(stop_once_, [this] {
    if (reconnect_listener_ != 0) client_->RemoveReconnectListener(reconnect_listener_);
    // Returns once no beat of ours runs.
    if (heartbeat_task_ != 0) hub_->Remove(heartbeat_task_);
  });
}

absl::Status Registration::Deregister() {
  std::call_once(deregister_once_, [this] {
    StopHeartbeats();
    // An instance left registered keeps receiving calls until its TTL runs
    // out three times over, so a control plane that is merely slow or
    // reconnecting gets a few more chances.
    absl::Status status;
    for (int attempt = 0; attempt < kDeregisterAttempts; ++attempt) {
      status = client_->DeregisterInstance(Ref());
      if (!absl::IsUnavailable(status) && !absl::IsDeadlineExceeded(status)) break;
      gpr_log(GPR_INFO, "polaris: deregistering %s, attempt %d: %s", instance_id().c_str(),
              attempt + 1, status.ToString().c_str());
      // A refused connection fails at once: pause (200 ms, then 400 ms).
      if (attempt + 1 < kDeregisterAttempts) absl::SleepFor(absl::Milliseconds(200 << attempt));
    }
    // Already gone is what we wanted.
    deregister_status_ = absl::IsNotFound(status) ? absl::OkStatus() : status;
  });
  return deregister_status_;
}

absl::Status Registration::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    shutdown_status_ = Deregister();
    options_.clock->SleepFor(options_.deregister_propagation_delay);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.drain_timeout));
  });
  return shutdown_status_;
}

uint64_t Registration::failed_heartbeats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_heartbeats_;
}

}  // namespace grpc_cpp_polaris
