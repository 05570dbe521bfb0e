// Registers a gRPC server's instance with Polaris, keeps it alive with
// heartbeats, and takes it offline gracefully.
//
//   grpc::ServerBuilder builder;
//   int port = 0;
//   builder.AddListeningPort("0.0.0.0:0", grpc::InsecureServerCredentials(), &port);
//   ... register services ...
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   grpc_cpp_polaris::RegisterOptions options;
//   options.service = "EchoServerGRPC";
//   auto registration = grpc_cpp_polaris::Register(*server, port, options);
//   ...
//   (*registration)->Shutdown();  // deregister, let clients notice, drain, stop
#ifndef GRPC_CPP_POLARIS_SERVER_REGISTRATION_H_
#define GRPC_CPP_POLARIS_SERVER_REGISTRATION_H_

#include <cstdint>
#include <map>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sdk/clock.h"
#include "sdk/model.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace grpc_cpp_polaris {

class ControlPlaneClient;
class HeartbeatHub;
struct InstanceRef;

struct RegisterOptions {
  // Required: the Polaris service this server is an instance of.
  std::string service;
  std::string service_namespace = kDefaultNamespace;
  // Address clients should dial. Empty: the local address this host uses to
  // reach the control plane (right for multi-homed hosts and containers).
  std::string host;
  // "host:port" of the Polaris gRPC naming API.
  std::string control_plane_address = "127.0.0.1:8091";
  // Relative traffic share, 0..10000.
  uint32_t weight = 100;
  std::map<std::string, std::string> metadata;
  Location location;
  std::string protocol = "grpc";
  std::string version;
  std::string service_token;
  // Heartbeat TTL, 1..60 s; the control plane marks the instance unhealthy
  // after 3 x TTL without a heartbeat. Heartbeats are sent every TTL.
  absl::Duration ttl = absl::Seconds(5);
  // Shutdown(): how long to wait after deregistering before refusing new
  // calls, so that clients stop picking this instance first.
  absl::Duration deregister_propagation_delay = absl::Seconds(2);
  // Shutdown(): how long in-flight calls may run before being cancelled.
  absl::Duration drain_timeout = absl::Seconds(10);
  // Time source for the heartbeat interval and the propagation delay; tests
  // pass a FakeClock. Not owned; must outlive the registration.
  Clock* clock = Clock::Real();
};

// A registered instance. Destroying it stops the heartbeats and deregisters
// the instance if Deregister()/Shutdown() did not already.
class Registration {
 public:
  ~Registration();

  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  // The id the control plane assigned (it may reassign on re-registration).
  std::string instance_id() const;
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  const RegisterOptions& options() const { return options_; }

  // Stops the heartbeats and removes the instance from the control plane,
  // trying up to three times while the control plane is unavailable or does
  // not answer in time. The server keeps serving. Idempotent and safe from
  // several threads at once: every caller returns once it is done, with the
  // same result.
  absl::Status Deregister();

  // Graceful offline: Deregister(), wait deregister_propagation_delay, then
  // shut the server down, letting in-flight calls finish within drain_timeout.
  // Returns the deregistration error, if any; the server is stopped anyway.
  // Idempotent and safe from several threads at once, like Deregister().
  absl::Status Shutdown();

  // Heartbeats that failed since registration (for monitoring and tests).
  uint64_t failed_heartbeats() const;

 private:
  friend absl::StatusOr<std::unique_ptr<Registration>> Register(grpc::Server& server, int port,
                                                               const RegisterOptions& options);
  Registration(grpc::Server* server, int port, RegisterOptions options);
  // Registers (again) and records the assigned id.
  absl::Status RegisterNow();
  // One heartbeat; registers again if the control plane forgot the instance.
  void HeartbeatNow();
  InstanceRef Ref() const;
  // The heartbeat task (server/heartbeat_hub.h): registers again first
  // when the control plane connection came back.
  void Beat(bool reregister);
  void StopHeartbeats();

  grpc::Server* const server_;
  const int port_;
  const RegisterOptions options_;
  std::string host_;
  std::shared_ptr<ControlPlaneClient> client_;
  HeartbeatHub* const hub_;  // this control plane's; never destroyed

  mutable std::mutex mu_;  // std::mutex: visible to ThreadSanitizer
  std::string instance_id_ ABSL_GUARDED_BY(mu_);
  uint64_t failed_heartbeats_ ABSL_GUARDED_BY(mu_) = 0;
  // Both set by Register() before anything else can read them.
  uint64_t heartbeat_task_ = 0;
  uint64_t reconnect_listener_ = 0;
  std::once_flag stop_once_;

  // Deregister() and Shutdown() run once; later and concurrent callers wait
  // for the first and share its result.
  std::once_flag deregister_once_;
  absl::Status deregister_status_;  // written inside deregister_once_
  std::once_flag shutdown_once_;
  absl::Status shutdown_status_;  // written inside shutdown_once_
};

// Registers `server`, listening on `port`, as an instance of
// options.service and starts heartbeating. Returns InvalidArgument naming a
// bad option, or the control plane's error.
absl::StatusOr<std::unique_ptr<Registration>> Register(grpc::Server& server, int port,
                                                      const RegisterOptions& options);

// The local address this host uses to reach `control_plane_address`
// ("host:port"), found without sending anything.
absl::StatusOr<std::string> LocalHostFor(const std::string& control_plane_address);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_REGISTRATION_H_
