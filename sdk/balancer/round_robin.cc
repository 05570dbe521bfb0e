#include "sdk/balancer/round_robin.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace grpc_cpp_polaris {
namespace {

constexpr uint64_t kExactTurns = 65536;

class RoundRobinBalancer final : public Balancer {
 public:
  explicit RoundRobinBalancer(std::vector<uint32_t> turns) : turns_(std::move(turns)) {}

  size_t Pick(const BalanceInput& /*input*/) const override {
    const uint64_t sequence = next_.fetch_add(1, std::memory_order_relaxed);
    return turns_[sequence % turns_.size()];
  }

 private:
  const std::vector<uint32_t> turns_;  // target index per turn of the cycle
  mutable std::atomic<uint64_t> next_{0};
};

class RoundRobinBalancerFactory final : public BalancerFactory {
 public:
  absl::string_view name() const override { return "round_robin"; }

  std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const override {
    uint64_t total = 0;
    for (const BalanceTarget& target : targets) total += target.weight;
    // Turns per target: the weights themselves when they fit, else scaled to
    // about kExactTurns (at least one each).
    std::vector<uint64_t> counts(targets.size());
    for (size_t i = 0; i < targets.size(); ++i) {
      counts[i] = total <= kExactTurns
                      ? targets[i].weight
                      : std::max<uint64_t>(1, (uint64_t{targets[i].weight} * kExactTurns +
                                               total / 2) / total);
    }
    struct Turn {
      double position;
      uint32_t index;
    };
    std::vector<Turn> turns;
    uint64_t cycle = 0;
    for (uint64_t count : counts) cycle += count;
    turns.reserve(cycle);
    constexpr double kGolden = 0.6180339887498949;
    for (size_t i = 0; i < targets.size(); ++i) {
      double integral;
      const double phase = std::modf(static_cast<double>(i) * kGolden, &integral);
      for (uint64_t k = 0; k < counts[i]; ++k) {
        turns.push_back(Turn{(static_cast<double>(k) + phase) / static_cast<double>(counts[i]),
                             static_cast<uint32_t>(i)});
      }
    }
    std::sort(turns.begin(), turns.end(), [](const Turn& a, const Turn& b) {
      return a.position != b.position ? a.position < b.position : a.index < b.index;
    });
    std::vector<uint32_t> order;
    order.reserve(turns.size());
    for (const Turn& turn : turns) order.push_back(turn.index);
    return std::make_unique<RoundRobinBalancer>(std::move(order));
  }
};

}  // namespace

std::unique_ptr<BalancerFactory> MakeRoundRobinBalancerFactory() {
  return std::make_unique<RoundRobinBalancerFactory>();
}

}  // namespace grpc_cpp_polaris
