#include "client/picker_benchmark_harness.h"

#include <atomic>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/variant.h"
#include "client/internal/weighted_picker.h"

namespace grpc_cpp_polaris {
namespace {

using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::SubchannelInterface;

class FakeSubchannel final : public SubchannelInterface {
 public:
  explicit FakeSubchannel(int index) : index_(index) {}
  int index() const { return index_; }
  void WatchConnectivityState(std::unique_ptr<ConnectivityStateWatcherInterface>) override {}
  void CancelConnectivityStateWatch(ConnectivityStateWatcherInterface*) override {}
  void RequestConnection() override {}
  void ResetBackoff() override {}
  void AddDataWatcher(std::unique_ptr<DataWatcherInterface>) override {}

 private:
  const int index_;
};

// What gRPC's round_robin picker does per pick: an atomic rotation.
class RoundRobinPicker final : public LoadBalancingPolicy::SubchannelPicker {
 public:
  explicit RoundRobinPicker(std::vector<RefCountedPtr<SubchannelInterface>> subchannels)
      : subchannels_(std::move(subchannels)) {}
  LoadBalancingPolicy::PickResult Pick(LoadBalancingPolicy::PickArgs) override {
    const size_t index = next_.fetch_add(1, std::memory_order_relaxed) % subchannels_.size();
    return LoadBalancingPolicy::PickResult::Complete(subchannels_[index]);
  }

 private:
  const std::vector<RefCountedPtr<SubchannelInterface>> subchannels_;
  std::atomic<size_t> next_{0};
};

class NoMetadata final : public LoadBalancingPolicy::MetadataInterface {
 public:
  void Add(absl::string_view, absl::string_view) override {}
  std::vector<std::pair<std::string, std::string>> TestOnlyCopyToVector() override { return {}; }
  absl::optional<absl::string_view> Lookup(absl::string_view, std::string*) const override {
    return absl::nullopt;
  }
};

class NoCallState final : public LoadBalancingPolicy::CallState {
 public:
  void* Alloc(size_t) override { return nullptr; }
};

}  // namespace

struct PickerBenchmarkHarness::Impl {
  std::unique_ptr<LoadBalancingPolicy::SubchannelPicker> picker;
  NoMetadata metadata;
  NoCallState call_state;
};

PickerBenchmarkHarness::PickerBenchmarkHarness(Kind kind, int instances)
    : impl_(std::make_unique<Impl>()) {
  std::vector<RefCountedPtr<SubchannelInterface>> subchannels;
  std::vector<uint32_t> weights;
  for (int i = 0; i < instances; ++i) {
    subchannels.push_back(grpc_core::MakeRefCounted<FakeSubchannel>(i));
    weights.push_back(1 + (i * 37) % 100);
  }
  if (kind == Kind::kPolaris) {
    impl_->picker = std::make_unique<internal::WeightedPicker>(std::move(subchannels), weights);
  } else {
    impl_->picker = std::make_unique<RoundRobinPicker>(std::move(subchannels));
  }
}

PickerBenchmarkHarness::~PickerBenchmarkHarness() = default;

int PickerBenchmarkHarness::Pick() {
  LoadBalancingPolicy::PickArgs args;
  args.path = "/grpc_cpp_polaris.echo.EchoServer/Echo";
  args.initial_metadata = &impl_->metadata;
  args.call_state = &impl_->call_state;
  LoadBalancingPolicy::PickResult result = impl_->picker->Pick(args);
  auto* complete = absl::get_if<LoadBalancingPolicy::PickResult::Complete>(&result.result);
  return complete == nullptr
             ? -1
             : static_cast<const FakeSubchannel*>(complete->subchannel.get())->index();
}

}  // namespace grpc_cpp_polaris
