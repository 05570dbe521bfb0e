// Active probing of open instances: the probers (one per protocol, found by
// name), the FAULT_DETECTOR rules that configure them, and the probe a
// service's breakers run (ServiceBreakers::SetProbe).
//
// While an instance's breaker is open, its probe runs every `interval` on a
// thread of its own (probes block, at most their timeout); an instance that
// answers goes half-open at once, and its probe calls decide from there.
// Upstream's clients probe every instance they call and let probes count
// like calls; here only open instances are probed (no probe traffic to
// healthy instances), and an answer shortens the sleep window.
//
// FAULT_DETECTOR rules (upstream's v1.FaultDetectRule), as polaris-go and
// polaris-java read them:
//   - target_service: namespace and service, each empty or "*" for any;
//     rules for one method (target_service.method or api.path set to
//     anything but "*") are for method breakers and are left out here;
//   - order: the more specific target first, then priority, then id;
//   - interval in s (10 when 0), timeout in ms (1,000 when 0), port (0:
//     the instance's own);
//   - protocol: TCP is the "tcp" prober (tcp_config's send and receive),
//     UNKNOWN (unset) is "grpc" (gRPC's health Check: the instances are
//     gRPC servers), HTTP and UDP the "http" and "udp" probers, which the
//     application may register (a rule naming a prober nobody registered is
//     left out, logged).
// Probing is on for a service when its INSTANCE CIRCUIT_BREAKER rule has
// faultDetectConfig.enable, or CircuitBreakingOptions::active_probe.enabled;
// a FAULT_DETECTOR rule's settings win over the options'.
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_FAULT_DETECT_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_FAULT_DETECT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/breaker/service_breakers.h"
#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/registry.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct ProbeTarget {
  std::string host;  // without brackets
  uint32_t port = 0;
};

class Prober {
 public:
  virtual ~Prober() = default;
  virtual absl::string_view name() const = 0;
  // Whether `target` answers as healthy: OK, or why not. Blocks, at most
  // about options.timeout. Called on the probe thread, one probe at a time.
  virtual absl::Status Probe(const ProbeTarget& target, const ActiveProbeOptions& options) const = 0;
};

// The probers known to the process ("grpc" and "tcp" are built in,
// registered by RegisterBuiltinGovernance()).
class ProberRegistry : public NamedRegistry<Prober> {
 public:
  static ProberRegistry& Global();

 private:
  ProberRegistry() : NamedRegistry("prober") {}
};

std::unique_ptr<Prober> MakeTcpProber();
std::unique_ptr<Prober> MakeGrpcHealthProber();

// "host:port" (brackets around IPv6 hosts) with the port replaced by
// `port` unless 0; InvalidArgument for anything else.
absl::StatusOr<ProbeTarget> ProbeTargetOf(absl::string_view address, uint32_t port);

struct FaultDetectRule {
  std::string id;
  ServiceKey target;  // fields may be "" or "*": any
  uint32_t priority = 0;
  ActiveProbeOptions probe;  // `enabled` true

  bool Covers(const ServiceKey& service) const;
};

class FaultDetectRules final : public ParsedRules {
 public:
  static constexpr absl::string_view kParserName = "fault_detector";
  std::vector<FaultDetectRule> rules;  // in the order above
  std::vector<std::string> rejected;   // why rules were left out

  // The first rule for instances of `service`, or null.
  const FaultDetectRule* Find(const ServiceKey& service) const;
};

std::unique_ptr<RuleParser> MakeFaultDetectRulesParser();

// The probe `service`'s instance breakers run: null when probing is off
// (!options.enabled; the caller folds the INSTANCE rule's
// faultDetectConfig.enable into it) or its prober is unknown (logged).
// `rules` may be null; their settings win over the options'.
std::shared_ptr<const ActiveProbe> ActiveProbeFor(const ServiceKey& service,
                                                  const FaultDetectRules* rules,
                                                  const ActiveProbeOptions& options);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_FAULT_DETECT_H_
