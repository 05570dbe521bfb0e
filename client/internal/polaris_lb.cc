// The `polaris` LB policy: one subchannel per address the resolver reports;
// each call routed by the governance chain and balanced over the READY
// instances it routes to.
//
// Control plane (all *Locked methods, on the channel's work serializer, each
// marked for ThreadSanitizer with a TsanSerialized guard, see sdk/tsan.h):
// the resolver's service view is compiled into a RouterChain once per
// update, and the view, the chain and the subchannel states are folded into
// an immutable RoutingPicker, rebuilt on every change. Data plane: the
// picker routes each kind of call once and caches the result; a pick then
// takes no lock and allocates nothing (routing_picker.h). Addresses that come
// without a Polaris view (another resolver) are balanced by weighted random.

#include "client/internal/polaris_lb.h"

#include <map>
#include <mutex>
#include <set>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpc/impl/codegen/connectivity_state.h>
#include <grpc/support/log.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "client/internal/instance_attribute.h"
#include "client/internal/routing_picker.h"
#include "client/internal/weighted_picker.h"
#include "client/polaris_client.h"
#include "sdk/balancer/balancer.h"
#include "sdk/builtin_governance.h"
#include "sdk/router/router.h"
#include "sdk/breaker/breaker_rules.h"
#include "sdk/breaker/fault_detect.h"
#include "sdk/breaker/service_breakers.h"
#include "sdk/clock.h"
#include "sdk/lossless/lossless_rules.h"
#include "sdk/lossless/warmup.h"
#include "sdk/scheduler.h"
#include "sdk/tsan.h"
#include "src/core/lib/address_utils/sockaddr_utils.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/gprpp/debug_location.h"
#include "src/core/lib/gprpp/orphanable.h"
#include "src/core/lib/gprpp/ref_counted_ptr.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/lb_policy_factory.h"
#include "src/core/lib/load_balancing/lb_policy_registry.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"
#include "src/core/lib/resolver/server_address.h"

namespace grpc_cpp_polaris {
namespace internal {
namespace {

using grpc_core::ChannelArgs;
using grpc_core::Json;
using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::ServerAddress;
using grpc_core::SubchannelInterface;

constexpr uint32_t kDefaultWeight = 100;  // for addresses without an instance

// {"polaris": {"balancer": "ring_hash", "hash_key_header": "x-user"}}: a
// channel's own choice of balancer (a registered name) and hash key header,
// over GovernanceOptions'. Unknown fields are rejected so that a typo in a
// service config is reported, not ignored.
class PolarisLbConfig final : public LoadBalancingPolicy::Config {
 public:
  // gRPC hands configs between its threads and drops the last reference
  // inside libgrpc: the annotations order that for TSan (sdk/tsan.h).
  PolarisLbConfig() { TsanRelease(this); }
  ~PolarisLbConfig() override { TsanAcquire(this); }
  absl::string_view name() const override { return kPolarisLbPolicyName; }
  std::string balancer;         // empty: the context's
  std::string hash_key_header;  // empty: the context's
};

class PolarisLb final : public LoadBalancingPolicy {
 public:
  explicit PolarisLb(Args args) : LoadBalancingPolicy(std::move(args)) {}

  absl::string_view name() const override { return kPolarisLbPolicyName; }
  absl::Status UpdateLocked(UpdateArgs args) override;
  void ExitIdleLocked() override;
  void ResetBackoffLocked() override;

 private:
  class StateWatcher;
  // What the breakers' listener holds instead of the policy.
  struct RefreshBridge {
    std::mutex mu;
    PolarisLb* policy = nullptr;  // null once shut down
  };

  struct Endpoint {
    uint64_t generation = 0;  // tells a watcher of a replaced endpoint apart
    uint32_t weight = kDefaultWeight;
    // The instance's index in view_, or -1 when it came without a view.
    int64_t index = -1;
    RefCountedPtr<SubchannelInterface> subchannel;
    StateWatcher* watcher = nullptr;  // owned by the subchannel
    grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
    // Set on TRANSIENT_FAILURE, cleared on READY: while set, CONNECTING and
    // IDLE still count as failing (sticky TF, as gRPC's round_robin does).
    bool failing = false;
    absl::Status last_failure;
  };

