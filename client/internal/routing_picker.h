// The polaris policy's picker when the resolver supplies a service view: runs
// the router chain for each kind of call once and caches the result.
//
// Per pick: the call attributes the chain reads (path, some headers, the
// route labels, destination metadata and lane metadata; see RouteKeys) are
// looked up as string_views in the call's metadata, hashed, and found in a
// lock-free RouteCache; the cached result picks a READY subchannel. With the
// default weighted-random balancer the result holds the balancer's alias
// table with the subchannels in its columns (one read, then the subchannel),
// and the call's random value is drawn first so that the column and
// subchannel the previous kind of call would pick are already loading while
// the lookups run. A hit takes no lock, allocates nothing and runs no regular
// expression. A miss builds a RouteRequest, runs the chain, keeps the
// candidates that have a READY subchannel, builds their balancer (pooled: the
// tuples that route alike share it) and publishes it. Results that are not
// picks are cached too: Queue (routed instances still connecting), Drop (the
// chain refused the call: it fails at once, even wait_for_ready) and Fail
// (none of the routed instances is reachable). A call that enters a lane here
// gets the lane's tag added to its metadata (copied into the call's arena).
//
// Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_ROUTING_PICKER_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_ROUTING_PICKER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "sdk/balancer/balancer.h"
#include "sdk/governance_options.h"
#include "sdk/lossless/warmup.h"
#include "sdk/router/route_cache.h"
#include "sdk/router/router.h"
#include "sdk/service_view.h"
#include "sdk/breaker/breaker_rules.h"
#include "sdk/breaker/service_breakers.h"
#include "src/core/lib/gprpp/ref_counted_ptr.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"

namespace grpc_cpp_polaris {
namespace internal {

// What the policy hands a new picker (built on the work serializer).
struct RoutingPickerInputs {
  ServiceViewPtr view;
  std::shared_ptr<const RouterChain> chain;
  std::shared_ptr<const CallerIdentity> caller;
  const BalancerFactory* balancer = nullptr;
  // For hash balancers: the header read when a call has no hash key of its
  // own (empty: none).
  std::string hash_key_header;
  // Per instance of the view, its call stats and breaker (null: none), when
  // calls are tracked: their outcomes recorded (`record_outcomes`: circuit
  // breaking on) and, for load-aware balancers, counted while in flight.
  std::shared_ptr<const std::vector<std::shared_ptr<InstanceHealth>>> healths;
  bool record_outcomes = false;
  // SERVICE and METHOD circuit breaking (rules from the control plane): the
  // service's breaker, and the METHOD rule with the breakers of the methods
  // it covers (null: none). A call to an open one fails at once (Drop) with
  // the code of its rule's fallback (UNAVAILABLE without one).
  std::shared_ptr<InstanceHealth> service_breaker;
  const BreakerRule* service_rule = nullptr;
  const BreakerRule* method_rule = nullptr;
  std::shared_ptr<ServiceBreakers> method_breakers;
  std::shared_ptr<const CircuitBreakerRules> breaker_rules;  // owns the rules above
  // Per instance of the view: whether routers may send calls to it (healthy
  // per the control plane, not ejected by its breaker, and READY or
  // connecting without having failed: calls routed to an instance still
  // connecting wait for it rather than go elsewhere), whether its
  // connection is being made, whether its breaker is half-open (then, when
  // routed, it gets only the calls its probe permits let through, unless
  // every routed instance is half-open: then they take every call), and its
  // subchannel when READY (null otherwise).
  std::vector<bool> available;
  std::vector<bool> connecting;
  std::vector<bool> probing;
  std::vector<grpc_core::RefCountedPtr<grpc_core::SubchannelInterface>> ready;
  // Per instance of the view, the share of its weight it takes while it
  // warms up (empty: every instance takes its full weight).
  WarmupShares warmup;
  // Bounds of the result cache.
  size_t max_cached_tuples = 4096;
  size_t max_cached_results = 1024;
};

class RoutingPicker final : public grpc_core::LoadBalancingPolicy::SubchannelPicker {
 public:
  explicit RoutingPicker(RoutingPickerInputs inputs);
  ~RoutingPicker() override;

  grpc_core::LoadBalancingPolicy::PickResult Pick(
      grpc_core::LoadBalancingPolicy::PickArgs args) override;

  // A SERVICE or METHOD breaker a call passed: the round it was let through
  // in, and whether it holds a half-open permit.
  struct Gate {
    InstanceHealth* breaker;
    uint32_t round;
    bool probe;
  };

 private:
  struct Result;
  // Calls whose chain reads more attributes than this take a slower path
  // that allocates.
  static constexpr size_t kMaxInlineTuple = 16;

