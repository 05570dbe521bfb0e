// Load balancing over one candidate set: the interface every algorithm
// implements, and the registry that finds them by name.
//
// A Balancer is built once per candidate set (when the routers' result for
// a kind of call is first needed) and then picks for every call of that
// kind, concurrently, so Pick() must take no lock and allocate nothing.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/model.h"
#include "sdk/registry.h"

namespace grpc_cpp_polaris {

// What a balancer may read of one call.
struct BalanceInput {
  // A uniformly distributed random value for this pick.
  uint64_t random = 0;
  // For balancers that use a hash (BalancerFactory::uses_hash): the
  // StableHash of the call's hash key, or a random value when the call has
  // none (such calls spread like random ones).
  uint64_t hash = 0;
};

struct InstanceStats;

// One candidate: its instance (for metadata-aware algorithms), its weight
// and, for load-aware algorithms (BalancerFactory::uses_load), its call
// statistics (shared by the process's channels; null when not tracked).
struct BalanceTarget {
  const Instance* instance = nullptr;
  uint32_t weight = 0;  // > 0
  const InstanceStats* stats = nullptr;
};

// What hash balancers place a target by: its instance's host:port (the
// same in every client), or its index when it has no instance.
inline std::string PlacementKey(const BalanceTarget& target, size_t index) {
  return target.instance != nullptr ? target.instance->Address() : std::to_string(index);
}

class WeightedRandomSelector;

class Balancer {
 public:
  virtual ~Balancer() = default;
  // An index into the targets the balancer was built from.
  virtual size_t Pick(const BalanceInput& input) const = 0;
  // A balancer whose Pick is exactly `selector->Select(input.random)` over
  // its targets may return that selector: pick paths then call it inline
  // instead of Pick (one virtual call less per call). Null otherwise.
  virtual const WeightedRandomSelector* weighted_selector() const { return nullptr; }
};

class BalancerFactory {
 public:
  virtual ~BalancerFactory() = default;
  virtual absl::string_view name() const = 0;
  // `targets` is not empty and every weight is positive.
  virtual std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const = 0;
  // Whether Pick reads BalanceInput::hash (then the pick path looks up the
  // call's hash key, which it does not otherwise).
  virtual bool uses_hash() const { return false; }
  // Whether Pick reads the targets' stats (then the pick path counts each
  // call in flight from pick to finish).
  virtual bool uses_load() const { return false; }
};

// The balancers known to the process, by name (the built-in ones are
// registered by RegisterBuiltinGovernance(), sdk/builtin_governance.h).
class BalancerRegistry : public NamedRegistry<BalancerFactory> {
 public:
  static BalancerRegistry& Global();
  // The default balancer's name.
  static constexpr absl::string_view kDefault = "weighted_random";

 private:
  BalancerRegistry() : NamedRegistry("balancer") {}
};

// A balancer name in camelCase, as grpc-go-polaris spells its policies
// ("ring_hash" -> "ringHash").
std::string CamelCaseName(absl::string_view name);
// The balancer a call names (polaris.balancer.request.lbpolicy): a
// registered name or its camelCase form; null when none. Takes the
// registry's lock: not for pick paths (they build their own table).
const BalancerFactory* FindBalancerByCallName(absl::string_view name);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_H_
