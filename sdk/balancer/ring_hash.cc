#include "sdk/balancer/ring_hash.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sdk/balancer/stable_hash.h"

namespace grpc_cpp_polaris {
namespace {

struct Point {
  uint64_t hash;
  uint32_t index;
};

class RingHashBalancer final : public Balancer {
 public:
  explicit RingHashBalancer(std::vector<Point> ring) : ring_(std::move(ring)) {}

  size_t Pick(const BalanceInput& input) const override {
    auto it = std::lower_bound(ring_.begin(), ring_.end(), input.hash,
                               [](const Point& point, uint64_t hash) { return point.hash < hash; });
    return (it == ring_.end() ? ring_.front() : *it).index;
  }

 private:
  const std::vector<Point> ring_;  // by hash
};

// Points per weight 100: 320, halved for every doubling of the service past
// 3,276 instances (at least 4), so that rings stay near a million points.
uint64_t PointsPerHundred(size_t targets) {
  uint64_t points = 320;
  while (points > 4 && points * targets > (uint64_t{1} << 20)) points /= 2;
  return points;
}

class RingHashBalancerFactory final : public BalancerFactory {
 public:
  absl::string_view name() const override { return "ring_hash"; }
  bool uses_hash() const override { return true; }

  std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const override {
    const uint64_t per_hundred = PointsPerHundred(targets.size());
    std::vector<Point> ring;
    for (size_t i = 0; i < targets.size(); ++i) {
      const uint64_t points =
          std::clamp<uint64_t>((uint64_t{targets[i].weight} * per_hundred + 50) / 100, 1, 4096);
      const std::string address = PlacementKey(targets[i], i);
      for (uint64_t k = 0; k < points; ++k) {
        ring.push_back(Point{StableHash(address, k), static_cast<uint32_t>(i)});
      }
    }
    std::sort(ring.begin(), ring.end(), [](const Point& a, const Point& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
    });
    return std::make_unique<RingHashBalancer>(std::move(ring));
  }
};

}  // namespace

std::unique_ptr<BalancerFactory> MakeRingHashBalancerFactory() {
  return std::make_unique<RingHashBalancerFactory>();
}

}  // namespace grpc_cpp_polaris
