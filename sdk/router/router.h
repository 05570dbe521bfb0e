// Routing: the interfaces every router implements, the registry that finds
// them by name, and the chain that runs them in order.
//
// A router narrows the instances of one service for one call, from the
// call's attributes (method, headers, labels set with the per-call helper,
// lane) and the caller's identity. Routers are built from a ServiceView when
// it changes (rules compiled there), and their Route() runs only when the
// client meets a kind of call it has not routed yet with this view: its
// result (candidates and their weights) is cached by the picker, keyed by
// exactly the call attributes the chain reads (RouteKeys). So Route() may
// allocate and run regular expressions; it must not block.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/registry.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

// The attributes of one call that routers read. Header keys are lowercase,
// as gRPC metadata keys are.
struct RouteRequest {
  // The gRPC method path, "/package.Service/Method".
  std::string path;
  // The call's metadata, only the keys the chain reads (RouteKeys::headers).
  std::map<std::string, std::string> headers;
  // Labels set with the per-call helper (SetRouteLabels), for rules' CUSTOM
  // arguments and v1 source metadata.
  std::map<std::string, std::string> labels;
  // Destination-metadata labels (SetDestinationMetadata): the instances'
  // metadata must carry them.
  std::map<std::string, std::string> destination_metadata;
  // The call's lane tag ("group/rule"), empty when untagged.
  std::string lane;

  // "Method" of "/package.Service/Method".
  absl::string_view method() const;
};

// Which call attributes a chain's results depend on. The picker extracts
// exactly these from each call and keys its cache on them.
struct RouteKeys {
  std::set<std::string> headers;
  bool path = false;
  bool labels = false;
  bool destination_metadata = false;
  bool lane = false;
};

// One instance a call may go to: an index into ServiceView::instances, and
// its relative weight (routers that split traffic between groups rescale
// weights so that each group gets its share).
struct Candidate {
  uint32_t index = 0;
  uint32_t weight = 0;
  // A call sent to this candidate enters a lane: it carries the lane tag the
  // chain reports (RouteOutcome::lane_tag) to the server, which passes it on.
  bool enters_lane = false;
};
using Candidates = std::vector<Candidate>;

// What one picker's routers see besides the call.
struct RouteState {
  const ServiceView* view = nullptr;
  const CallerIdentity* caller = nullptr;
  // available[i]: calls may be routed to instance i now: healthy, and
  // connected or connecting without having failed (a call routed to an
  // instance still connecting waits for it).
  const std::vector<bool>* available = nullptr;

  bool Available(uint32_t index) const { return (*available)[index]; }
  const Instance& instance(uint32_t index) const { return view->instances->instances[index]; }
};

// What a chain decides for one kind of call.
struct RouteOutcome {
  Candidates candidates;
  // When some candidates enter a lane: the tag ("group/rule") those calls
  // must carry in the service-lane metadata.
  std::string lane_tag;
};

// The value of a flattened call attribute ("$method", "$header.x-user",
// "$caller_ip", a custom label, ...; see routing_rules.h), or nullopt.
std::optional<absl::string_view> CallAttribute(const RouteState& state,
                                               const RouteRequest& request, absl::string_view key);
// Adds to `keys` what CallAttribute(key) reads of a call.
void AddCallAttributeKey(absl::string_view key, RouteKeys* keys);

class Router {
 public:
  virtual ~Router() = default;
  virtual absl::string_view name() const = 0;
  // Adds the call attributes Route() reads.
  virtual void CollectKeys(RouteKeys* keys) const = 0;
  // Narrows `outcome->candidates` for `request` (keeping the enters_lane
  // flag of the candidates it keeps). An error fails the call with that
  // status (e.g. a rule with failover "none" that no group satisfies).
  virtual absl::Status Route(const RouteState& state, const RouteRequest& request,
                             RouteOutcome* outcome) const = 0;
};

class RouterFactory {
 public:
  virtual ~RouterFactory() = default;
  virtual absl::string_view name() const = 0;
  // The router for `view`, or null when it has nothing to do for this
  // service (e.g. no rules of its kind). InvalidArgument naming the option
  // when `options` are inconsistent.
  virtual absl::StatusOr<std::unique_ptr<Router>> Build(const ServiceView& view,
                                                        const CallerIdentity& caller,
                                                        const GovernanceOptions& options) const = 0;
};

// The routers known to the process, by name (the built-in ones are
// registered by RegisterBuiltinGovernance(), sdk/builtin_governance.h).
class RouterRegistry : public NamedRegistry<RouterFactory> {
 public:
  static RouterRegistry& Global();

 private:
  RouterRegistry() : NamedRegistry("router") {}
};

// The routers of GovernanceOptions::routers built for one view, in order,
// followed by the final filter (unavailable, isolated and weight-0 instances
// out; recover-all when that would leave nothing, unless disabled).
class RouterChain {
 public:
  static absl::StatusOr<std::unique_ptr<RouterChain>> Build(const ServiceView& view,
                                                           const CallerIdentity& caller,
                                                           const GovernanceOptions& options);

  const RouteKeys& keys() const { return keys_; }
  // Candidates for one call: starts from every instance with its weight.
  absl::StatusOr<RouteOutcome> Route(const RouteState& state, const RouteRequest& request) const;

 private:
  std::vector<std::unique_ptr<Router>> routers_;
  RouteKeys keys_;
  bool recover_all_ = true;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_ROUTER_H_
