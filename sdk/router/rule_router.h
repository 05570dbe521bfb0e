// The "rule" router: upstream's rule routing. The routes are the callee's
// inbound routes, or, when it has none, the caller's outbound routes that
// lead to the callee (the context watches the caller service's rules). The
// first route whose source matches the call (caller service and namespace, "*"
// for any; every argument: method, headers, labels, caller metadata and IP)
// and that has instances in a destination group decides: its destination
// groups are taken by priority (lower first; the first priority with an
// available instance, else the first with any instance), and within that
// priority each group gets its weight's share of the calls. Groups with
// weight 0 or `isolate` take nothing. A call no route matches gets every
// instance, or fails, as RuleRouterOptions::failover says.
#ifndef GRPC_CPP_POLARIS_SDK_ROUTER_RULE_ROUTER_H_
#define GRPC_CPP_POLARIS_SDK_ROUTER_RULE_ROUTER_H_

#include <memory>

#include "sdk/router/router.h"

namespace grpc_cpp_polaris {

std::unique_ptr<RouterFactory> MakeRuleRouterFactory();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_ROUTER_RULE_ROUTER_H_
