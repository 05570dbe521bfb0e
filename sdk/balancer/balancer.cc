#include "sdk/balancer/balancer.h"

#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace grpc_cpp_polaris {

BalancerRegistry& BalancerRegistry::Global() {
  static BalancerRegistry* const registry = new BalancerRegistry();
  return *registry;
}

absl::Status BalancerRegistry::Register(std::unique_ptr<BalancerFactory> factory) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name(factory->name());
  if (!factories_.emplace(name, std::move(factory)).second) {
    return absl::AlreadyExistsError(absl::StrCat("balancer '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

absl::StatusOr<const BalancerFactory*> BalancerRegistry::Find(absl::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = factories_.find(name);
  if (it == factories_.end()) {
    std::vector<std::string> known;
    for (const auto& entry : factories_) known.push_back(entry.first);
    return absl::NotFoundError(absl::StrCat("unknown balancer '", name, "' (known: ",
                                            absl::StrJoin(known, ", "), ")"));
  }
  return it->second.get();
}

}  // namespace grpc_cpp_polaris
