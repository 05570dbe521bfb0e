// For balancer tests: targets over instances with distinct addresses, and
// the factory of a built-in balancer by name.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_TEST_UTIL_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/balancer/balancer.h"
#include "sdk/builtin_governance.h"

namespace grpc_cpp_polaris {
namespace testing {

// Instances 10.0.0.1:8000, 10.0.0.2:8000, ... with the given weights, and
// targets over them (`first` numbers the first instance).
class TargetSet {
 public:
  explicit TargetSet(const std::vector<uint32_t>& weights, int first = 1) {
    instances_ = std::make_unique<std::vector<Instance>>();
    instances_->reserve(weights.size());
    for (size_t i = 0; i < weights.size(); ++i) {
      Instance instance;
      instance.host = "10.0.0." + std::to_string(first + static_cast<int>(i));
      instance.port = 8000;
      instance.weight = weights[i];
      instances_->push_back(std::move(instance));
    }
    for (const Instance& instance : *instances_) {
      targets_.push_back(BalanceTarget{&instance, instance.weight});
    }
  }
  const std::vector<BalanceTarget>& targets() const { return targets_; }
  std::string address(size_t index) const { return (*instances_)[index].Address(); }

 private:
  std::unique_ptr<std::vector<Instance>> instances_;
  std::vector<BalanceTarget> targets_;
};

inline const BalancerFactory& Balancer(absl::string_view name) {
  RegisterBuiltinGovernance();
  absl::StatusOr<const BalancerFactory*> factory = BalancerRegistry::Global().Find(name);
  EXPECT_TRUE(factory.ok()) << factory.status();
  return **factory;
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_BALANCER_TEST_UTIL_H_
