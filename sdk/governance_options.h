// Options of the governance layer: who this process is (the caller's
// identity, which rules match on), which routers run and how. Filled from
// code now; polaris.yaml will fill the same structs. Plain data, with
// Validate() naming the first bad field.
#ifndef GRPC_CPP_POLARIS_SDK_GOVERNANCE_OPTIONS_H_
#define GRPC_CPP_POLARIS_SDK_GOVERNANCE_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sdk/breaker/circuit_breaker.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

class ParsedRules;  // sdk/service_view.h

// The calling process, as routing rules see it.
struct CallerIdentity {
  // The caller's own service; empty `service` when it is not a Polaris
  // service (then only rules whose source is "*" match it).
  ServiceKey service{kDefaultNamespace, ""};
  // The caller's metadata (v1 source metadata and CALLER_METADATA match it).
  std::map<std::string, std::string> metadata;
  // Where the caller runs. Fields left empty are learned from the control
  // plane (ReportClient) when the context starts.
  Location location;
  // The caller's IP, for CALLER_IP arguments; empty: the local address this
  // host uses to reach the control plane.
  std::string ip;

  // Learned, never set: the caller service's own rules (e.g. its outbound
  // routes), by parser name as in ServiceView::rules. The context watches
  // them when `service` is set.
  std::map<std::string, std::shared_ptr<const ParsedRules>, std::less<>> rules;
};

// Location levels, narrowest first.
enum class LocationLevel { kCampus, kZone, kRegion, kAll };

struct RuleRouterOptions {
  // What a call gets when the service has routing rules but none matches
  // it: every instance (upstream's default), or an error.
  enum class Failover { kAll, kNone };
  Failover failover = Failover::kAll;
};

struct NearbyRouterOptions {
  // Route by location for every service even without a nearby rule from the
  // control plane (a NearbyPolicy rule enables it for its service anyway).
  bool enabled = false;
  // Prefer instances in the caller's zone...
  LocationLevel match_level = LocationLevel::kZone;
  // ...and degrade at most to this level (kAll: anywhere).
  LocationLevel max_match_level = LocationLevel::kAll;
  // A level is given up for the next wider one when this percentage or more
  // of its instances is unavailable; 100 means only when none is available.
  uint32_t unhealthy_percent_to_degrade = 100;
};

struct MetadataRouterOptions {
  // When no instance carries all the call's destination metadata:
  //   kNone: the call fails (NOT_FOUND naming the metadata);
  //   kAll: every instance;
  //   kNotKey: the instances that lack the requested keys;
  //   kCustom: the instances that carry `failover_metadata`.
  enum class Failover { kNone, kAll, kNotKey, kCustom };
  Failover failover = Failover::kNone;
  std::map<std::string, std::string> failover_metadata;
};

struct LaneRouterOptions {
  // Which instances a call outside any lane goes to: those without the lane
  // label (kOnlyUntagged), or all but those of an enabled lane
  // (kExcludeEnabledLanes).
  enum class Baseline { kOnlyUntagged, kExcludeEnabledLanes };
  Baseline baseline = Baseline::kOnlyUntagged;
};

// Circuit breaking of instances: an instance whose calls keep failing is
// taken out of traffic (open), probed back after a sleep window
// (half-open: `instance.half_open_probes` calls let through) and closed when
// they all succeed. On by default, with these settings, when the control
// plane has no CIRCUIT_BREAKER rule for the service. Breaker state is per
// process and service: every channel to the service (with the same
// settings) shares it.
// Active probing of open instances (sdk/breaker/fault_detect.h): while an
// instance's breaker is open, it is probed every `interval`; one that
// answers goes half-open at once instead of waiting out its sleep window
// (its probe calls then decide). Off by default; a FAULT_DETECTOR rule of
// the service sets it (with the INSTANCE rule's faultDetectConfig.enable,
// or with `enabled` here), its fields over these.
struct ActiveProbeOptions {
  bool enabled = false;
  // The prober, by registered name: "grpc" (grpc.health.v1 Check, SERVING
  // answers) or "tcp" (connect; with `send`, write it and expect a reply
  // starting with one of `receive`), or one registered by the application.
  std::string protocol = "grpc";
  absl::Duration interval = absl::Seconds(10);
  absl::Duration timeout = absl::Seconds(1);
  // 0: the instance's own port.
  uint32_t port = 0;
  // "grpc": the health service name asked about ("": the whole server).
  std::string service;
  // "tcp": bytes to send ("0x"-prefixed: hex), and the replies that pass.
  std::string send;
  std::vector<std::string> receive;

