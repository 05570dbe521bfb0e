#include "client/picker_benchmark_harness.h"

#include <atomic>
#include <memory>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/variant.h"
#include "client/internal/routing_picker.h"
#include "client/internal/weighted_picker.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/routing.pb.h"
#include "sdk/balancer/balancer.h"
#include "sdk/builtin_governance.h"
#include "sdk/call_metadata.h"
#include "sdk/router/routing_rules.h"
#include "sdk/breaker/service_breakers.h"

namespace grpc_cpp_polaris {
namespace {

using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::SubchannelInterface;

// Subchannels live in slabs of their own, so that every kind of picker
// reads them with the same memory layout (contiguous, in creation order):
// from the general heap, fragmented by earlier runs' routed services,
// 100,000 subchannels land on as many pages, and the benchmark would
// measure the heap's state rather than the picker. Per thread: each
// benchmark thread builds, uses and destroys its own harness.
class SubchannelSlab {
 public:
  static constexpr size_t kSlotSize = 32;
  static void* Allocate(size_t size) {
    if (size > kSlotSize) return ::operator new(size);
    if (free_ != nullptr) {
      void* slot = free_;
      free_ = free_->next;
      return slot;
    }
    if (used_ == kSlotsPerChunk) {
      chunks_.push_back(std::make_unique<Slot[]>(kSlotsPerChunk));
      used_ = 0;
    }
    return &chunks_.back()[used_++];
  }
  static void Free(void* slot, size_t size) {
    if (size > kSlotSize) return ::operator delete(slot);
    auto* free = static_cast<Slot*>(slot);
    free->next = free_;
    free_ = free;
  }

 private:
  union Slot {
    Slot* next;
    alignas(16) char bytes[kSlotSize];  // FakeSubchannel's size: asserted below
  };
  static constexpr size_t kSlotsPerChunk = 1 << 16;
  static inline thread_local std::vector<std::unique_ptr<Slot[]>> chunks_;
  static inline thread_local size_t used_ = kSlotsPerChunk;
  static inline thread_local Slot* free_ = nullptr;
};

class FakeSubchannel final : public SubchannelInterface {
 public:
  explicit FakeSubchannel(int index) : index_(index) {}
  static void* operator new(size_t size) { return SubchannelSlab::Allocate(size); }
  static void operator delete(void* slot, size_t size) { SubchannelSlab::Free(slot, size); }
  int index() const { return index_; }
  void WatchConnectivityState(std::unique_ptr<ConnectivityStateWatcherInterface>) override {}
  void CancelConnectivityStateWatch(ConnectivityStateWatcherInterface*) override {}
  void RequestConnection() override {}
  void ResetBackoff() override {}
  void AddDataWatcher(std::unique_ptr<DataWatcherInterface>) override {}

 private:
  const int index_;
};
static_assert(sizeof(FakeSubchannel) <= SubchannelSlab::kSlotSize, "one slot per subchannel");

// What gRPC's round_robin picker does per pick: an atomic rotation.
class RoundRobinPicker final : public LoadBalancingPolicy::SubchannelPicker {
 public:
  explicit RoundRobinPicker(std::vector<RefCountedPtr<SubchannelInterface>> subchannels)
      : subchannels_(std::move(subchannels)) {}
  LoadBalancingPolicy::PickResult Pick(LoadBalancingPolicy::PickArgs) override {
    const size_t index = next_.fetch_add(1, std::memory_order_relaxed) % subchannels_.size();
    return LoadBalancingPolicy::PickResult::Complete(subchannels_[index]);
  }

 private:
  const std::vector<RefCountedPtr<SubchannelInterface>> subchannels_;
  std::atomic<size_t> next_{0};
};

// A call's metadata: a few entries, looked up by a linear scan as gRPC's
// metadata batch does for keys it does not know.
class FakeMetadata final : public LoadBalancingPolicy::MetadataInterface {
 public:
  std::vector<std::pair<std::string, std::string>> entries;

