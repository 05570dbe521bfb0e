// PolarisServer: a gRPC server as a Polaris service, with its governance.
// What must exist before the server is built goes on its builder; the
// registration follows the start.
//
//   grpc::ServerBuilder builder;
//   grpc_cpp_polaris::ServerOptions options;
//   options.registration.control_plane_address = "polaris:8091";
//   auto polaris = grpc_cpp_polaris::PolarisServer::Install(builder, options);
//   int port = 0;
//   builder.AddListeningPort("0.0.0.0:0", grpc::InsecureServerCredentials(), &port);
//   builder.RegisterService(&echo_service);
//   (*polaris)->RegisterService<echo::EchoService>();  // its Polaris name is its gRPC name
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
//   absl::Status started = (*polaris)->Start(*server, port);
//   ...
//   (*polaris)->Shutdown();  // NOT_SERVING, deregister, let clients notice, drain, stop
//
// Install() enables gRPC's default health service (process-wide, so before
// the server is built) and installs the governance filter: every call is
// checked against the service's BLOCK_ALLOW_RULE (PERMISSION_DENIED) and
// RATE_LIMIT rules (RESOURCE_EXHAUSTED, or queued), live from the control
// plane, before the application sees it.
#ifndef GRPC_CPP_POLARIS_SERVER_POLARIS_SERVER_H_
#define GRPC_CPP_POLARIS_SERVER_POLARIS_SERVER_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include <grpcpp/support/server_interceptor.h>

