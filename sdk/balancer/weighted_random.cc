#include "sdk/balancer/weighted_random.h"

#include <chrono>
#include <functional>
#include <thread>

namespace grpc_cpp_polaris {

WeightedRandomSelector::WeightedRandomSelector(const std::vector<uint32_t>& weights) {
  const size_t n = weights.size();
  for (uint32_t weight : weights) total_ += weight;
  if (total_ == 0) return;
  // Vose's alias method in exact integers: column i holds weights[i] * n in
  // units where a full column is `total_`.
  std::vector<uint64_t> scaled(n);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < n; ++i) {
    scaled[i] = static_cast<uint64_t>(weights[i]) * n;
    (scaled[i] < total_ ? small : large).push_back(static_cast<uint32_t>(i));
  }
  columns_.resize(n);
  auto fraction = [this](uint64_t part) {  // part / total_ as a fraction of 2^64
    if (part >= total_) return UINT64_MAX;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(part) << 64) / total_);
  };
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    columns_[s] = Column{fraction(scaled[s]), s, l};
    scaled[l] -= total_ - scaled[s];  // l gives the rest of column s
    if (scaled[l] < total_) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // In exact arithmetic only full columns can remain (a column left in
  // `small` would need the others to hold more than full columns).
  for (uint32_t i : large) columns_[i] = Column{UINT64_MAX, i, i};
  for (uint32_t i : small) columns_[i] = Column{UINT64_MAX, i, i};
}

namespace {

class WeightedRandomBalancer final : public Balancer {
 public:
  explicit WeightedRandomBalancer(const std::vector<uint32_t>& weights) : selector_(weights) {}
  size_t Pick(const BalanceInput& input) const override { return selector_.Select(input.random); }
  const WeightedRandomSelector* weighted_selector() const override { return &selector_; }

 private:
  const WeightedRandomSelector selector_;
};

class WeightedRandomBalancerFactory final : public BalancerFactory {
 public:
  absl::string_view name() const override { return "weighted_random"; }
  std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const override {
    std::vector<uint32_t> weights;
    weights.reserve(targets.size());
    for (const BalanceTarget& target : targets) weights.push_back(target.weight);
    return std::make_unique<WeightedRandomBalancer>(weights);
  }
};

}  // namespace

std::unique_ptr<BalancerFactory> MakeWeightedRandomBalancerFactory() {
  return std::make_unique<WeightedRandomBalancerFactory>();
}

uint64_t FastRandomSeed() {
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  seed ^= std::hash<std::thread::id>()(std::this_thread::get_id()) * 0x9E3779B97F4A7C15ULL;
  return seed == 0 ? 0x2545F4914F6CDD1DULL : seed;
}

}  // namespace grpc_cpp_polaris
