#include "server/polaris_server.h"

#include <algorithm>
#include <condition_variable>
#include <random>
#include <utility>

#include <grpc/support/log.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "sdk/access/block_allow_rules.h"
#include "sdk/fault/fault_injection.h"
#include "sdk/lossless/lossless_rules.h"
#include "sdk/builtin_governance.h"
#include "sdk/context.h"
#include "sdk/limiter/rate_limit_rules.h"
#include "sdk/limiter/rate_limiter.h"
#include "sdk/service_view.h"
#include "server/internal/governance_filter.h"
#include "server/limiter_locator.h"
#include "server/queue_interceptor.h"

namespace grpc_cpp_polaris {
namespace {

// Adds the gate's channel argument to the server the builder builds.
class GateOption final : public grpc::ServerBuilderOption {
 public:
  explicit GateOption(std::shared_ptr<const CallGate> gate) : gate_(std::move(gate)) {}
  void UpdateArguments(grpc::ChannelArguments* args) override {
    internal::AddCallGate(args, gate_);
  }
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*) override {}

 private:
  std::shared_ptr<const CallGate> gate_;
};

uint32_t RoutableInstances(const ServiceView& view) {
  uint32_t count = 0;
  for (const Instance& instance : view.instances->instances) count += instance.Routable();
  return std::max<uint32_t>(1, count);
}

// Whether the server's health service answers SERVING for `service`.
bool HealthServing(grpc::health::v1::Health::Stub& health, const std::string& service) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  return health.Check(&context, request, &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

}  // namespace

// One service's rule watch, and whether its first rules arrived.
struct PolarisServer::Watched {
  ServiceKey key;
  std::unique_ptr<ServiceViewWatch> watch;
  std::mutex mu;
  std::condition_variable arrived_cv;
  bool arrived = false;
  std::shared_ptr<const LosslessRules> lossless;  // guarded by mu
};

absl::StatusOr<std::unique_ptr<PolarisServer>> PolarisServer::Install(
    grpc::ServerBuilder& builder, ServerOptions options, InterceptorFactories interceptors) {
  const RegisterOptions& registration = options.registration;
  if (registration.control_plane_address.empty()) {
    return absl::InvalidArgumentError("ServerOptions.registration.control_plane_address is empty");
  }
  if (registration.service_namespace.empty()) {
    return absl::InvalidArgumentError("ServerOptions.registration.service_namespace is empty");
  }
  if (options.limited_code == absl::StatusCode::kOk) {
    return absl::InvalidArgumentError("ServerOptions.limited_code is OK");
  }
  if (options.rules_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ServerOptions.rules_wait is negative");
  }
  if (options.online.delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ServerOptions.online.delay is negative");
  }
  if (options.online.readiness_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("ServerOptions.online.readiness_interval must be positive");
  }
  if (options.global_limits.report_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ServerOptions.global_limits.report_interval must be positive");
  }
  if (options.global_limits.address.empty() &&
      (options.global_limits.limiter_service.service.empty() ||
       options.global_limits.limiter_service.service_namespace.empty())) {
    return absl::InvalidArgumentError(
        "ServerOptions.global_limits.limiter_service needs a namespace and a service when no "
        "address is set");
  }
  if (options.admin.has_value()) {
    if (absl::Status valid = options.admin->Validate(); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("ServerOptions.admin: ", valid.message()));
    }
  }
  RegisterBuiltinGovernance();
  ContextOptions context_options;
  context_options.control_plane.address = registration.control_plane_address;
  context_options.learn_location = false;
  absl::StatusOr<std::shared_ptr<Context>> context = Context::Shared(context_options);
  if (!context.ok()) return context.status();
  // Process-wide: it must be on before the server is built.
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<PolarisServer> server(new PolarisServer(std::move(options), *context));
  builder.SetOption(std::make_unique<GateOption>(server->gate_));
  InterceptorFactories all;
  all.push_back(MakeQueueInterceptorFactory(server->gate_));
  for (auto& interceptor : interceptors) all.push_back(std::move(interceptor));
  builder.experimental().SetInterceptorCreators(std::move(all));
  return server;
}

PolarisServer::PolarisServer(ServerOptions options, std::shared_ptr<Context> context)
    : options_(std::move(options)),
      context_(std::move(context)),
      gate_(std::make_shared<CallGate>()) {}

PolarisServer::~PolarisServer() {
  std::vector<std::unique_ptr<Watched>> watched;
  {
    std::lock_guard<std::mutex> lock(mu_);
    watched.swap(watched_);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    online_cv_.notify_all();
  }
  if (online_thread_.joinable()) online_thread_.join();
  for (auto& entry : watched) entry->watch.reset();  // no callback runs after this
  // Limiters the gate still holds fall back to local shares.
  if (quota_client_ != nullptr) quota_client_->Stop();
  admin_.reset();  // no handler runs after this
  registrations_.clear();  // each deregisters unless Shutdown() did
}

