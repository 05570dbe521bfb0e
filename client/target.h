// Parsing of polaris:// channel targets, kept apart from gRPC so that every
// malformed form is unit-tested.
//
//   polaris://SERVICE                    namespace "default"
//   polaris://SERVICE?namespace=NS
//   polaris:///SERVICE[?namespace=NS]    (empty authority, service as path)
#ifndef GRPC_CPP_POLARIS_CLIENT_TARGET_H_
#define GRPC_CPP_POLARIS_CLIENT_TARGET_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

inline constexpr char kPolarisScheme[] = "polaris";

// The parts of an already split URI ("polaris" scheme).
struct TargetUri {
  std::string authority;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

// Returns the service a target names, or InvalidArgument naming the part
// that is wrong.
absl::StatusOr<ServiceKey> ParsePolarisTarget(const TargetUri& uri);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_TARGET_H_
