// Governance rules the mock control plane serves through Discover: routing
// (v1 inbound/outbound routes and rule-routing rules), circuit breaking, rate
// limiting and fault detection, per service, each with its own revision.
// Set through the admin API or loaded from a JSON rules file
// (proto/mockplane/rules_file.proto). Thread-safe.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "mockplane/revision.h"
#include "proto/v1/circuitbreaker.pb.h"
#include "proto/v1/fault_detector.pb.h"
#include "proto/v1/ratelimit.pb.h"
#include "proto/v1/request.pb.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/routing.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class RuleRegistry {
 public:
  using DiscoverResponsePtr = std::shared_ptr<const v1::DiscoverResponse>;
  // Called after a rule changed, outside the registry's lock.
  using ChangeListener = std::function<void(DiscoverType, const ServiceKey&)>;

  void SetChangeListener(ChangeListener listener);

  // Replace the service's rules of one kind; each bumps that revision.
  void SetRouting(const ServiceKey& key, v1::Routing routing);
  void SetCircuitBreaker(const ServiceKey& key, v1::CircuitBreaker circuit_breaker);
  void SetRateLimit(const ServiceKey& key, v1::RateLimit rate_limit);
  void SetFaultDetector(const ServiceKey& key, v1::FaultDetector fault_detector);
  // Removes the service's rules of one kind.
  void Clear(DiscoverType type, const ServiceKey& key);

  // Loads a rules file (JSON; see proto/mockplane/rules_file.proto). All or
  // nothing: on error nothing changes and the error names the bad part.
  absl::Status LoadJson(const std::string& json);
  absl::Status LoadFile(const std::string& path);

  // True for the kinds this registry answers.
  static bool Serves(DiscoverType type);
  // The answer to a ROUTING, CIRCUIT_BREAKER, RATE_LIMIT or FAULT_DETECTOR
  // request: DataNoChange for the current revision, the rule otherwise (an
  // empty one, revision "", for a service without rules of that kind).
  DiscoverResponsePtr Discover(const v1::DiscoverRequest& request) const;
  std::string Revision(DiscoverType type, const ServiceKey& key) const;

 private:
  // Stores `response` (carrying the rule) as the new state of (type, key).
  void Store(DiscoverType type, const ServiceKey& key, v1::DiscoverResponse response);

  RevisionSource revisions_;
  mutable std::mutex mu_;
  std::map<std::pair<DiscoverType, ServiceKey>, DiscoverResponsePtr> rules_ ABSL_GUARDED_BY(mu_);
  std::mutex listener_mu_;
  ChangeListener listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_RULE_REGISTRY_H_