  // InvalidArgument naming the first bad field, prefixed with `prefix`.
  absl::Status Validate(absl::string_view prefix = "ActiveProbeOptions.") const;
};

struct CircuitBreakingOptions {
  bool enabled = true;
  // When an instance's breaker opens, how long it sleeps, how it closes.
  BreakerOptions instance;
  // The gRPC status codes a call's failure is counted for. OK cannot be one
  // of them: a success never counts as a failure. CANCELLED (the caller
  // gave up) counts for nothing unless listed.
  std::vector<absl::StatusCode> failure_codes = {
      absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
      absl::StatusCode::kInternal, absl::StatusCode::kUnknown, absl::StatusCode::kDataLoss};
  // Calls slower than this count as failures whatever their status (zero:
  // latency does not count). Timed with a coarse clock (a few ms).
  absl::Duration slow_call = absl::ZeroDuration();
  // At most this share of a service's instances is open at once (rounded
  // down, but at least one instance; 0: none ever opens).
  uint32_t max_open_percent = 50;
  // Probing open instances.
  ActiveProbeOptions active_probe;

  // InvalidArgument naming the first bad field, prefixed with `prefix`.
  absl::Status Validate(absl::string_view prefix = "CircuitBreakingOptions.") const;
  // Equal for equal options (a registry key).
  std::string Key() const;
};

// Warm-up (sdk/lossless/warmup.h): a newly registered instance's weight
// ramps up over `window`. A service's LOSSLESS rule with warm-up enabled
// sets it for the instances it covers (whatever `enabled` says here);
// these options apply to services without one when `enabled`.
struct WarmupOptions {
  bool enabled = false;
  absl::Duration window = absl::Seconds(120);
  // The share of its weight an instance of age a takes:
  // (a / window)^curvature (1: linear; 2: slow, then fast).
  double curvature = 2;
  // No warm-up at all while overload_threshold_percent % or more of the
  // service's instances are warming.
  bool overload_protection = false;
  uint32_t overload_threshold_percent = 50;

  // InvalidArgument naming the first bad field, prefixed with `prefix`.
  absl::Status Validate(absl::string_view prefix = "WarmupOptions.") const;
  std::string Key() const;
};

// Health checking of instances by polaris:// channels: each subchannel
// watches the instance's grpc.health.v1 service, and an instance that says
// NOT_SERVING (a server going offline gracefully) gets no new call, even
// before the control plane drops it. Instances without a health service
// count as serving.
struct HealthCheckOptions {
  bool enabled = true;
  // The health service name asked about; "" is the whole server.
  std::string service;
};

struct GovernanceOptions {
  // The routers, by registered name, in the order they run. The final filter
  // (unavailable, isolated and weight-0 instances out) always runs last.
  std::vector<std::string> routers = {"lane", "rule", "metadata", "nearby"};
  // When the filter would leave no instance, use those the routers chose
  // anyway (upstream's recover-all).
  bool recover_all = true;
  // The balancer, by registered name: "weighted_random", "round_robin",
  // "ring_hash" or "maglev" (built in), or one registered by the
  // application. A service config's {"polaris": {"balancer": ...}} sets it
  // for one channel.
  std::string balancer = "weighted_random";
  // For hash balancers: the call header whose value is the call's hash key
  // when the call has none of its own (SetHashKey). Empty: only SetHashKey.
  // Calls with neither spread at random.
  std::string hash_key_header;
  RuleRouterOptions rule;
  NearbyRouterOptions nearby;
  MetadataRouterOptions metadata;
  LaneRouterOptions lane;
  CircuitBreakingOptions circuit_breaking;
  WarmupOptions warmup;
  HealthCheckOptions health_check;

  // InvalidArgument naming the first bad field ("GovernanceOptions.nearby.
  // max_match_level ..."). Router and balancer names are checked against
  // the registries when a context is created.
  absl::Status Validate() const;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_GOVERNANCE_OPTIONS_H_