#include "server/admin_server.h"
#include "server/call_gate.h"
#include "server/registration.h"
#include "sdk/quota_client.h"

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace grpc_cpp_polaris {

class Context;
class ServiceViewWatch;

// Lossless online: when Start() registers. LOSSLESS rules of the service
// (delayRegister) add to these: by time, the longer delay wins; by health
// check, the server's own grpc.health.v1 service (healthCheckPath names the
// service asked about, "" for the whole server) must answer SERVING; it is
// asked through the server's in-process channel, so the listening address
// and the credentials the server requires do not matter (an application
// interceptor that rejects calls without a peer identity must let
// grpc.health.v1.Health through).
struct OnlineOptions {
  // Register this long after Start().
  absl::Duration delay = absl::ZeroDuration();
  // Register once this returns true (e.g. caches loaded), asked every
  // readiness_interval; until then no call reaches the instance through
  // the control plane.
  std::function<bool()> readiness;
  absl::Duration readiness_interval = absl::Seconds(1);
};

// GLOBAL rate limits, kept cluster-wide by the rate-limit server
// (polaris-limiter) through batched reports; see sdk/quota_client.h.
struct GlobalLimitOptions {
  // Off: each instance applies its share of a GLOBAL amount (amount /
  // instances), as it does anyway while the rate-limit server is out of
  // reach.
  bool enabled = true;
  // "host:port" of the rate-limit server. Empty: an instance of the rule's
  // `cluster`, else of `limiter_service`, found through naming; among the
  // instances speaking gRPC a window goes where polaris-go would send it
  // (sdk/limiter/limiter_choice.h).
  std::string address;
  ServiceKey limiter_service{"Polaris", "polaris.limiter"};
  // How often each window's use is reported (polaris-go: 30-50 ms).
  absl::Duration report_interval = absl::Milliseconds(40);
};

struct ServerOptions {
  // Where and how the instance registers. `registration.service`, when set,
  // is the one application name every call of the server belongs to;
  // otherwise each service added with RegisterService<T>() / AddService()
  // is registered under its gRPC name ("package.Service").
  RegisterOptions registration;
  // Enforce the services' access and rate-limit rules.
  bool enforce_rules = true;
  // The status of a call over a rate limit.
  absl::StatusCode limited_code = absl::StatusCode::kResourceExhausted;
  // Start(): how long to wait for the rules before registering anyway, so
  // that the first calls are already governed.
  absl::Duration rules_wait = absl::Seconds(3);
  OnlineOptions online;
  GlobalLimitOptions global_limits;
  // Client- and bidi-streaming calls: each message the client sends counts
  // as a call of the QPS rules the stream matched (in windows apart from
  // the stream openings'), and one over the rate is held until its turn,
  // never refused.
  bool pace_stream_messages = true;
  // The admin HTTP endpoint, started by Start() when set:
  //   /offline    GET or POST: Offline()           200, or 503 naming the error
  //   /online     GET or POST: Online()            200, or 503 naming the error
  //   /readiness  200 while the instance takes traffic, else 503
  //   /health     200 while the server runs (liveness), 503 once stopped
  std::optional<AdminOptions> admin;
};

class PolarisServer {
 public:
  using InterceptorFactories =
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;

  // Validates `options` (InvalidArgument naming the field) and prepares
  // `builder`. Call before builder.BuildAndStart().
  //
  // The builder's interceptor list is set here: Polaris' own, then
  // `interceptors`, the application's. gRPC's SetInterceptorCreators()
  // replaces the whole list, so pass the application's here rather than
  // calling it (afterwards it would drop Polaris' queueing).
  static absl::StatusOr<std::unique_ptr<PolarisServer>> Install(
      grpc::ServerBuilder& builder, ServerOptions options, InterceptorFactories interceptors = {});
  // Deregisters (if Shutdown() did not) and stops watching rules.
  ~PolarisServer();

  PolarisServer(const PolarisServer&) = delete;
  PolarisServer& operator=(const PolarisServer&) = delete;

  // Registers gRPC service T (generated code) under its gRPC name. Before
  // Start().
  template <typename T>
  PolarisServer& RegisterService() {
    return AddService(T::service_full_name());
  }
  PolarisServer& AddService(absl::string_view grpc_service);

  // Watches the rules, then registers every service (or the application
  // name) at `port` and starts heartbeating. The server must be built from
  // the builder Install() prepared. With a delay or a readiness check
  // (OnlineOptions, LOSSLESS rules), registration happens later on a thread
  // of its own and Start() returns at once; online() tells when it did.
  absl::Status Start(grpc::Server& server, int port);

  // Takes the instance out of traffic, the server still running: health
  // NOT_SERVING first (health-checking clients, polaris:// ones included,
  // send no new call from then on), then every service deregistered (the
  // others learn it from the control plane). Reversible with Online().
  // Idempotent; safe from any thread.
  absl::Status Offline();
  // Back into traffic after Offline(): registers again, then SERVING.
  absl::Status Online();
  // Whether the instance takes traffic (started, and not offline).
  bool online() const;

  // Graceful stop: Offline(), wait registration.deregister_propagation_delay
  // for clients to notice, then stop the server letting calls and streams
  // in flight finish within registration.drain_timeout (the rest are
  // cancelled); calls and messages held by rate limits go on at once.
  // Idempotent and safe from any thread but the server's own handlers
  // (gRPC's Shutdown waits for them); every caller returns once the server
  // has stopped, with the first caller's result.
  absl::Status Shutdown();

  const CallGate& gate() const { return *gate_; }
  // The rate-limit server's client (null before Start(), without GLOBAL
  // limits enabled, or with rules not enforced): its counters tell whether
  // the GLOBAL limits are kept cluster-wide.
  const QuotaClient* quota_client() const;
  // The admin endpoint's port (0 without one).
  int admin_port() const;
  // The registrations, one per service (empty before Start()).
  std::vector<const Registration*> registrations() const;

 private:
  struct Watched;
  PolarisServer(ServerOptions options, std::shared_ptr<Context> context);
  std::vector<ServiceKey> Keys() const;

  struct OnlinePlan {
    absl::Duration delay = absl::ZeroDuration();
    std::function<bool()> readiness;
    bool health_check = false;
    std::string health_service;
    absl::Duration interval = absl::Seconds(1);
  };
  OnlinePlan PlanOnline(const std::vector<Watched*>& watched) const;
  // Registers every service unless stopped, taken offline or already
  // online (serialised with Offline, Online and Shutdown).
  absl::Status RegisterUnlessOffline();
  // Registers once `plan` is satisfied, unless stopped or taken offline.
  void ComeOnline(const OnlinePlan& plan);
  // Waits up to `wait`; true once stopped or taken offline.
  bool Stopping(absl::Duration wait);
  absl::Status StartAdmin();
  // Registers every service; the registrations on success.
  absl::StatusOr<std::vector<std::unique_ptr<Registration>>> RegisterAll(grpc::Server& server,
                                                                         int port) const;

  const ServerOptions options_;
  const std::shared_ptr<Context> context_;
  const std::shared_ptr<CallGate> gate_;
  // Set once by Start().
  std::shared_ptr<QuotaClient> quota_client_;

  // Offline(), Online() and Shutdown() one at a time.
  std::mutex lifecycle_mu_;
  mutable std::mutex mu_;
  std::vector<std::string> grpc_services_;  // before Start()
  grpc::Server* server_ = nullptr;
  int port_ = 0;
  bool online_ = false;
  bool stopped_ = false;
  bool online_cancelled_ = false;  // Offline() before a delayed registration
  std::condition_variable online_cv_;
  std::thread online_thread_;
  std::vector<std::unique_ptr<Watched>> watched_;
  std::vector<std::unique_ptr<Registration>> registrations_;
  std::unique_ptr<AdminServer> admin_;
  std::once_flag shutdown_once_;
  absl::Status shutdown_status_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_POLARIS_SERVER_H_
