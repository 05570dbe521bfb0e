// The polaris policy's picker: an immutable snapshot of READY subchannels
// with precomputed cumulative weights. Pick() takes no lock and allocates
// nothing: one thread-local random number and one binary search. (The
// TSan annotations compile to nothing outside --config=tsan.)
// Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_WEIGHTED_PICKER_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_WEIGHTED_PICKER_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "sdk/balancer/weighted_random.h"
#include "sdk/tsan.h"
#include "src/core/lib/gprpp/ref_counted_ptr.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"

namespace grpc_cpp_polaris {
namespace internal {

class WeightedPicker final : public grpc_core::LoadBalancingPolicy::SubchannelPicker {
 public:
  // subchannels[i] is picked with probability weights[i] / sum(weights).
  WeightedPicker(std::vector<grpc_core::RefCountedPtr<grpc_core::SubchannelInterface>> subchannels,
                 const std::vector<uint32_t>& weights)
      : subchannels_(std::move(subchannels)), selector_(weights) {
    TsanRelease(this);  // published to the data plane by gRPC
  }

  grpc_core::LoadBalancingPolicy::PickResult Pick(
      grpc_core::LoadBalancingPolicy::PickArgs /*args*/) override {
    TsanAcquire(this);  // built on the control plane's thread
    return grpc_core::LoadBalancingPolicy::PickResult::Complete(
        subchannels_[selector_.Select(FastRandom())]);
  }

 private:
  const std::vector<grpc_core::RefCountedPtr<grpc_core::SubchannelInterface>> subchannels_;
  const WeightedRandomSelector selector_;
};

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_WEIGHTED_PICKER_H_
