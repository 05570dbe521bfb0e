#include "mockplane/control_plane.h"

#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "mockplane/acceptor.h"
#include "mockplane/config_registry.h"
#include "mockplane/config_service.h"
#include "mockplane/naming_registry.h"
#include "mockplane/naming_service.h"
#include "mockplane/quota_registry.h"
#include "mockplane/ratelimit_service.h"
#include "mockplane/rule_registry.h"
#include "proto/v1/code.pb.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {

ControlPlane::ControlPlane(ControlPlaneOptions options)
    : options_(std::move(options)), port_(options_.port), ratelimit_port_(options_.ratelimit_port) {}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(ControlPlaneOptions options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("options.clock is null");
  std::unique_ptr<ControlPlane> plane(new ControlPlane(std::move(options)));
  {
    std::lock_guard<std::mutex> lock(plane->mu_);
    plane->registry_ =
        std::make_shared<NamingRegistry>(plane->options_.clock, plane->options_.naming_limits);
    plane->rules_ =
        std::make_shared<RuleRegistry>(plane->options_.mainline_discover_types_only);
    plane->configs_ = std::make_shared<ConfigRegistry>(plane->options_.config_limits);
    plane->quotas_ = std::make_shared<QuotaRegistry>(plane->options_.clock);
    if (!plane->options_.rules_file.empty()) {
      absl::Status loaded = plane->rules_->LoadFile(plane->options_.rules_file);
      if (!loaded.ok()) return loaded;
    }
    absl::Status status = plane->Serve();
    if (!status.ok()) return status;
  }
  ControlPlane* raw = plane.get();
  plane->health_thread_ = std::thread([raw] {
    std::unique_lock<std::mutex> lock(raw->stop_mu_);
    while (!raw->stop_cv_.wait_for(lock,
                                   absl::ToChronoNanoseconds(raw->options_.health_check_interval),
                                   [raw] { return raw->stopping_; })) {
      lock.unlock();
      raw->CheckHealthNow();
      lock.lock();
    }
  });
  return plane;
}

absl::Status ControlPlane::Serve() {
  naming_service_ =
      std::make_unique<NamingService>(registry_.get(), rules_.get(), &faults_,
                                      options_.request_log, options_.naming_limits);
  config_service_ = std::make_unique<ConfigService>(configs_.get(), &faults_, options_.request_log,
                                                    options_.config_watch_timeout);
  ratelimit_service_ =
      std::make_unique<RateLimitService>(quotas_.get(), &faults_, options_.request_log);
  // Both ports are accepted by our own Acceptors: connections that never
  // speak HTTP/2 are closed, descriptor exhaustion backs off, and tests can
  // refuse new connections to the naming/config port.
  AcceptorOptions acceptor_options;
  acceptor_options.handshake_timeout = options_.handshake_timeout;
  acceptor_options.max_pending_handshakes = options_.max_pending_handshakes;
  absl::StatusOr<std::unique_ptr<Acceptor>> acceptor =
      Acceptor::Listen(options_.host, port_, acceptor_options);
  absl::StatusOr<std::unique_ptr<Acceptor>> ratelimit_acceptor =
      acceptor.ok() ? Acceptor::Listen(options_.host, ratelimit_port_, acceptor_options)
                    : acceptor.status();
  if (!ratelimit_acceptor.ok()) {
    StopLocked();
    return ratelimit_acceptor.status();
  }
  acceptor_ = std::move(*acceptor);
  port_ = acceptor_->port();
  ratelimit_acceptor_ = std::move(*ratelimit_acceptor);
  ratelimit_port_ = ratelimit_acceptor_->port();
  grpc::ServerBuilder naming_builder;
  ApplyServerLimits(naming_builder);
  naming_builder.RegisterService(naming_service_.get());
  naming_builder.RegisterService(config_service_.get());
  server_ = naming_builder.BuildAndStart();
  grpc::ServerBuilder ratelimit_builder;
  ApplyServerLimits(ratelimit_builder);
  ratelimit_builder.RegisterCallbackGenericService(ratelimit_service_.get());
  ratelimit_server_ = ratelimit_builder.BuildAndStart();
  if (server_ == nullptr || ratelimit_server_ == nullptr) {
    StopLocked();
    return absl::InternalError("mock control plane: cannot start the gRPC servers");
  }
  TsanRelease(&tsan_services_built_key);  // gRPC's threads call them from now on
  acceptor_->Start(server_.get());
  ratelimit_acceptor_->Start(ratelimit_server_.get());
  if (!options_.limiter_service.service.empty()) {
    const v1::Response registered = registry_->Register(LimiterInstance());
    if (registered.code().value() != v1::ExecuteSuccess) {
      StopLocked();
      return absl::InvalidArgumentError(absl::StrCat(
          "mock control plane: options.limiter_service: cannot register the rate-limit server: ",
          registered.info().value()));
    }
  }
  return absl::OkStatus();
}

