// Weighted random selection, precomputed once per instance set so that each
// selection is a binary search: no allocation, no lock, O(log n).
#ifndef GRPC_CPP_POLARIS_CLIENT_WEIGHTED_RANDOM_H_
#define GRPC_CPP_POLARIS_CLIENT_WEIGHTED_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace grpc_cpp_polaris {

class WeightedRandomSelector {
 public:
  // weights[i] is the share of index i; 0 means never selected.
  explicit WeightedRandomSelector(const std::vector<uint32_t>& weights);

  // True when no index can be selected (no weights, or all 0).
  bool empty() const { return total_ == 0; }
  uint64_t total_weight() const { return total_; }

  // Maps a uniformly distributed 64-bit value to an index, each index with
  // probability weight / total. Requires !empty().
  size_t Select(uint64_t random) const;

 private:
  std::vector<uint64_t> cumulative_;  // cumulative_[i] = sum of weights[0..i]
  uint64_t total_ = 0;
};

// A fast per-thread pseudo-random generator (xorshift64*), seeded per thread.
// Lock-free and allocation-free; not for cryptography.
uint64_t FastRandom();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_WEIGHTED_RANDOM_H_
