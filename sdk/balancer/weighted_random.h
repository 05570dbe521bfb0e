// Weighted random selection in constant time (Vose's alias method),
// precomputed once per instance set: each selection is one 128-bit multiply
// and one table read, with no allocation and no lock, whether there are 3 or
// 100,000 instances.
#ifndef GRPC_CPP_POLARIS_SDK_BALANCER_WEIGHTED_RANDOM_H_
#define GRPC_CPP_POLARIS_SDK_BALANCER_WEIGHTED_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "sdk/balancer/balancer.h"

namespace grpc_cpp_polaris {

class WeightedRandomSelector {
 public:
  // weights[i] is the share of index i; 0 means never selected.
  explicit WeightedRandomSelector(const std::vector<uint32_t>& weights);

  // True when no index can be selected (no weights, or all 0).
  bool empty() const { return total_ == 0; }
  uint64_t total_weight() const { return total_; }

  // Maps a uniformly distributed 64-bit value to an index, each index with
  // probability weight / total (to within 2^-64). Requires !empty().
  size_t Select(uint64_t random) const {
    // The high half of random * n picks a column uniformly; the low half is
    // a fresh uniform fraction that decides between the column and its alias.
    const unsigned __int128 product = static_cast<unsigned __int128>(random) * columns_.size();
    const Column& column = columns_[static_cast<size_t>(product >> 64)];
    return static_cast<uint64_t>(product) < column.keep_below ? column.index : column.alias;
  }

 private:
  struct Column {
    uint64_t keep_below;  // fraction of 2^64 for which the column itself wins
    uint32_t index;
    uint32_t alias;
  };
  std::vector<Column> columns_;
  uint64_t total_ = 0;
};

// The "weighted_random" balancer (the default): a WeightedRandomSelector
// over the targets' weights, driven by BalanceInput::random.
std::unique_ptr<BalancerFactory> MakeWeightedRandomBalancerFactory();

// A fast per-thread pseudo-random generator (xorshift64*), seeded per thread.
// Lock-free and allocation-free; not for cryptography.
uint64_t FastRandom();

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_WEIGHTED_RANDOM_H_