PolarisServer& PolarisServer::AddService(absl::string_view grpc_service) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(grpc_services_.begin(), grpc_services_.end(), grpc_service) ==
      grpc_services_.end()) {
    grpc_services_.emplace_back(grpc_service);
  }
  return *this;
}

std::vector<ServiceKey> PolarisServer::Keys() const {
  const std::string& space = options_.registration.service_namespace;
  if (!options_.registration.service.empty()) {
    return {ServiceKey{space, options_.registration.service}};
  }
  std::vector<ServiceKey> keys;
  for (const std::string& name : grpc_services_) keys.push_back(ServiceKey{space, name});
  return keys;
}

absl::Status PolarisServer::Start(grpc::Server& server, int port) {
  std::unique_lock<std::mutex> lock(mu_);
  if (server_ != nullptr) return absl::FailedPreconditionError("PolarisServer already started");
  if (stopped_) return absl::FailedPreconditionError("PolarisServer was shut down");
  const std::vector<ServiceKey> keys = Keys();
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "PolarisServer: no service to register (set ServerOptions.registration.service or call "
        "RegisterService<T>())");
  }
  server_ = &server;
  port_ = port;
  if (options_.enforce_rules && options_.global_limits.enabled) {
    QuotaClientOptions quota_options;
    quota_options.client_id =
        absl::StrCat(options_.registration.host.empty() ? "grpc-cpp-polaris"
                                                        : options_.registration.host,
                     ":", port, "-", absl::Hex(std::random_device{}()));
    quota_options.report_interval = options_.global_limits.report_interval;
    auto locator = std::make_shared<LimiterLocator>(context_, options_.global_limits.address,
                                                    options_.global_limits.limiter_service);
    quota_options.locate = [locator](const GlobalQuotaTarget& target) {
      return locator->Locate(target);
    };
    absl::StatusOr<std::shared_ptr<QuotaClient>> quota_client =
        QuotaClient::Start(std::move(quota_options));
    if (!quota_client.ok()) return quota_client.status();
    quota_client_ = *std::move(quota_client);
  }
  if (options_.registration.service.empty()) {
    for (size_t i = 0; i < keys.size(); ++i) gate_->Route(grpc_services_[i], keys[i]);
  } else {
    gate_->Route("", keys[0]);
  }
  std::vector<Watched*> pending;
  {
    for (const ServiceKey& key : keys) {
      auto watched = std::make_unique<Watched>();
      watched->key = key;
      Watched* raw = watched.get();
      std::weak_ptr<CallGate> gate = gate_;
      RateLimiterOptions limiter_options;
      limiter_options.code = options_.limited_code;
      limiter_options.global_sync = quota_client_;
      const bool enforce = options_.enforce_rules;
      watched->watch = context_->WatchService(
          key,
          [raw, gate, limiter_options, enforce,
           pace = options_.pace_stream_messages](absl::StatusOr<ServiceViewPtr> view) mutable {
            std::shared_ptr<CallGate> live = gate.lock();
            if (view.ok()) {
              std::lock_guard<std::mutex> rules_lock(raw->mu);
              raw->lossless = (*view)->Rules<LosslessRules>();
            }
            if (live != nullptr && view.ok() && enforce) {
              std::shared_ptr<const ServiceGovernance> previous = live->Current(raw->key);
              ServiceGovernance next;
              next.key = raw->key;
              next.access = (*view)->Rules<BlockAllowRules>();
              next.faults = (*view)->Rules<FaultInjectionRules>();
              limiter_options.instances = RoutableInstances(**view);
              next.limiter = RateLimiter::Create(
                  (*view)->Rules<RateLimitRules>(),
                  previous == nullptr ? nullptr : previous->limiter.get(), limiter_options);
              if (pace) {
                // Stream messages have windows of their own (a rule's opens
                // and its messages do not eat each other's quota), kept
                // locally: GLOBAL amounts pace by this instance's share.
                RateLimiterOptions message_options = limiter_options;
                message_options.global_sync = nullptr;
                next.message_limiter = RateLimiter::Create(
                    (*view)->Rules<RateLimitRules>(),
                    previous == nullptr ? nullptr : previous->message_limiter.get(),
                    message_options);
              }
              live->Publish(std::move(next));
            }
            {
              std::lock_guard<std::mutex> arrived_lock(raw->mu);
              raw->arrived = true;
            }
            raw->arrived_cv.notify_all();
          },
          RuleAudience::kCallee);
      pending.push_back(raw);
      watched_.push_back(std::move(watched));
    }
  }
  lock.unlock();
  // Governed from the first call: wait (bounded) for the rules.
  const absl::Time deadline = absl::Now() + options_.rules_wait;
  for (Watched* watched : pending) {
    std::unique_lock<std::mutex> arrived_lock(watched->mu);
    if (!watched->arrived_cv.wait_until(arrived_lock, absl::ToChronoTime(deadline),
                                        [watched] { return watched->arrived; })) {
      gpr_log(GPR_ERROR, "polaris: no rules for %s within %s; registering anyway",
              watched->key.ToString().c_str(),
              absl::FormatDuration(options_.rules_wait).c_str());
    }
  }
  if (absl::Status admin = StartAdmin(); !admin.ok()) return admin;
  const OnlinePlan plan = PlanOnline(pending);
  if (plan.delay > absl::ZeroDuration() || plan.readiness || plan.health_check) {
    // Registration follows once the instance is ready, on a thread of its own.
    lock.lock();
    online_thread_ = std::thread([this, plan] { ComeOnline(plan); });
    return absl::OkStatus();
  }
  absl::Status registered = RegisterUnlessOffline();
  if (!registered.ok()) {
    std::unique_ptr<AdminServer> admin;
    {
      std::lock_guard<std::mutex> admin_lock(mu_);
      admin.swap(admin_);
    }
    return registered;
  }
  return absl::OkStatus();
}

