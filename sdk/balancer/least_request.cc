#include "sdk/balancer/least_request.h"

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "sdk/balancer/weighted_random.h"
#include "sdk/stats/instance_stats.h"

namespace grpc_cpp_polaris {
namespace {

class LeastRequestBalancer final : public Balancer {
 public:
  LeastRequestBalancer(const std::vector<uint32_t>& weights, std::vector<BalanceTarget> targets)
      : selector_(weights), targets_(std::move(targets)) {}

  size_t Pick(const BalanceInput& input) const override {
    const size_t first = selector_.Select(input.random);
    // The second choice: another target if a second or third draw finds one
    // (values mixed bijectively from the call's one).
    uint64_t random = input.random;
    size_t second = first;
    for (int draw = 0; draw < 2 && second == first; ++draw) {
      random *= 0x9E3779B97F4A7C15ULL;
      random ^= random >> 31;
      random *= 0xBF58476D1CE4E5B9ULL;
      random ^= random >> 29;
      second = selector_.Select(random);
    }
    const BalanceTarget& a = targets_[first];
    const BalanceTarget& b = targets_[second];
    if (first == second || a.stats == nullptr || b.stats == nullptr) return first;
    // a.in_flight / a.weight <= b.in_flight / b.weight, without division.
    const int64_t a_load = a.stats->in_flight.load(std::memory_order_relaxed);
    const int64_t b_load = b.stats->in_flight.load(std::memory_order_relaxed);
    return static_cast<__int128>(a_load) * b.weight <= static_cast<__int128>(b_load) * a.weight
               ? first
               : second;
  }

 private:
  const WeightedRandomSelector selector_;
  const std::vector<BalanceTarget> targets_;
};

class LeastRequestBalancerFactory final : public BalancerFactory {
 public:
  absl::string_view name() const override { return "least_request"; }
  bool uses_load() const override { return true; }

  std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const override {
    std::vector<uint32_t> weights;
    weights.reserve(targets.size());
    for (const BalanceTarget& target : targets) weights.push_back(target.weight);
    return std::make_unique<LeastRequestBalancer>(weights, targets);
  }
};

}  // namespace

std::unique_ptr<BalancerFactory> MakeLeastRequestBalancerFactory() {
  return std::make_unique<LeastRequestBalancerFactory>();
}

}  // namespace grpc_cpp_polaris
