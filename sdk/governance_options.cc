#include "sdk/governance_options.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {

absl::Status GovernanceOptions::Validate() const {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("GovernanceOptions.", field, " ", why));
  };
  std::set<std::string> seen;
  for (size_t i = 0; i < routers.size(); ++i) {
    if (routers[i].empty()) return bad(absl::StrCat("routers[", i, "]"), "is empty");
    if (!seen.insert(routers[i]).second) {
      return bad(absl::StrCat("routers[", i, "]"), absl::StrCat("repeats '", routers[i], "'"));
    }
  }
  if (balancer.empty()) return bad("balancer", "is empty");
  for (char c : hash_key_header) {
    if (c >= 'A' && c <= 'Z') return bad("hash_key_header", "must be lowercase (gRPC metadata keys are)");
  }
  if (nearby.max_match_level < nearby.match_level) {
    return bad("nearby.max_match_level", "is narrower than nearby.match_level");
  }
  if (nearby.unhealthy_percent_to_degrade == 0 || nearby.unhealthy_percent_to_degrade > 100) {
    return bad("nearby.unhealthy_percent_to_degrade", "must be in 1..100");
  }
  if (metadata.failover == MetadataRouterOptions::Failover::kCustom &&
      metadata.failover_metadata.empty()) {
    return bad("metadata.failover_metadata", "is empty but metadata.failover is kCustom");
  }
  return absl::OkStatus();
}

}  // namespace grpc_cpp_polaris
