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

  // The alias table: column c is chosen with probability 1/n; then `index`
  // when the random fraction is below `keep_below`, else `alias`. Exposed
  // for pick paths that keep their own payload per column (e.g. the
  // subchannels themselves, saving one indirection per pick).
  struct Column {
    uint64_t keep_below;  // fraction of 2^64 for which the column itself wins
    uint32_t index;
    uint32_t alias;
  };
  const std::vector<Column>& columns() const { return columns_; }

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
  std::vector<Column> columns_;
  uint64_t total_ = 0;
};

// The "weighted_random" balancer (the default): a WeightedRandomSelector
// over the targets' weights, driven by BalanceInput::random. It exposes its
// selector (Balancer::weighted_selector) so pick paths can inline it.
std::unique_ptr<BalancerFactory> MakeWeightedRandomBalancerFactory();

// A fresh non-zero seed for FastRandom's per-thread state.
uint64_t FastRandomSeed();

// A fast per-thread pseudo-random generator (xorshift64*), seeded per thread
// on first use. Lock-free, allocation-free and inline (the pick path calls
// it on every call); not for cryptography. The state is plain zero-initialised
// thread-local data (initial-exec: no lookup function on each call).
namespace fast_random_internal {
inline thread_local uint64_t state __attribute__((tls_model("initial-exec"))) = 0;
inline uint64_t Next(uint64_t x) {
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  return x;
}
}  // namespace fast_random_internal

inline uint64_t FastRandom() {
  uint64_t x = fast_random_internal::state;
  if (__builtin_expect(x == 0, 0)) x = FastRandomSeed();
  x = fast_random_internal::Next(x);
  fast_random_internal::state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

// The value this thread's next FastRandom() will return, without drawing
// it (for prefetching what that value will select). 0 before the first draw.
inline uint64_t PeekFastRandom() {
  const uint64_t x = fast_random_internal::state;
  return x == 0 ? 0 : fast_random_internal::Next(x) * 0x2545F4914F6CDD1DULL;
}

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BALANCER_WEIGHTED_RANDOM_H_
