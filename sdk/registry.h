// A thread-safe registry of named things (router factories, balancer
// factories, rule parsers): the one implementation behind each capability's
// registry.
#ifndef GRPC_CPP_POLARIS_SDK_REGISTRY_H_
#define GRPC_CPP_POLARIS_SDK_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace grpc_cpp_polaris {

// T has `absl::string_view name() const`. `kind` names T in messages
// ("router", "balancer", ...).
template <typename T>
class NamedRegistry {
 public:
  explicit NamedRegistry(std::string kind) : kind_(std::move(kind)) {}

  // AlreadyExists if the name is taken.
  absl::Status Register(std::unique_ptr<T> item) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string name(item->name());
    if (!items_.emplace(name, std::move(item)).second) {
      return absl::AlreadyExistsError(absl::StrCat(kind_, " '", name, "' is already registered"));
    }
    return absl::OkStatus();
  }

  // NotFound naming the known names.
  absl::StatusOr<const T*> Find(absl::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(name);
    if (it != items_.end()) return it->second.get();
    std::vector<std::string> known;
    for (const auto& entry : items_) known.push_back(entry.first);
    return absl::NotFoundError(absl::StrCat("unknown ", kind_, " '", name, "' (known: ",
                                            absl::StrJoin(known, ", "), ")"));
  }

  std::vector<const T*> All() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<const T*> all;
    for (const auto& entry : items_) all.push_back(entry.second.get());
    return all;
  }

 private:
  const std::string kind_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<T>, std::less<>> items_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_REGISTRY_H_
