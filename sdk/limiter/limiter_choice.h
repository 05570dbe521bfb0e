// Which rate-limit server keeps a GLOBAL window: the choice polaris-go
// makes, so that Go and C++ instances of one service report a window to the
// same server of a cluster and share its counter.
//
// polaris-go (pkg/flow/quota) hashes the window's key
// "service#namespace#labels" with FNV-1 (64-bit) and looks it up in a
// weighted Maglev table of 65,537 slots built over the cluster's instances
// sorted by id, each placed by MurmurHash3 (x64, 128-bit, low half) of its
// id with seeds 0 (offset) and 1 (skip). Before that it keeps the instances
// that speak gRPC (in the Polaris namespace, where polaris-limiter registers
// both its gRPC and its HTTP port) and may take traffic; when none is
// healthy, every instance not isolated and of non-zero weight.
//
// Built once per instance update (a 256 KiB table); Pick is one read.
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_LIMITER_CHOICE_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_LIMITER_CHOICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

class LimiterChoice {
 public:
  static constexpr uint64_t kTableSize = 65537;

  // Over `cluster`'s instances (`cluster_namespace` is the cluster's: in
  // "Polaris" only instances whose protocol, or metadata label "protocol",
  // is "grpc" count, as polaris-go routes there; elsewhere instances
  // declaring another protocol are left out).
  static LimiterChoice Build(absl::string_view cluster_namespace,
                             const std::vector<Instance>& instances);

  // The hash polaris-go gives a window: FNV-1 64 of
  // "service#namespace" plus "#labels" when there are labels.
  static uint64_t WindowHash(const ServiceKey& service, absl::string_view labels);

  // "host:port" of the server keeping the window of `window_hash`; empty
  // when the cluster has no usable instance.
  const std::string& Pick(uint64_t window_hash) const;

  // The candidates, sorted by id (for tests and logs).
  const std::vector<std::string>& ids() const { return ids_; }
  // How many table slots each candidate holds (its share of windows).
  std::vector<uint32_t> SlotCounts() const;

 private:
  std::vector<std::string> ids_;
  std::vector<std::string> addresses_;
  std::vector<uint32_t> table_;  // candidate index per slot; empty: none
};

// FNV-1 (multiply, then xor), 64-bit, as Go's hash/fnv New64.
uint64_t Fnv1Hash64(absl::string_view data);
// MurmurHash3_x64_128's first 64 bits, as spaolacci/murmur3's
// New64WithSeed (h1 = h2 = seed).
uint64_t Murmur3Hash64(absl::string_view data, uint32_t seed);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_LIMITER_CHOICE_H_
