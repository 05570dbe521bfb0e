#include "sdk/balancer/maglev.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sdk/balancer/stable_hash.h"

namespace grpc_cpp_polaris {
namespace {

constexpr uint32_t kEmpty = UINT32_MAX;

class MaglevBalancer final : public Balancer {
 public:
  explicit MaglevBalancer(std::vector<uint32_t> table) : table_(std::move(table)) {}

  size_t Pick(const BalanceInput& input) const override {
    return table_[input.hash % table_.size()];
  }

 private:
  const std::vector<uint32_t> table_;
};

uint64_t TableSize(size_t targets) {
  static constexpr uint64_t kPrimes[] = {65537, 131071, 262147, 524287, 1048573, 2097143, 4194301};
  for (uint64_t prime : kPrimes) {
    if (prime >= 100 * uint64_t{targets}) return prime;
  }
  return kPrimes[sizeof(kPrimes) / sizeof(kPrimes[0]) - 1];
}

class MaglevBalancerFactory final : public BalancerFactory {
 public:
  absl::string_view name() const override { return "maglev"; }
  bool uses_hash() const override { return true; }

  std::unique_ptr<Balancer> Build(const std::vector<BalanceTarget>& targets) const override {
    const uint64_t size = TableSize(targets.size());
    const size_t n = targets.size();
    // Each target's quota of slots, by weight, summing to `size`.
    uint64_t total = 0;
    for (const BalanceTarget& target : targets) total += target.weight;
    std::vector<uint64_t> quota(n);
    uint64_t assigned = 0;
    for (size_t i = 0; i < n; ++i) {
      quota[i] = static_cast<uint64_t>(
          (static_cast<unsigned __int128>(targets[i].weight) * size) / total);
      assigned += quota[i];
    }
    for (size_t i = 0; assigned < size; i = (i + 1) % n) {  // the remainder, one each
      ++quota[i];
      ++assigned;
    }
    // Permutations: slot(i, j) = (offset_i + j * skip_i) mod size.
    std::vector<uint64_t> offset(n), skip(n), next(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const std::string address = PlacementKey(targets[i], i);
      offset[i] = StableHash(address, 1) % size;
      skip[i] = StableHash(address, 2) % (size - 1) + 1;
    }
    // Turns among the targets with quota left: each claims its next free slot.
    std::vector<uint32_t> table(size, kEmpty);
    std::vector<uint32_t> active;
    for (size_t i = 0; i < n; ++i) {
      if (quota[i] > 0) active.push_back(static_cast<uint32_t>(i));
    }
    uint64_t filled = 0;
    while (filled < size && !active.empty()) {
      size_t kept = 0;
      for (uint32_t i : active) {
        // A full permutation visits every slot (size is prime), and a free
        // one exists while filled < size: this ends within `size` steps.
        uint64_t slot = (offset[i] + next[i] * skip[i]) % size;
        while (table[slot] != kEmpty) {
          ++next[i];
          slot = (offset[i] + next[i] * skip[i]) % size;
        }
        table[slot] = i;
        ++next[i];
        ++filled;
        if (--quota[i] > 0) active[kept++] = i;
        if (filled == size) break;
      }
      active.resize(kept);
    }
    return std::make_unique<MaglevBalancer>(std::move(table));
  }
};

}  // namespace

std::unique_ptr<BalancerFactory> MakeMaglevBalancerFactory() {
  return std::make_unique<MaglevBalancerFactory>();
}

}  // namespace grpc_cpp_polaris