v1::Instance ControlPlane::LimiterInstance() const {
  v1::Instance instance;
  instance.mutable_namespace_()->set_value(options_.limiter_service.service_namespace);
  instance.mutable_service()->set_value(options_.limiter_service.service);
  // Listening on every address: clients on this machine reach it on loopback.
  std::string host = options_.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  instance.mutable_host()->set_value(host);
  instance.mutable_port()->set_value(static_cast<uint32_t>(ratelimit_port_));
  instance.mutable_protocol()->set_value("grpc");
  return instance;
}

void ControlPlane::ApplyServerLimits(grpc::ServerBuilder& builder) const {
  // grpc-go's default keepalive enforcement, as the real server runs it:
  // pings closer than the minimum interval (or without open calls) are
  // strikes; the third strike is answered with GOAWAY too_many_pings.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options_.min_client_ping_interval)));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // grpc-go's default receive limit; answers may be larger.
  builder.SetMaxReceiveMessageSize(options_.max_request_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(options_.max_streams_per_connection));
}

void ControlPlane::StopRateLimitServer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ratelimit_server_ != nullptr && !options_.limiter_service.service.empty()) {
    (void)registry_->Deregister(LimiterInstance());
  }
  if (ratelimit_acceptor_ != nullptr) ratelimit_acceptor_->Stop();
  ratelimit_acceptor_.reset();
  if (ratelimit_server_ != nullptr) {
    ratelimit_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
    ratelimit_server_->Wait();
    ratelimit_server_.reset();
  }
  ratelimit_service_.reset();
}

void ControlPlane::StopLocked() {
  // The ports refuse from now on.
  for (std::unique_ptr<Acceptor>* acceptor : {&acceptor_, &ratelimit_acceptor_}) {
    if (*acceptor != nullptr) (*acceptor)->Stop();
    acceptor->reset();
  }
  // Open streams are cancelled at the deadline.
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Milliseconds(100));
  for (std::unique_ptr<grpc::Server>* server : {&server_, &ratelimit_server_}) {
    if (*server == nullptr) continue;
    (*server)->Shutdown(deadline);
    (*server)->Wait();
    server->reset();
  }
  naming_service_.reset();
  config_service_.reset();
  ratelimit_service_.reset();
}

ControlPlane::~ControlPlane() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (health_thread_.joinable()) health_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  StopLocked();
}

absl::Status ControlPlane::RefuseNewConnections(bool refuse) {
  std::lock_guard<std::mutex> lock(mu_);
  if (acceptor_ == nullptr) return absl::FailedPreconditionError("the control plane is stopped");
  return acceptor_->RefuseNewConnections(refuse);
}

void ControlPlane::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  StopLocked();
}

absl::Status ControlPlane::Restart(RestartMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  StopLocked();
  if (mode == RestartMode::kLoseState) {
    registry_ = std::make_shared<NamingRegistry>(options_.clock, options_.naming_limits);
    rules_ = std::make_shared<RuleRegistry>(options_.mainline_discover_types_only);
    configs_ = std::make_shared<ConfigRegistry>(options_.config_limits);
    quotas_ = std::make_shared<QuotaRegistry>(options_.clock);
  }
  return Serve();
}

bool ControlPlane::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_ != nullptr;
}

void ControlPlane::BreakDiscoverStreams() {
  std::lock_guard<std::mutex> lock(mu_);
  if (naming_service_ != nullptr) {
    naming_service_->BreakStreams(absl::UnavailableError("Discover stream broken by test"));
  }
}

size_t ControlPlane::OpenConfigWatches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return configs_->OpenWatches();
}