absl::Status PolarisServer::RegisterUnlessOffline() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  grpc::Server* server;
  int port;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Stopped or taken offline meanwhile, or brought online by Online().
    if (stopped_ || online_cancelled_ || online_) return absl::OkStatus();
    server = server_;
    port = port_;
  }
  absl::StatusOr<std::vector<std::unique_ptr<Registration>>> registrations =
      RegisterAll(*server, port);
  if (!registrations.ok()) return registrations.status();
  std::lock_guard<std::mutex> lock(mu_);
  registrations_ = *std::move(registrations);
  online_ = true;
  return absl::OkStatus();
}

PolarisServer::OnlinePlan PolarisServer::PlanOnline(const std::vector<Watched*>& watched) const {
  OnlinePlan plan;
  plan.delay = options_.online.delay;
  plan.readiness = options_.online.readiness;
  plan.interval = options_.online.readiness_interval;
  // This instance as LOSSLESS rules see it.
  Instance self;
  self.metadata = options_.registration.metadata;
  for (Watched* entry : watched) {
    std::shared_ptr<const LosslessRules> rules;
    {
      std::lock_guard<std::mutex> lock(entry->mu);
      rules = entry->lossless;
    }
    const LosslessRule* rule = rules == nullptr ? nullptr : rules->For(self);
    if (rule == nullptr || !rule->delay_register.has_value()) continue;
    const LosslessRule::DelayRegister& delay = *rule->delay_register;
    if (delay.strategy == LosslessRule::DelayRegister::Strategy::kByTime) {
      plan.delay = std::max(plan.delay, delay.delay);
    } else {
      plan.health_check = true;
      std::string service = delay.health_check_path;
      if (!service.empty() && service.front() == '/') service.erase(0, 1);
      plan.health_service = service;
      if (delay.health_check_interval > absl::ZeroDuration()) {
        plan.interval = delay.health_check_interval;
      }
    }
  }
  return plan;
}

bool PolarisServer::Stopping(absl::Duration wait) {
  std::unique_lock<std::mutex> lock(mu_);
  return options_.registration.clock->WaitUntil(
      lock, online_cv_, options_.registration.clock->Now() + wait,
      [this] { return stopped_ || online_cancelled_; });
}

