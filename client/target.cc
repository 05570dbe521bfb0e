#include "client/target.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace grpc_cpp_polaris {
namespace {

constexpr char kUsage[] = "expected polaris://SERVICE[?namespace=NAMESPACE]";

// Polaris service and namespace names: letters, digits and - _ . :
absl::Status CheckName(absl::string_view what, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty; ", kUsage));
  if (name.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", name, "' is longer than 128"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", name, "' has character '", std::string(1, c),
                       "'; allowed are letters, digits and - _ . :"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServiceKey> ParsePolarisTarget(const TargetUri& uri) {
  absl::string_view path = absl::StripPrefix(uri.path, "/");
  if (!uri.authority.empty() && !path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("target names both authority '", uri.authority, "' and path '", uri.path,
                     "'; ", kUsage));
  }
  ServiceKey key;
  key.service = uri.authority.empty() ? std::string(path) : uri.authority;
  absl::Status status = CheckName("service name", key.service);
  if (!status.ok()) return status;
  bool namespace_seen = false;
  for (const auto& param : uri.query) {
    if (param.first != "namespace") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter '", param.first, "'; ", kUsage));
    }
    if (namespace_seen) {
      return absl::InvalidArgumentError("query parameter 'namespace' is given twice");
    }
    namespace_seen = true;
    status = CheckName("namespace", param.second);
    if (!status.ok()) return status;
    key.service_namespace = param.second;
  }
  return key;
}

}  // namespace grpc_cpp_polaris
