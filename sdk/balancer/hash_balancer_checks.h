// Checks shared by the hash balancers' tests (ring_hash, maglev).
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_HASH_BALANCER_CHECKS_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_HASH_BALANCER_CHECKS_H_

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sdk/balancer/balancer_test_util.h"
#include "sdk/balancer/stable_hash.h"

namespace grpc_cpp_polaris {
namespace testing {

inline uint64_t KeyHash(int key) { return StableHash("user-" + std::to_string(key)); }

// Every key picks the same instance each time, and from a second balancer
// built from the same instances (another client).
inline void CheckKeysStay(absl::string_view balancer) {
  const TargetSet set({100, 100, 100, 100, 100});
  auto first = Balancer(balancer).Build(set.targets());
  auto second = Balancer(balancer).Build(set.targets());
  for (int key = 0; key < 1000; ++key) {
    const size_t picked = first->Pick(BalanceInput{0, KeyHash(key)});
    for (int again = 0; again < 3; ++again) {
      ASSERT_EQ(first->Pick(BalanceInput{12345, KeyHash(key)}), picked);
    }
    ASSERT_EQ(second->Pick(BalanceInput{0, KeyHash(key)}), picked);
  }
}

// Shares of 100,000 keys over weights 1:1:2:4, each within `tolerance`
// (relative) of its weight's share.
inline void CheckLoadFollowsWeights(absl::string_view balancer, double tolerance) {
  const std::vector<uint32_t> weights = {100, 100, 200, 400};
  const TargetSet set(weights);
  auto built = Balancer(balancer).Build(set.targets());
  std::map<size_t, int> counts;
  constexpr int kKeys = 100000;
  for (int key = 0; key < kKeys; ++key) ++counts[built->Pick(BalanceInput{0, KeyHash(key)})];
  for (size_t i = 0; i < weights.size(); ++i) {
    const double expected = kKeys * weights[i] / 800.0;
    EXPECT_NEAR(counts[i], expected, expected * tolerance) << set.address(i);
  }
}

struct Remap {
  double moved = 0;            // share of keys on another instance after
  double moved_elsewhere = 0;  // share moved to an instance other than the new one
};

// Keys' instances before and after one instance joins `n` equal ones.
inline Remap AddOneInstance(absl::string_view balancer, int n) {
  const TargetSet before(std::vector<uint32_t>(n, 100));
  const TargetSet after(std::vector<uint32_t>(n + 1, 100));  // same n first, one more
  auto old_balancer = Balancer(balancer).Build(before.targets());
  auto new_balancer = Balancer(balancer).Build(after.targets());
  constexpr int kKeys = 20000;
  int moved = 0, elsewhere = 0;
  for (int key = 0; key < kKeys; ++key) {
    const size_t was = old_balancer->Pick(BalanceInput{0, KeyHash(key)});
    const size_t is = new_balancer->Pick(BalanceInput{0, KeyHash(key)});
    if (before.address(was) != after.address(is)) {
      ++moved;
      if (is != static_cast<size_t>(n)) ++elsewhere;
    }
  }
  return Remap{static_cast<double>(moved) / kKeys, static_cast<double>(elsewhere) / kKeys};
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_HASH_BALANCER_CHECKS_H_