  grpc_core::LoadBalancingPolicy::PickResult SlowPick(
      grpc_core::LoadBalancingPolicy::PickArgs& args, uint64_t random);
  grpc_core::LoadBalancingPolicy::PickResult Miss(uint64_t hash, RouteTuple tuple, uint64_t random,
                                                  grpc_core::LoadBalancingPolicy::PickArgs& args);
  const Result* Compute(RouteTuple tuple, std::unique_ptr<Result>* one_off);
  struct Target;
  static std::vector<BalanceTarget> BalanceTargetsOf(const std::vector<Target>& targets);
  // Lets the call through `breaker` (into `gate`), or not (open, or
  // half-open without a permit left).
  static bool Admit(InstanceHealth* breaker, Gate* gate);
  // A chosen target: its subchannel (lane flag in the low bit) and the
  // health to track the call into (null: untracked).
  struct Choice {
    uintptr_t chosen;
    InstanceHealth* health;
  };
  // How a call picks among a result's targets: with the result's own
  // balancer (or table), or with the one the call chose (SetBalancer).
  struct Picking {
    const Balancer* balancer = nullptr;  // null: the result's own
    bool uses_hash = false;
    bool uses_load = false;
  };
  // The balancer a call names (kBalancerMetadataKey), built over the
  // result's targets on first use; InvalidArgument for an unknown name.
  absl::StatusOr<Picking> CallBalancer(const Result& result, absl::string_view name) const;
  Choice ChooseOne(const Result& result, uint64_t random,
                   grpc_core::LoadBalancingPolicy::PickArgs& args,
                   const Picking& picking) const;
  Choice ChoiceOf(const Target& target) const;
  // The choice of attempt `attempt` (> 0) of the call with id `id`: not one
  // of its earlier attempts' when there is another (call_id_filter.h).
  Choice ChooseForAttempt(const Result& result, uint64_t id, uint32_t attempt,
                          grpc_core::LoadBalancingPolicy::PickArgs& args,
                          const Picking& picking) const;
  // The call's grpc-previous-rpc-attempts (0 on a first attempt).
  static uint32_t PreviousAttempts(grpc_core::LoadBalancingPolicy::PickArgs& args);
  // Picks from a result, with `random` and, for hash balancers, the call's
  // hash key.
  grpc_core::LoadBalancingPolicy::PickResult Use(const Result& result, uint64_t random,
                                                 grpc_core::LoadBalancingPolicy::PickArgs& args) const;
  // The pick of `target`, with its lane tag and call tracker. `probe`: the
  // call holds a half-open permit of `round`.
  grpc_core::LoadBalancingPolicy::PickResult Complete(const Result& result, const Target& target,
                                                      grpc_core::LoadBalancingPolicy::PickArgs& args,
                                                      bool probe, uint32_t round,
                                                      const Gate* gates, int gate_count) const;
  // The same, from a subchannel pointer with the lane flag in its low bit,
  // and the health to track the call into (null: untracked); `load`: the
  // call's balancer reads calls in flight.
  grpc_core::LoadBalancingPolicy::PickResult Complete(const Result& result, uintptr_t chosen,
                                                      InstanceHealth* health,
                                                      grpc_core::LoadBalancingPolicy::PickArgs& args,
                                                      bool probe, uint32_t round,
                                                      const Gate* gates, int gate_count,
                                                      bool load = false) const;
  // StableHash of the call's hash key (SetHashKey's, else the configured
  // header's), or `random` when it has neither.
  uint64_t CallHash(grpc_core::LoadBalancingPolicy::PickArgs& args, uint64_t random) const;
  // Starts loading what Use(result, random) would read (see Pick).
  static void Prefetch(const Result* result, uint64_t random);
  using CacheEntry = RouteCache<Result>::Entry;
  // Remembers the entry a call used, for the next calls' guess.
  void Remember(const CacheEntry* used, const CacheEntry* guess, uint64_t random);
  static void AddLaneTag(const Result& result, grpc_core::LoadBalancingPolicy::PickArgs& args);

  const RoutingPickerInputs inputs_;
  // Whether picks attach a call tracker.
  bool track_calls_ = false;
  // Whether the call's path is part of the cached tuple (the routers read
  // it, or a METHOD rule does).
  bool path_in_tuple_ = false;
  // The failure of calls to an open SERVICE / METHOD breaker.
  absl::StatusCode service_open_code_ = absl::StatusCode::kUnavailable;
  std::string service_open_message_;
  absl::StatusCode method_open_code_ = absl::StatusCode::kUnavailable;
  bool count_in_flight_ = false;
  // The balancers a call may choose, each by its name and camelCase name.
  struct NamedBalancer {
    std::string name;
    std::string camel;
    const BalancerFactory* factory;
  };
  std::vector<NamedBalancer> balancers_;
  std::string known_balancers_;  // their names, for errors
  // The tuple layout: [path] [headers...] [labels] [destination metadata] [lane].
  std::vector<std::string> header_keys_;
  const RouteKeys keys_;
  size_t tuple_size_ = 0;
  RouteCache<Result> cache_;
  ResultPool<Result> pool_;
  // A cache entry recently used: the guess for the next call (its tuple is
  // compared first, before hashing; its result is prefetched).
  std::atomic<const CacheEntry*> last_{nullptr};
};

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_ROUTING_PICKER_H_