  ~PolarisLb() override {
    TsanAcquire(this);
    ReleaseConfig();
  }
  // Drops our reference to the config. gRPC may drop the last one inside
  // libgrpc, on another thread: the release after our Unref (which reads the
  // object) orders it before ~PolarisLbConfig's acquire, for TSan.
  void ReleaseConfig() {
    const void* key = config_.get();
    config_.reset();
    if (key != nullptr) TsanRelease(key);
  }
  void ShutdownLocked() override;
  void OnStateChangeLocked(const std::string& key, uint64_t generation,
                           grpc_connectivity_state state, const absl::Status& status);
  void StopWatching(Endpoint* endpoint);
  void UpdatePickerLocked();

  // Compiles the routers for view_ and the caller now.
  void BuildChainLocked();
  // Follows the breakers and stats of view_'s instances (or none).
  void TrackInstancesLocked();
  void StopListeningLocked();
  // A breaker of the service changed state, or warm-up shares are due (on
  // the scheduler's thread): rebuild the picker on the work serializer.
  static void Refresh(const std::shared_ptr<RefreshBridge>& bridge);
  void UpdateRoutingPickerLocked();
  // The warm-up shares of view_'s instances now (LOSSLESS rules, else the
  // options), with the picker's refresh scheduled while any is warming.
  WarmupShares WarmupLocked();
  // The bridge, made on first use.
  const std::shared_ptr<RefreshBridge>& Bridge();

