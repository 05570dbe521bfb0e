// grpc-cpp-polaris client: dial Polaris services by name.
//
//   auto channel = grpc::CreateChannel("polaris://EchoServerGRPC",
//                                      grpc::InsecureChannelCredentials());
//
// Linking //client registers, before main(), the `polaris` resolver scheme
// and the `polaris` load-balancing policy with gRPC, which polaris:// targets
// use by default. Targets: polaris://SERVICE[?namespace=NAMESPACE]
// (namespace "default" when omitted).
//
// The resolver watches the service on the Polaris control plane (its
// instances and routing rules) and hands the policy every instance that may
// take traffic (not isolated, weight > 0) with the service's view; the policy
// keeps one subchannel per instance, routes each kind of call once through
// the router chain (rule, metadata and nearby routing, then a filter of
// unavailable instances) and picks among the READY routed instances by
// weighted random, without locks or allocation on the call path. Changes the
// control plane pushes reach the picker without a new resolution round.
//
// Circuit breaking is on by default (GovernanceOptions::circuit_breaking):
// the policy ejects an instance whose calls keep failing and probes it back
// in. Transitions are logged, reported to AddBreakerListener's listeners
// and counted (GetBreakerCounters), from sdk/breaker/breaker_events.h.
//
// Per-call routing input (labels, destination metadata, lane) is set with
// the helpers of client/call_options.h. When ClientOptions::caller names a
// service, every call also carries the caller's service, namespace and
// metadata (keys in sdk/call_metadata.h) for the callee's governance.
#ifndef GRPC_CPP_POLARIS_CLIENT_POLARIS_CLIENT_H_
#define GRPC_CPP_POLARIS_CLIENT_POLARIS_CLIENT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "sdk/breaker/breaker_events.h"
#include "sdk/governance_options.h"

namespace grpc_cpp_polaris {

// Channel argument (string) naming the control plane for one channel, e.g.
//   args.SetString(grpc_cpp_polaris::kControlPlaneAddressArg, "127.0.0.1:8091");
// It overrides ClientOptions::control_plane_address.
inline constexpr char kControlPlaneAddressArg[] = "grpc_cpp_polaris.control_plane_address";

// Name of the load-balancing policy, for service configs:
//   {"loadBalancingConfig": [{"polaris": {}}]}
inline constexpr char kPolarisLbPolicyName[] = "polaris";

struct ClientOptions {
  // "host:port" of the Polaris gRPC naming API.
  std::string control_plane_address = "127.0.0.1:8091";
  // Largest Discover answer accepted for one service (256 MiB: a
  // 100,000-instance service with ~2.5 KB of metadata each). A larger answer
  // fails only that service, naming this limit; other services keep updating.
  size_t max_discover_answer_bytes = size_t{256} << 20;
  // Who this process is, as routing rules see it: its service, metadata,
  // location (fields left empty are learned from the control plane when
  // `learn_location`) and IP.
  CallerIdentity caller;
  bool learn_location = true;
  // The routers (in order), the balancer and their options.
  GovernanceOptions governance;
};

// Sets the process-wide options used by polaris:// channels created after
// this call. Optional: without it the defaults above apply. Returns
// InvalidArgument naming the bad field.
absl::Status Init(const ClientOptions& options);

// The options currently in effect.
ClientOptions GetClientOptions();

struct ContextOptions;
// The governance context options of channels to `control_plane_address`.
ContextOptions ContextOptionsFor(const ClientOptions& options,
                                 const std::string& control_plane_address);

// True once the resolver and policy are registered with gRPC (always, when
// this library is linked in; kept so that non-Bazel static links pull it in).
bool PluginsRegistered();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_POLARIS_CLIENT_H_