  void Add(absl::string_view, absl::string_view) override {}
  std::vector<std::pair<std::string, std::string>> TestOnlyCopyToVector() override {
    return entries;
  }
  absl::optional<absl::string_view> Lookup(absl::string_view key, std::string*) const override {
    for (const auto& entry : entries) {
      if (entry.first == key) return absl::string_view(entry.second);
    }
    return absl::nullopt;
  }
};

// The bench rule: "vip-" users (header x-user) go 80/20 to env=blue and
// env=green.
void AddBenchRule(ServiceView* view) {
  v1::RuleRoutingConfig config;
  v1::SubRuleRouting* sub = config.add_rules();
  v1::SourceService* source = sub->add_sources();
  source->set_service("*");
  v1::SourceMatch* argument = source->add_arguments();
  argument->set_type(v1::SourceMatch::HEADER);
  argument->set_key("x-user");
  argument->mutable_value()->set_type(v1::MatchString::REGEX);
  argument->mutable_value()->mutable_value()->set_value("^vip-[0-9]+$");
  for (const auto& [env, weight] : {std::pair<const char*, uint32_t>{"blue", 80}, {"green", 20}}) {
    v1::DestinationGroup* group = sub->add_destinations();
    group->set_service("Bench");
    (*group->mutable_labels())["env"].mutable_value()->set_value(env);
    group->set_weight(weight);
  }
  v1::RouteRule rule;
  rule.set_id("bench");
  rule.set_enable(true);
  rule.set_routing_policy(v1::RulePolicy);
  rule.mutable_routing_config()->PackFrom(config);
  auto update = std::make_shared<ResourceUpdate>();
  update->type = ResourceType::kCustomRouteRule;
  update->key = view->key;
  auto answer = std::make_shared<v1::DiscoverResponse>();
  *answer->add_customrouterules() = rule;
  update->answer = answer;
  ResourceAnswers answers;
  answers[ResourceIndex(ResourceType::kCustomRouteRule)] = update;
  view->rules[std::string(RoutingRules::kParserName)] =
      (*RuleParserRegistry::Global().Find(RoutingRules::kParserName))->Parse(view->key, answers).value();
}

// The routed kinds' service: instances in four zones (the caller's is
// "zone-0"), alternately env=blue and env=green, all version=1; with
// `routed`, one rule sending "vip-" users 80/20 to blue and green, and
// nearby routing on.
std::unique_ptr<LoadBalancingPolicy::SubchannelPicker> MakeRoutedPicker(
    std::vector<RefCountedPtr<SubchannelInterface>> subchannels,
    const std::vector<uint32_t>& weights, const std::string& balancer, bool routed,
    bool breaking, std::shared_ptr<ServiceBreakers>* breakers) {
  RegisterBuiltinGovernance();
  auto view = std::make_shared<ServiceView>();
  view->key = ServiceKey{"default", "Bench"};
  auto snapshot = std::make_shared<ServiceSnapshot>();
  snapshot->key = view->key;
  for (size_t i = 0; i < subchannels.size(); ++i) {
    Instance instance;
    instance.id = std::to_string(i);
    instance.host = "127.0.0.1";
    instance.port = static_cast<uint32_t>(1000 + i);
    instance.weight = weights[i];
    instance.metadata = {{"env", i % 2 == 0 ? "blue" : "green"}, {"version", "1"}};
    instance.location = Location{"region", "zone-" + std::to_string(i % 4), ""};
    snapshot->instances.push_back(std::move(instance));
  }
  view->instances = snapshot;
  auto caller = std::make_shared<CallerIdentity>();
  caller->location = Location{"region", "zone-0", ""};
  GovernanceOptions options;
  options.nearby.enabled = routed;
  options.balancer = balancer;
  if (routed) AddBenchRule(view.get());
  internal::RoutingPickerInputs inputs;
  inputs.view = view;
  inputs.caller = caller;
  inputs.chain = *RouterChain::Build(*view, *caller, options);
  inputs.balancer = *BalancerRegistry::Global().Find(options.balancer);
  inputs.available.assign(subchannels.size(), true);
  inputs.connecting.assign(subchannels.size(), false);
  inputs.ready = std::move(subchannels);
  if (breaking || (*BalancerRegistry::Global().Find(balancer))->uses_load()) {
    // The process's breakers and stats of the service, as the policy has.
    options.circuit_breaking.enabled = breaking;
    std::vector<std::string> addresses;
    for (const Instance& instance : view->instances->instances) {
      addresses.push_back(instance.Address());
    }
    *breakers = ServiceBreakersRegistry::Global().For(view->key, options.circuit_breaking);
    inputs.healths = std::make_shared<const std::vector<std::shared_ptr<InstanceHealth>>>(
        (*breakers)->Sync(addresses));
    inputs.record_outcomes = breaking;
  }
  return std::make_unique<internal::RoutingPicker>(std::move(inputs));
}

// A call's arena, as gRPC gives each call one: a buffer handed out in
// aligned pieces, reset before each pick.
class ArenaCallState final : public LoadBalancingPolicy::CallState {
 public:
  void* Alloc(size_t size) override {
    const size_t aligned = (size + 15) & ~size_t{15};
    if (used_ + aligned > sizeof(buffer_)) return nullptr;
    void* piece = buffer_ + used_;
    used_ += aligned;
    return piece;
  }
  void Reset() { used_ = 0; }

