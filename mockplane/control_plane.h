// An in-process fake Polaris control plane for hermetic tests, examples and
// benchmarks. It serves the real v1.PolarisGRPC protocol on a loopback port,
// so the production client talks to it unchanged:
//
//   auto plane = grpc_cpp_polaris::mockplane::ControlPlane::Start().value();
//   // point clients and servers at plane->address()
//
// Instances registered with a heartbeat TTL turn unhealthy 3 x TTL after
// their last heartbeat; every change bumps the service's revision and is
// pushed at once to the Discover streams that asked for that service.
//
// It also serves v1.PolarisConfigGRPC (the config centre) on the same port.
// Tests break it on purpose through faults() (fail or delay requests, freeze
// heartbeats), BreakDiscoverStreams(), Stop() and Restart().
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mockplane/config_registry.h"
#include "mockplane/fault_injector.h"
#include "mockplane/naming_registry.h"
#include "mockplane/rule_registry.h"
#include "sdk/clock.h"
#include "sdk/model.h"

namespace grpc {
class Server;
class ServerBuilder;
}  // namespace grpc

namespace v1 {
class CircuitBreaker;
class FaultDetector;
class RateLimit;
class Routing;
}  // namespace v1

namespace grpc_cpp_polaris {
namespace mockplane {

class Acceptor;
class ConfigRegistry;
class ConfigService;
class QuotaRegistry;
class RateLimitService;
class NamingRegistry;
class NamingService;
class RuleRegistry;

struct ControlPlaneOptions {
  // Loopback by default; 0 picks a free port (kept across Restart()).
  std::string host = "127.0.0.1";
  int port = 0;
  // The rate-limit server (polaris.metric.v2.RateLimitGRPCV2) listens apart,
  // as the real one does (its default port is 8081); 0 picks a free port.
  int ratelimit_port = 0;
  // As polaris-limiter does, the rate-limit server registers itself as an
  // instance (protocol "grpc") of this service, where stock clients
  // (polaris-go, polaris-cpp, ours) look it up; StopRateLimitServer()
  // deregisters it. Empty service: not registered.
  ServiceKey limiter_service{"Polaris", "polaris.limiter"};
  // Time source for heartbeat expiry; a FakeClock makes TTLs testable
  // without sleeping. Not owned; must outlive the control plane.
  Clock* clock = Clock::Real();
  // How often heartbeat expiry is checked.
  absl::Duration health_check_interval = absl::Milliseconds(100);
  // Receives one line per request served, e.g. for a request log.
  std::function<void(const std::string&)> request_log;
  // A JSON rules file to preload (see proto/mockplane/rules_file.proto).
  std::string rules_file;
  // How long a WatchConfigFiles long poll waits for a change before it is
  // answered with DataNoChange.
  absl::Duration config_watch_timeout = absl::Seconds(30);
  // Caps on services, instances, metadata and Discover streams (see
  // naming_registry.h).
  NamingLimits naming_limits;
  // Caps on config-file long polls (see config_registry.h).
  ConfigLimits config_limits;
  // Keepalive enforcement of the real server (grpc-go's default): clients
  // pinging more often, or while no call is open, get GOAWAY too_many_pings.
  absl::Duration min_client_ping_interval = absl::Minutes(5);
  // Largest request accepted (the real server's 4 MiB); larger ones fail
  // with RESOURCE_EXHAUSTED.
  int max_request_bytes = 4 << 20;
  // Concurrent calls per connection (HTTP/2 MAX_CONCURRENT_STREAMS).
  uint32_t max_streams_per_connection = 1000;
  // A new connection that has not sent the HTTP/2 preface within this time
  // is closed; at most this many wait for theirs at once (the oldest is
  // closed to make room).
  absl::Duration handshake_timeout = absl::Seconds(10);
  size_t max_pending_handshakes = 1024;
  // Answer Discover as upstream's mainline server does, which has handlers
  // only for INSTANCE, ROUTING, RATE_LIMIT, CIRCUIT_BREAKER, FAULT_DETECTOR,
  // SERVICES and NAMESPACES: the newer rule types (LANE, CUSTOM_ROUTE_RULE,
  // NEARBY_ROUTE_RULE, LOSSLESS, ...) get InvalidDiscoverResource. For
  // testing clients against older servers.
  bool mainline_discover_types_only = false;
};

class ControlPlane {
 public:
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Start(ControlPlaneOptions options = {});
  ~ControlPlane();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // "127.0.0.1:PORT": what clients and servers are pointed at.
  std::string address() const;
  int port() const { return port_; }
  // "127.0.0.1:PORT" of the rate-limit server.
  std::string ratelimit_address() const;