void PolarisServer::ComeOnline(const OnlinePlan& plan) {
  if (Stopping(plan.delay)) return;
  // The health check asks the server itself through its in-process channel:
  // whatever it listens on (one address family only, a Unix socket) and
  // whatever credentials it requires (TLS, mTLS), it is reached.
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
  if (plan.health_check) {
    std::lock_guard<std::mutex> lock(mu_);
    health = grpc::health::v1::Health::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  for (uint64_t attempt = 0;; ++attempt) {
    const bool ready = (!plan.readiness || plan.readiness()) &&
                       (health == nullptr || HealthServing(*health, plan.health_service));
    if (ready) break;
    if (attempt % 60 == 0) {
      gpr_log(GPR_INFO, "polaris: %s not ready yet; registration waits",
              Keys().front().ToString().c_str());
    }
    if (Stopping(plan.interval)) return;
  }
  absl::Status registered = RegisterUnlessOffline();
  if (!registered.ok()) {
    gpr_log(GPR_ERROR, "polaris: registering once ready failed: %s", registered.ToString().c_str());
  }
}

absl::Status PolarisServer::StartAdmin() {
  if (!options_.admin.has_value()) return absl::OkStatus();
  auto change = [](absl::Status status, const char* done) {
    if (!status.ok()) return AdminResponse{503, status.ToString() + "\n"};
    return AdminResponse{200, std::string(done) + "\n"};
  };
  auto writes = [](const AdminRequest& request) {
    return request.method == "GET" || request.method == "POST" || request.method == "PUT";
  };
  std::map<std::string, AdminServer::Handler> handlers;
  handlers["/offline"] = [this, change, writes](const AdminRequest& request) {
    if (!writes(request)) return AdminResponse{405, "GET or POST\n"};
    return change(Offline(), "offline");
  };
  handlers["/online"] = [this, change, writes](const AdminRequest& request) {
    if (!writes(request)) return AdminResponse{405, "GET or POST\n"};
    return change(Online(), "online");
  };
  handlers["/readiness"] = [this](const AdminRequest&) {
    return online() ? AdminResponse{200, "ready\n"} : AdminResponse{503, "not ready\n"};
  };
  handlers["/health"] = [this](const AdminRequest&) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return AdminResponse{503, "stopped\n"};
    return AdminResponse{200, online_ ? "online\n" : "offline\n"};
  };
  absl::StatusOr<std::unique_ptr<AdminServer>> admin =
      AdminServer::Start(*options_.admin, std::move(handlers));
  if (!admin.ok()) return admin.status();
  std::lock_guard<std::mutex> lock(mu_);
  admin_ = *std::move(admin);
  return absl::OkStatus();
}

const QuotaClient* PolarisServer::quota_client() const {
  std::lock_guard<std::mutex> lock(mu_);
  return quota_client_.get();
}

int PolarisServer::admin_port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return admin_ == nullptr ? 0 : admin_->port();
}

absl::StatusOr<std::vector<std::unique_ptr<Registration>>> PolarisServer::RegisterAll(
    grpc::Server& server, int port) const {
  std::vector<std::unique_ptr<Registration>> registrations;
  for (const ServiceKey& key : Keys()) {
    RegisterOptions registration = options_.registration;
    registration.service = key.service;
    absl::StatusOr<std::unique_ptr<Registration>> registered = Register(server, port, registration);
    if (!registered.ok()) {
      return absl::Status(registered.status().code(),
                          absl::StrCat("registering ", key.ToString(), ": ",
                                       registered.status().message()));
    }
    registrations.push_back(*std::move(registered));
  }
  return registrations;
}

absl::Status PolarisServer::Offline() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  grpc::Server* server;
  std::vector<std::unique_ptr<Registration>> registrations;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_ == nullptr) return absl::FailedPreconditionError("PolarisServer not started");
    online_cancelled_ = true;  // a registration waiting for readiness does not happen
    online_cv_.notify_all();
    if (!online_) return absl::OkStatus();
    online_ = false;
    server = server_;
    registrations.swap(registrations_);
  }
  // New calls go elsewhere first: clients that health-check see it at once.
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
      health != nullptr) {
    health->SetServingStatus(false);
  }
  absl::Status result;
  for (auto& registration : registrations) {
    absl::Status status = registration->Deregister();
    if (!status.ok() && result.ok()) result = status;
  }
  return result;
}

absl::Status PolarisServer::Online() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  grpc::Server* server;
  int port;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (server_ == nullptr) return absl::FailedPreconditionError("PolarisServer not started");
    if (stopped_) return absl::FailedPreconditionError("PolarisServer was shut down");
    if (online_) return absl::OkStatus();
    server = server_;
    port = port_;
  }
  absl::StatusOr<std::vector<std::unique_ptr<Registration>>> registrations =
      RegisterAll(*server, port);
  if (!registrations.ok()) return registrations.status();
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
      health != nullptr) {
    health->SetServingStatus(true);
  }
  std::lock_guard<std::mutex> lock(mu_);
  registrations_ = *std::move(registrations);
  online_ = true;
  return absl::OkStatus();
}

bool PolarisServer::online() const {
  std::lock_guard<std::mutex> lock(mu_);
  return online_;
}

absl::Status PolarisServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    grpc::Server* server;
    {
      std::lock_guard<std::mutex> lock(mu_);
      server = server_;
      stopped_ = true;  // no Online() from now on
      online_cv_.notify_all();
    }
    if (server == nullptr) return;
    shutdown_status_ = Offline();
    options_.registration.clock->SleepFor(options_.registration.deregister_propagation_delay);
    // Calls and stream messages waiting for their turn go on now, so that
    // they can finish within the drain rather than be cancelled by it.
    gate_->ReleaseHeld();
    server->Shutdown(absl::ToChronoTime(absl::Now() + options_.registration.drain_timeout));
  });
  return shutdown_status_;
}

std::vector<const Registration*> PolarisServer::registrations() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const Registration*> result;
  for (const auto& registration : registrations_) result.push_back(registration.get());
  return result;
}

}  // namespace grpc_cpp_polaris