 private:
  alignas(16) char buffer_[1024];
  size_t used_ = 0;
};

}  // namespace

struct PickerBenchmarkHarness::Impl {
  std::shared_ptr<ServiceBreakers> breakers;
  std::unique_ptr<LoadBalancingPolicy::SubchannelPicker> picker;
  FakeMetadata metadata;
  ArenaCallState call_state;
};

PickerBenchmarkHarness::PickerBenchmarkHarness(Kind kind, int instances)
    : impl_(std::make_unique<Impl>()) {
  std::vector<RefCountedPtr<SubchannelInterface>> subchannels;
  std::vector<uint32_t> weights;
  for (int i = 0; i < instances; ++i) {
    subchannels.push_back(grpc_core::MakeRefCounted<FakeSubchannel>(i));
    weights.push_back(1 + (i * 37) % 100);
  }
  if (kind == Kind::kPolaris) {
    impl_->picker = std::make_unique<internal::WeightedPicker>(std::move(subchannels), weights);
  } else if (kind == Kind::kUnrouted || kind == Kind::kBreaking) {
    impl_->picker = MakeRoutedPicker(std::move(subchannels), weights, "weighted_random",
                                     /*routed=*/false, kind == Kind::kBreaking, &impl_->breakers);
    impl_->metadata.entries = {{"user-agent", "grpc-c++/1.51.1"}};
  } else if (kind == Kind::kRouted || kind == Kind::kRoutedLeastRequest ||
             kind == Kind::kRoutedBreaking) {
    impl_->picker = MakeRoutedPicker(
        std::move(subchannels), weights,
        kind == Kind::kRoutedLeastRequest ? "least_request" : "weighted_random",
        /*routed=*/true, kind == Kind::kRoutedBreaking, &impl_->breakers);
    impl_->metadata.entries = {{"user-agent", "grpc-c++/1.51.1"},
                               {"x-user", "vip-7"},
                               {kDestinationMetadataKey, EncodeLabels({{"version", "1"}})}};
  } else {
    impl_->picker = std::make_unique<RoundRobinPicker>(std::move(subchannels));
  }
}

PickerBenchmarkHarness::~PickerBenchmarkHarness() = default;

int PickerBenchmarkHarness::Pick() {
  LoadBalancingPolicy::PickArgs args;
  args.path = "/grpc_cpp_polaris.echo.EchoServer/Echo";
  args.initial_metadata = &impl_->metadata;
  impl_->call_state.Reset();
  args.call_state = &impl_->call_state;
  LoadBalancingPolicy::PickResult result = impl_->picker->Pick(args);
  auto* complete = absl::get_if<LoadBalancingPolicy::PickResult::Complete>(&result.result);
  if (complete == nullptr) return -1;
  if (complete->subchannel_call_tracker != nullptr) {
    complete->subchannel_call_tracker->Start();
    complete->subchannel_call_tracker->Finish(
        LoadBalancingPolicy::SubchannelCallTrackerInterface::FinishArgs{absl::OkStatus(), nullptr,
                                                                         nullptr});
  }
  return static_cast<const FakeSubchannel*>(complete->subchannel.get())->index();
}

}  // namespace grpc_cpp_polaris