  // Inspection and admin operations, as an operator would use the console.
  std::vector<Instance> Instances(const ServiceKey& key) const;
  std::string Revision(const ServiceKey& key) const;
  // Heartbeats the instance sent since it was (last) registered.
  uint64_t HeartbeatCount(const ServiceKey& key, const std::string& instance_id) const;
  bool SetIsolate(const ServiceKey& key, const std::string& instance_id, bool isolate);
  bool SetWeight(const ServiceKey& key, const std::string& instance_id, uint32_t weight);
  void SetClientLocation(const std::string& host, const Location& location);
  // Runs the heartbeat expiry check now (useful after advancing a FakeClock).
  void CheckHealthNow();

  // Governance rules, served through Discover and pushed to the streams
  // that asked (see rule_registry.h). SetRouting serves `routing.rules` both
  // inside ROUTING and, by policy, as CUSTOM_ROUTE_RULE / NEARBY_ROUTE_RULE.
  void SetRouting(const ServiceKey& key, const v1::Routing& routing);
  void SetCircuitBreaker(const ServiceKey& key, const v1::CircuitBreaker& circuit_breaker);
  void SetRateLimit(const ServiceKey& key, const v1::RateLimit& rate_limit);
  void SetFaultDetector(const ServiceKey& key, const v1::FaultDetector& fault_detector);
  void SetLossless(const ServiceKey& key, const v1::LosslessRule& rule);
  void SetBlockAllowList(const ServiceKey& key, const std::vector<v1::BlockAllowListRule>& rules);
  void SetTrafficMirroring(const ServiceKey& key, const std::vector<v1::TrafficMirroring>& rules);
  void SetFaultInjection(const ServiceKey& key, const std::vector<v1::FaultInjection>& rules);
  // Adds or replaces a lane group (by name); served to every service it
  // mentions. InvalidArgument names a bad selector.
  absl::Status SetLaneGroup(const v1::LaneGroup& group);
  void RemoveLaneGroup(const std::string& name);
  // Loads a JSON rules file; all or nothing, errors name the bad part.
  absl::Status LoadRulesFile(const std::string& path);
  absl::Status LoadRulesJson(const std::string& json);

  // Config centre (v1.PolarisConfigGRPC, on the same port): writes the file's
  // content and releases it; returns the new released version. Watchers of
  // the file are answered at once.
  absl::StatusOr<uint64_t> PublishConfigFile(const std::string& name_space,
                                             const std::string& group,
                                             const std::string& file_name,
                                             const std::string& content);

  // WatchConfigFiles long polls waiting for a publish.
  size_t OpenConfigWatches() const;

  // Quota a rate-limit target used in its counter's current window.
  int64_t RateLimitUsed(const std::string& name_space, const std::string& service,
                        const std::string& labels, uint32_t duration_seconds) const;

  // Fault injection.
  FaultInjector& faults() { return faults_; }
  // What the open Discover streams hold: answers waiting for slow readers.
  DiscoverStreamStats DiscoverStats() const;
  // Ends every open Discover stream with UNAVAILABLE; clients reconnect.
  void BreakDiscoverStreams();
  // New connections to the naming/config port are refused (connect fails)
  // while connections already open keep working; false accepts again.
  absl::Status RefuseNewConnections(bool refuse);
  // Stops serving: open streams break and the port refuses connections.
  void Stop();
  // Stops the rate-limit server alone (polaris-limiter down): its streams
  // break and its port refuses connections; naming keeps serving.
  void StopRateLimitServer();
  enum class RestartMode { kKeepState, kLoseState };
  // Serves again on the same port, with the registered state kept (a
  // restart of a persistent server) or lost (a fresh one). Stops first if
  // running.
  absl::Status Restart(RestartMode mode);
  bool running() const;

 private:
  explicit ControlPlane(ControlPlaneOptions options);
  absl::Status Serve() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyServerLimits(grpc::ServerBuilder& builder) const;
  // The rate-limit server's instance of options_.limiter_service.
  v1::Instance LimiterInstance() const;

  const ControlPlaneOptions options_;
  FaultInjector faults_;
  int port_ = 0;            // fixed after the first start
  int ratelimit_port_ = 0;  // likewise

  mutable std::mutex mu_;
  std::shared_ptr<NamingRegistry> registry_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<RuleRegistry> rules_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ConfigRegistry> configs_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ConfigService> config_service_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<QuotaRegistry> quotas_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RateLimitService> ratelimit_service_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> ratelimit_server_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<NamingService> naming_service_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Acceptor> acceptor_ ABSL_GUARDED_BY(mu_);  // naming/config port
  std::unique_ptr<Acceptor> ratelimit_acceptor_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_ ABSL_GUARDED_BY(mu_);

  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  std::thread health_thread_;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_
