// Rule fields that name a service or a namespace, as every kind of upstream
// rule writes them: empty or "*" stands for any.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_WILDCARD_H_
#define GRPC_CPP_POLARIS_SDK_RULE_WILDCARD_H_

#include "absl/strings/string_view.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

inline bool IsWildcard(absl::string_view value) { return value.empty() || value == "*"; }

// Whether a rule's field (`rule`, possibly a wildcard) matches `actual`.
inline bool WildcardMatches(absl::string_view rule, absl::string_view actual) {
  return IsWildcard(rule) || rule == actual;
}

// Whether a rule's service and namespace (each possibly a wildcard) name
// `key`.
inline bool NamesService(absl::string_view service, absl::string_view service_namespace,
                         const ServiceKey& key) {
  return WildcardMatches(service, key.service) &&
         WildcardMatches(service_namespace, key.service_namespace);
}

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_WILDCARD_H_
