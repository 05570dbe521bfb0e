// The gRPC status a rule's numeric code stands for. Upstream's rules carry
// HTTP statuses (circuit-breaker fallbacks, fault-injection aborts); gRPC
// applications also write gRPC codes there.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_STATUS_CODE_H_
#define GRPC_CPP_POLARIS_SDK_RULE_STATUS_CODE_H_

#include <cstdint>

#include "absl/status/status.h"

namespace grpc_cpp_polaris {

// 1..16: that gRPC code; an HTTP status: gRPC's own mapping (400 INTERNAL,
// 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED, 429, 502,
// 503 and 504 UNAVAILABLE, other statuses UNKNOWN); anything else
// (0, negative): UNAVAILABLE.
inline absl::StatusCode StatusCodeOfRule(int64_t code) {
  if (code >= 1 && code <= 16) return static_cast<absl::StatusCode>(code);
  switch (code) {
    case 400:
      return absl::StatusCode::kInternal;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return code >= 100 ? absl::StatusCode::kUnknown : absl::StatusCode::kUnavailable;
  }
}

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_STATUS_CODE_H_
