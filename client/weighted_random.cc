#include "client/weighted_random.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace grpc_cpp_polaris {

WeightedRandomSelector::WeightedRandomSelector(const std::vector<uint32_t>& weights) {
  cumulative_.reserve(weights.size());
  for (uint32_t weight : weights) {
    total_ += weight;
    cumulative_.push_back(total_);
  }
}

size_t WeightedRandomSelector::Select(uint64_t random) const {
  // Scale into [0, total) without modulo bias: the high half of random * total.
  const uint64_t point =
      static_cast<uint64_t>((static_cast<unsigned __int128>(random) * total_) >> 64);
  // The first index whose cumulative weight exceeds the point; indexes with
  // weight 0 share their predecessor's cumulative value and are skipped.
  return std::upper_bound(cumulative_.begin(), cumulative_.end(), point) - cumulative_.begin();
}

uint64_t FastRandom() {
  thread_local uint64_t state = [] {
    uint64_t seed = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    seed ^= std::hash<std::thread::id>()(std::this_thread::get_id()) * 0x9E3779B97F4A7C15ULL;
    return seed == 0 ? 0x2545F4914F6CDD1DULL : seed;
  }();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

}  // namespace grpc_cpp_polaris