  std::map<std::string, std::unique_ptr<Endpoint>> endpoints_;  // by address
  // The resolver's view, caller and options, when it is Polaris': then calls
  // are routed by chain_ (or fail with chain_status_).
  ServiceViewPtr view_;
  std::shared_ptr<const CallerIdentity> caller_;
  std::shared_ptr<const GovernanceOptions> governance_;
  std::shared_ptr<const RouterChain> chain_;
  absl::Status chain_status_;
  const BalancerFactory* balancer_ = nullptr;
  std::string hash_key_header_;
  // When circuit breaking is on or the balancer reads load: the breakers
  // and stats of view_'s instances, by index (shared with the process's
  // other channels to the service), and our listener to their transitions.
  std::shared_ptr<ServiceBreakers> breakers_;
  std::shared_ptr<const std::vector<std::shared_ptr<InstanceHealth>>> healths_;
  uint64_t breaker_listener_ = 0;
  // Whether outcomes are recorded (circuit breaking on for the service).
  bool breaking_ = false;
  // The service's CIRCUIT_BREAKER rules, and its SERVICE and METHOD
  // breakers when a rule of those levels applies to this caller.
  std::shared_ptr<const CircuitBreakerRules> breaker_rules_;
  const BreakerRule* service_rule_ = nullptr;
  const BreakerRule* method_rule_ = nullptr;
  std::shared_ptr<ServiceBreakers> service_breakers_;
  std::shared_ptr<InstanceHealth> service_breaker_;
  std::shared_ptr<ServiceBreakers> method_breakers_;
  std::shared_ptr<RefreshBridge> refresh_bridge_;
  // When a warm-up refresh of the picker is scheduled for (past: none).
  absl::Time warmup_refresh_ = absl::InfinitePast();
  // The service config's choices, if any.
  RefCountedPtr<PolarisLbConfig> config_;
  uint64_t next_generation_ = 1;
  std::string resolution_note_;
  absl::Status resolver_error_;
  bool shutdown_ = false;
};

class PolarisLb::StateWatcher final
    : public SubchannelInterface::ConnectivityStateWatcherInterface {
 public:
  StateWatcher(RefCountedPtr<PolarisLb> policy, std::string key, uint64_t generation)
      : policy_(std::move(policy)), key_(std::move(key)), generation_(generation) {
    TsanRelease(this);
  }
  // gRPC destroys watchers on its own threads, and drops the policy's last
  // reference inside libgrpc: tell TSan that this happens before ~PolarisLb.
  // The release comes after our Unref, which reads the policy's refcount
  // (as ReleaseConfig does for the config).
  ~StateWatcher() override {
    TsanAcquire(this);
    const void* key = policy_.get();
    policy_.reset(DEBUG_LOCATION, "StateWatcher");
    TsanRelease(key);
  }

  // The client channel delivers this on the work serializer.
  void OnConnectivityStateChange(grpc_connectivity_state state, absl::Status status) override {
    TsanSerialized serialized(&tsan_work_serializer_key);
    policy_->OnStateChangeLocked(key_, generation_, state, status);
  }
  grpc_pollset_set* interested_parties() override { return policy_->interested_parties(); }

 private:
  RefCountedPtr<PolarisLb> policy_;
  const std::string key_;
  const uint64_t generation_;
};

absl::Status PolarisLb::UpdateLocked(UpdateArgs args) {
  TsanSerialized serialized(&tsan_work_serializer_key);
  resolution_note_ = std::move(args.resolution_note);
  if (args.config != nullptr) {
    TsanAcquire(args.config.get());
    ReleaseConfig();
    config_.reset(static_cast<PolarisLbConfig*>(args.config->Ref().release()));
  }
  if (!args.addresses.ok()) {
    // Keep serving the last good endpoints; report the error only if none.
    resolver_error_ = args.addresses.status();
    if (endpoints_.empty()) UpdatePickerLocked();
    return absl::OkStatus();
  }
  resolver_error_ = absl::OkStatus();
  view_ = nullptr;
  std::map<std::string, std::unique_ptr<Endpoint>> updated;
  for (const ServerAddress& address : *args.addresses) {
    absl::StatusOr<std::string> key = grpc_sockaddr_to_string(&address.address(), false);
    if (!key.ok() || updated.count(*key) > 0) continue;
    const InstanceAttribute* attribute = InstanceAttribute::Get(address);
    const uint32_t weight = attribute == nullptr ? kDefaultWeight : attribute->instance().weight;
    const int64_t index = attribute == nullptr ? -1 : attribute->index();
    if (attribute != nullptr && view_ == nullptr) {
      view_ = attribute->view();
      caller_ = attribute->caller();
      governance_ = attribute->governance();
    }
    auto existing = endpoints_.find(*key);
    if (existing != endpoints_.end()) {
      // Same address: keep its connection, take the new weight.
      existing->second->weight = weight;
      existing->second->index = index;
      updated[*key] = std::move(existing->second);
      endpoints_.erase(existing);
      continue;
    }
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->generation = next_generation_++;
    endpoint->weight = weight;
    endpoint->index = index;
    endpoint->subchannel = channel_control_helper()->CreateSubchannel(address, args.args);
    if (endpoint->subchannel == nullptr) continue;
    auto watcher = std::make_unique<StateWatcher>(
        RefCountedPtr<PolarisLb>(static_cast<PolarisLb*>(Ref(DEBUG_LOCATION, "StateWatcher")
                                                              .release())),
        *key, endpoint->generation);
    endpoint->watcher = watcher.get();
    endpoint->subchannel->WatchConnectivityState(std::move(watcher));
    endpoint->subchannel->RequestConnection();
    updated[*key] = std::move(endpoint);
  }
  // What is left was removed by the resolver.
  for (auto& entry : endpoints_) StopWatching(entry.second.get());
  endpoints_ = std::move(updated);
  BuildChainLocked();
  UpdatePickerLocked();
  return absl::OkStatus();
}

void PolarisLb::BuildChainLocked() {
  chain_ = nullptr;
  chain_status_ = absl::OkStatus();
  // By the old view's indices: gone with it (TrackInstancesLocked makes the
  // new ones once the chain builds).
  healths_ = nullptr;
  if (view_ == nullptr) return;
  const GovernanceOptions& governance = *governance_;
  absl::StatusOr<std::unique_ptr<RouterChain>> chain =
      RouterChain::Build(*view_, *caller_, governance);
  const bool configured = config_ != nullptr && !config_->balancer.empty();
  absl::StatusOr<const BalancerFactory*> balancer =
      BalancerRegistry::Global().Find(configured ? config_->balancer : governance.balancer);
  hash_key_header_ = config_ != nullptr && !config_->hash_key_header.empty()
                         ? config_->hash_key_header
                         : governance.hash_key_header;
  if (!chain.ok() || !balancer.ok()) {
    chain_status_ = chain.ok() ? balancer.status() : chain.status();
    gpr_log(GPR_ERROR, "polaris: cannot route calls to %s: %s", view_->key.ToString().c_str(),
            chain_status_.ToString().c_str());
    return;
  }
  chain_ = *std::move(chain);
  balancer_ = *balancer;
  TrackInstancesLocked();
}

void PolarisLb::TrackInstancesLocked() {
  // (healths_ is null here: BuildChainLocked dropped the old view's.)
  // The service's INSTANCE rule for this caller, if any, over the options
  // in code (which may turn breaking off altogether).
  CircuitBreakingOptions breaking = governance_->circuit_breaking;
  breaker_rules_ = nullptr;
  service_rule_ = method_rule_ = nullptr;
  service_breaker_ = nullptr;
  service_breakers_ = method_breakers_ = nullptr;
  if (breaking.enabled) {
    breaker_rules_ = view_->Rules<CircuitBreakerRules>();
    if (breaker_rules_ != nullptr) {
      FallbackDirectory::Global().Publish(view_->key, *breaker_rules_);
      const ServiceKey& caller = caller_->service;
      if (const BreakerRule* rule = breaker_rules_->Find(BreakerLevel::kInstance, caller, view_->key)) {
        breaking = rule->options;
        // Probing: the options', on also when the rule's faultDetectConfig
        // says so (part of the breakers' key: channels that share
        // breakers probe alike).
        breaking.active_probe = governance_->circuit_breaking.active_probe;
        breaking.active_probe.enabled = breaking.active_probe.enabled || rule->fault_detect;
      }
      // SERVICE and METHOD breakers: per process and service too.
      service_rule_ = breaker_rules_->Find(BreakerLevel::kService, caller, view_->key);
      if (service_rule_ != nullptr) {
        service_breakers_ = ServiceBreakersRegistry::Global().For(
            view_->key, service_rule_->options, BreakerLevel::kService);
        service_breaker_ = service_breakers_->Resource("");
      }
      method_rule_ = breaker_rules_->Find(BreakerLevel::kMethod, caller, view_->key);
      if (method_rule_ != nullptr) {
        method_breakers_ = ServiceBreakersRegistry::Global().For(
            view_->key, method_rule_->options, BreakerLevel::kMethod);
      }
    }
  }
  breaking_ = breaking.enabled;
  if (!breaking.enabled && !balancer_->uses_load()) {
    StopListeningLocked();
    return;
  }
  std::shared_ptr<ServiceBreakers> breakers =
      ServiceBreakersRegistry::Global().For(view_->key, breaking);
  if (breakers != breakers_) {
    StopListeningLocked();
    breakers_ = std::move(breakers);
    breaker_listener_ = breakers_->AddListener([bridge = Bridge()] { Refresh(bridge); });
  }
  std::vector<std::string> addresses;
  addresses.reserve(view_->instances->instances.size());
  for (const Instance& instance : view_->instances->instances) {
    addresses.push_back(instance.Address());
  }
  healths_ = std::make_shared<const std::vector<std::shared_ptr<InstanceHealth>>>(
      breakers_->Sync(addresses));
  if (breaking.enabled) {
    // Active probing of open instances (fault_detect.h).
    std::shared_ptr<const FaultDetectRules> detectors = view_->Rules<FaultDetectRules>();
    breakers_->SetProbe(ActiveProbeFor(view_->key, detectors.get(), breaking.active_probe));
  }
}

const std::shared_ptr<PolarisLb::RefreshBridge>& PolarisLb::Bridge() {
  if (refresh_bridge_ == nullptr) {
    refresh_bridge_ = std::make_shared<RefreshBridge>();
    refresh_bridge_->policy = this;
  }
  return refresh_bridge_;
}

WarmupShares PolarisLb::WarmupLocked() {
  std::shared_ptr<const LosslessRules> rules = view_->Rules<LosslessRules>();
  const WarmupOptions* options = governance_->warmup.enabled ? &governance_->warmup : nullptr;
  if (options == nullptr && (rules == nullptr || rules->rules.empty())) return WarmupShares{};
  const absl::Time now = Clock::Real()->Now();
  WarmupShares shares = ComputeWarmup(
      view_->instances->instances,
      [&](const Instance& instance) -> const WarmupOptions* {
        const LosslessRule* rule = rules != nullptr ? rules->For(instance) : nullptr;
        if (rule == nullptr) return options;
        return rule->warmup.has_value() ? &*rule->warmup : nullptr;
      },
      now);
  // One pending refresh at a time: the earliest due.
  if (shares.next_update != absl::InfiniteFuture() &&
      (warmup_refresh_ <= now || shares.next_update < warmup_refresh_)) {
    warmup_refresh_ = shares.next_update;
    Scheduler::Default()->RunAt(shares.next_update, [bridge = Bridge()] { Refresh(bridge); });
  }
  return shares;
}

void PolarisLb::StopListeningLocked() {
  if (breakers_ != nullptr) breakers_->RemoveListener(breaker_listener_);
  breakers_ = nullptr;
}

void PolarisLb::Refresh(const std::shared_ptr<RefreshBridge>& bridge) {
  grpc_core::ExecCtx exec_ctx;
  RefCountedPtr<PolarisLb> self;
  {
    std::lock_guard<std::mutex> lock(bridge->mu);
    if (bridge->policy == nullptr) return;  // shut down
    self.reset(static_cast<PolarisLb*>(
        bridge->policy->Ref(DEBUG_LOCATION, "breakers").release()));
  }
  std::shared_ptr<grpc_core::WorkSerializer> serializer = self->work_serializer();
  TsanRelease(&tsan_work_serializer_key);  // handed over to the serializer
  serializer->Run(
      [self = std::move(self)]() mutable {
        TsanSerialized serialized(&tsan_work_serializer_key);
        self->UpdatePickerLocked();
        TsanRelease(self.get());  // our Unref may be the last (see ~StateWatcher)
        self.reset(DEBUG_LOCATION, "breakers");
      },
      DEBUG_LOCATION);
}

void PolarisLb::StopWatching(Endpoint* endpoint) {
  if (endpoint->watcher != nullptr) {
    endpoint->subchannel->CancelConnectivityStateWatch(endpoint->watcher);
    endpoint->watcher = nullptr;
  }
}

void PolarisLb::OnStateChangeLocked(const std::string& key, uint64_t generation,
                                    grpc_connectivity_state state, const absl::Status& status) {
  if (shutdown_) return;
  auto it = endpoints_.find(key);
  if (it == endpoints_.end() || it->second->generation != generation) return;
  Endpoint& endpoint = *it->second;
  endpoint.state = state;
  switch (state) {
    case GRPC_CHANNEL_READY:
      endpoint.failing = false;
      break;
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      endpoint.failing = true;
      endpoint.last_failure = status;
      // A failed connection counts against the instance's breaker.
      if (healths_ != nullptr && breaking_ && endpoint.index >= 0 &&
          static_cast<size_t>(endpoint.index) < healths_->size()) {
        InstanceHealth& health = *(*healths_)[static_cast<size_t>(endpoint.index)];
        health.Record(CallOutcome::kFailure, health.breaker().round(), false);
      }
      break;
    case GRPC_CHANNEL_IDLE:
      // Connection closed (e.g. the server went away): reconnect eagerly so
      // that a live instance is READY again before the next pick needs it.
      endpoint.subchannel->RequestConnection();
      break;
    default:
      break;
  }
  UpdatePickerLocked();
}

void PolarisLb::UpdatePickerLocked() {
  if (shutdown_) return;
  if (view_ != nullptr) {
    UpdateRoutingPickerLocked();
    return;
  }
  std::vector<RefCountedPtr<SubchannelInterface>> ready;
  std::vector<uint32_t> weights;
  size_t connecting = 0;
  absl::Status last_failure;
  for (auto& entry : endpoints_) {
    Endpoint& endpoint = *entry.second;
    if (endpoint.state == GRPC_CHANNEL_READY) {
      if (endpoint.weight == 0) continue;
      ready.push_back(endpoint.subchannel);
      weights.push_back(endpoint.weight);
    } else if (!endpoint.failing) {
      ++connecting;
    } else {
      last_failure = endpoint.last_failure;
    }
  }
  if (!ready.empty()) {
    channel_control_helper()->UpdateState(GRPC_CHANNEL_READY, absl::OkStatus(),
                                          std::make_unique<WeightedPicker>(std::move(ready), weights));
    return;
  }
  if (connecting > 0) {
    channel_control_helper()->UpdateState(
        GRPC_CHANNEL_CONNECTING, absl::OkStatus(),
        std::make_unique<QueuePicker>(Ref(DEBUG_LOCATION, "QueuePicker")));
    return;
  }
  std::string reason;
  if (!resolver_error_.ok()) {
    reason = std::string(resolver_error_.message());
  } else if (endpoints_.empty()) {
    reason = resolution_note_.empty() ? "no routable instance" : resolution_note_;
  } else {
    reason = absl::StrCat("no instance reachable; last error: ", last_failure.ToString());
  }
  absl::Status status = absl::UnavailableError(absl::StrCat("polaris: ", reason));
  channel_control_helper()->UpdateState(GRPC_CHANNEL_TRANSIENT_FAILURE, status,
                                        std::make_unique<TransientFailurePicker>(status));
}

void PolarisLb::UpdateRoutingPickerLocked() {
  const std::vector<Instance>& instances = view_->instances->instances;
  RoutingPickerInputs inputs;
  inputs.available.assign(instances.size(), false);
  inputs.connecting.assign(instances.size(), false);
  inputs.probing.assign(instances.size(), false);
  inputs.ready.resize(instances.size());
  // Breakers: open instances are not available; half-open ones are probed.
  const bool breaking = healths_ != nullptr && breaking_;
  auto admitted = [&](size_t index) {
    if (!breaking || index >= healths_->size()) return true;
    const BreakerState state = (*healths_)[index]->breaker().state();
    if (state == BreakerState::kHalfOpen) inputs.probing[index] = true;
    return state != BreakerState::kOpen;
  };
  size_t ready = 0;
  size_t connecting = 0;
  absl::Status last_failure;
  for (auto& entry : endpoints_) {
    Endpoint& endpoint = *entry.second;
    if (endpoint.index < 0 || static_cast<size_t>(endpoint.index) >= instances.size()) continue;
    const size_t index = static_cast<size_t>(endpoint.index);
    if (endpoint.state == GRPC_CHANNEL_READY) {
      ++ready;
      inputs.ready[index] = endpoint.subchannel;
      inputs.available[index] = instances[index].healthy && admitted(index);
    } else if (!endpoint.failing) {
      ++connecting;
      inputs.connecting[index] = true;
      inputs.available[index] = instances[index].healthy && admitted(index);
    } else {
      last_failure = endpoint.last_failure;
    }
  }
  if (ready == 0) {
    if (connecting > 0) {
      channel_control_helper()->UpdateState(
          GRPC_CHANNEL_CONNECTING, absl::OkStatus(),
          std::make_unique<QueuePicker>(Ref(DEBUG_LOCATION, "QueuePicker")));
      return;
    }
    const std::string reason =
        endpoints_.empty()
            ? (resolution_note_.empty() ? "no routable instance" : resolution_note_)
            : absl::StrCat("no instance reachable; last error: ", last_failure.ToString());
    absl::Status status = absl::UnavailableError(absl::StrCat("polaris: ", reason));
    channel_control_helper()->UpdateState(GRPC_CHANNEL_TRANSIENT_FAILURE, status,
                                          std::make_unique<TransientFailurePicker>(status));
    return;
  }
  if (chain_ == nullptr) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("polaris: cannot route calls: ", chain_status_.message()));
    channel_control_helper()->UpdateState(GRPC_CHANNEL_TRANSIENT_FAILURE, status,
                                          std::make_unique<TransientFailurePicker>(status));
    return;
  }
  inputs.view = view_;
  inputs.chain = chain_;
  inputs.caller = caller_;
  inputs.balancer = balancer_;
  inputs.hash_key_header = hash_key_header_;
  inputs.healths = healths_;
  inputs.record_outcomes = breaking;
  inputs.service_breaker = service_breaker_;
  inputs.service_rule = service_rule_;
  inputs.method_rule = method_rule_;
  inputs.method_breakers = method_breakers_;
  inputs.breaker_rules = breaker_rules_;
  inputs.warmup = WarmupLocked();
  channel_control_helper()->UpdateState(GRPC_CHANNEL_READY, absl::OkStatus(),
                                        std::make_unique<RoutingPicker>(std::move(inputs)));
}

void PolarisLb::ExitIdleLocked() {
  TsanSerialized serialized(&tsan_work_serializer_key);
  for (auto& entry : endpoints_) entry.second->subchannel->RequestConnection();
}

void PolarisLb::ResetBackoffLocked() {
  TsanSerialized serialized(&tsan_work_serializer_key);
  for (auto& entry : endpoints_) entry.second->subchannel->ResetBackoff();
}

void PolarisLb::ShutdownLocked() {
  TsanSerialized serialized(&tsan_work_serializer_key);
  shutdown_ = true;
  if (refresh_bridge_ != nullptr) {
    std::lock_guard<std::mutex> lock(refresh_bridge_->mu);
    refresh_bridge_->policy = nullptr;
  }
  StopListeningLocked();
  healths_ = nullptr;
  for (auto& entry : endpoints_) StopWatching(entry.second.get());
  endpoints_.clear();
  view_ = nullptr;
  chain_ = nullptr;
}

class PolarisLbFactory final : public grpc_core::LoadBalancingPolicyFactory {
 public:
  absl::string_view name() const override { return kPolarisLbPolicyName; }

