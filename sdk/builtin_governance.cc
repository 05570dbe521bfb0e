// The algorithms every process has. Adding one: its own file (with a unit
// test beside it) and one line here.
#include "sdk/builtin_governance.h"

#include <mutex>

#include "sdk/access/block_allow_rules.h"
#include "sdk/balancer/balancer.h"
#include "sdk/balancer/least_request.h"
#include "sdk/balancer/maglev.h"
#include "sdk/balancer/ring_hash.h"
#include "sdk/balancer/round_robin.h"
#include "sdk/balancer/weighted_random.h"
#include "sdk/breaker/breaker_rules.h"
#include "sdk/breaker/fault_detect.h"
#include "sdk/fault/fault_injection.h"
#include "sdk/limiter/rate_limit_rules.h"
#include "sdk/lossless/lossless_rules.h"
#include "sdk/router/lane_router.h"
#include "sdk/router/metadata_router.h"
#include "sdk/router/nearby_router.h"
#include "sdk/router/router.h"
#include "sdk/router/routing_rules.h"
#include "sdk/router/rule_router.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

void RegisterBuiltinGovernance() {
  static std::once_flag once;
  std::call_once(once, [] {
    RuleParserRegistry& parsers = RuleParserRegistry::Global();
    (void)parsers.Register(MakeRoutingRulesParser());
    (void)parsers.Register(MakeLaneRulesParser());
    (void)parsers.Register(MakeCircuitBreakerRulesParser());
    (void)parsers.Register(MakeLosslessRulesParser());
    (void)parsers.Register(MakeFaultDetectRulesParser());
    (void)parsers.Register(MakeRateLimitRulesParser());
    (void)parsers.Register(MakeBlockAllowRulesParser());
    (void)parsers.Register(MakeFaultInjectionRulesParser());

    RouterRegistry& routers = RouterRegistry::Global();
    (void)routers.Register(MakeLaneRouterFactory());
    (void)routers.Register(MakeRuleRouterFactory());
    (void)routers.Register(MakeMetadataRouterFactory());
    (void)routers.Register(MakeNearbyRouterFactory());

    BalancerRegistry& balancers = BalancerRegistry::Global();
    (void)balancers.Register(MakeWeightedRandomBalancerFactory());
    (void)balancers.Register(MakeRoundRobinBalancerFactory());
    (void)balancers.Register(MakeRingHashBalancerFactory());
    (void)balancers.Register(MakeMaglevBalancerFactory());
    (void)balancers.Register(MakeLeastRequestBalancerFactory());

    ProberRegistry& probers = ProberRegistry::Global();
    (void)probers.Register(MakeGrpcHealthProber());
    (void)probers.Register(MakeTcpProber());
  });
}

}  // namespace grpc_cpp_polaris