DiscoverStreamStats ControlPlane::DiscoverStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return naming_service_ != nullptr ? naming_service_->StreamStats() : DiscoverStreamStats{};
}

std::string ControlPlane::address() const { return JoinHostPort(options_.host, port_); }

std::string ControlPlane::ratelimit_address() const {
  return JoinHostPort(options_.host, ratelimit_port_);
}

int64_t ControlPlane::RateLimitUsed(const std::string& name_space, const std::string& service,
                                    const std::string& labels, uint32_t duration_seconds) const {
  std::lock_guard<std::mutex> lock(mu_);
  return quotas_->UsedInWindow(name_space, service, labels, duration_seconds);
}

std::vector<Instance> ControlPlane::Instances(const ServiceKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return registry_->Instances(key);
}

std::string ControlPlane::Revision(const ServiceKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  return registry_->Revision(key);
}

uint64_t ControlPlane::HeartbeatCount(const ServiceKey& key,
                                      const std::string& instance_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return registry_->HeartbeatCount(key, instance_id);
}

bool ControlPlane::SetIsolate(const ServiceKey& key, const std::string& instance_id,
                              bool isolate) {
  std::lock_guard<std::mutex> lock(mu_);
  return registry_->SetIsolate(key, instance_id, isolate);
}

bool ControlPlane::SetWeight(const ServiceKey& key, const std::string& instance_id,
                             uint32_t weight) {
  std::lock_guard<std::mutex> lock(mu_);
  return registry_->SetWeight(key, instance_id, weight);
}

void ControlPlane::SetClientLocation(const std::string& host, const Location& location) {
  std::lock_guard<std::mutex> lock(mu_);
  registry_->SetClientLocation(host, location);
}

void ControlPlane::CheckHealthNow() {
  std::lock_guard<std::mutex> lock(mu_);
  registry_->CheckHealth();
}

void ControlPlane::SetRouting(const ServiceKey& key, const v1::Routing& routing) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetRouting(key, routing);
}

void ControlPlane::SetCircuitBreaker(const ServiceKey& key,
                                     const v1::CircuitBreaker& circuit_breaker) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetCircuitBreaker(key, circuit_breaker);
}

void ControlPlane::SetRateLimit(const ServiceKey& key, const v1::RateLimit& rate_limit) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetRateLimit(key, rate_limit);
}

void ControlPlane::SetFaultDetector(const ServiceKey& key,
                                    const v1::FaultDetector& fault_detector) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetFaultDetector(key, fault_detector);
}

void ControlPlane::SetLossless(const ServiceKey& key, const v1::LosslessRule& rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetLossless(key, rule);
}

void ControlPlane::SetBlockAllowList(const ServiceKey& key,
                                     const std::vector<v1::BlockAllowListRule>& rules) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetBlockAllowList(key, rules);
}

void ControlPlane::SetTrafficMirroring(const ServiceKey& key,
                                       const std::vector<v1::TrafficMirroring>& rules) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetTrafficMirroring(key, rules);
}

void ControlPlane::SetFaultInjection(const ServiceKey& key,
                                     const std::vector<v1::FaultInjection>& rules) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->SetFaultInjection(key, rules);
}

absl::Status ControlPlane::SetLaneGroup(const v1::LaneGroup& group) {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_->SetLaneGroup(group);
}

void ControlPlane::RemoveLaneGroup(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_->RemoveLaneGroup(name);
}

absl::Status ControlPlane::LoadRulesFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_->LoadFile(path);
}

absl::Status ControlPlane::LoadRulesJson(const std::string& json) {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_->LoadJson(json);
}

absl::StatusOr<uint64_t> ControlPlane::PublishConfigFile(const std::string& name_space,
                                                       const std::string& group,
                                                       const std::string& file_name,
                                                       const std::string& content) {
  v1::ConfigFilePublishInfo info;
  info.mutable_namespace_()->set_value(name_space);
  info.mutable_group()->set_value(group);
  info.mutable_file_name()->set_value(file_name);
  info.mutable_content()->set_value(content);
  std::shared_ptr<ConfigRegistry> configs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    configs = configs_;
  }
  v1::ConfigClientResponse response = configs->UpsertAndPublish(info);
  if (response.code().value() != v1::ExecuteSuccess) {
    return absl::InvalidArgumentError(response.info().value());
  }
  return response.configfile().version().value();
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