  grpc_core::OrphanablePtr<LoadBalancingPolicy> CreateLoadBalancingPolicy(
      LoadBalancingPolicy::Args args) const override {
    return grpc_core::MakeOrphanable<PolarisLb>(std::move(args));
  }

  absl::StatusOr<RefCountedPtr<LoadBalancingPolicy::Config>> ParseLoadBalancingConfig(
      const Json& json) const override {
    if (json.type() != Json::Type::OBJECT && json.type() != Json::Type::JSON_NULL) {
      return absl::InvalidArgumentError("polaris LB config: must be a JSON object");
    }
    auto config = grpc_core::MakeRefCounted<PolarisLbConfig>();
    if (json.type() == Json::Type::OBJECT) {
      for (const auto& [field, value] : json.object_value()) {
        auto bad = [&field = field](absl::string_view why) {
          return absl::InvalidArgumentError(
              absl::StrCat("polaris LB config: field '", field, "' ", why));
        };
        if (field != "balancer" && field != "hash_key_header") {
          return absl::InvalidArgumentError(
              absl::StrCat("polaris LB config: unknown field '", field, "'"));
        }
        if (value.type() != Json::Type::STRING) return bad("must be a string");
        if (field == "balancer") {
          RegisterBuiltinGovernance();
          absl::StatusOr<const BalancerFactory*> balancer =
              BalancerRegistry::Global().Find(value.string_value());
          if (!balancer.ok()) return bad(balancer.status().message());
          config->balancer = value.string_value();
        } else {
          GovernanceOptions check;
          check.hash_key_header = value.string_value();
          absl::Status valid = check.Validate();
          if (!valid.ok()) return bad(valid.message());
          config->hash_key_header = value.string_value();
        }
      }
    }
    return config;
  }
};

}  // namespace

void RegisterPolarisLbPolicy(grpc_core::CoreConfiguration::Builder* builder) {
  builder->lb_policy_registry()->RegisterLoadBalancingPolicyFactory(
      std::make_unique<PolarisLbFactory>());
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
