// For tests: collects what a ControlPlaneClient watch delivers.
#ifndef GRPC_CPP_POLARIS_SDK_WATCH_RECORDER_H_
#define GRPC_CPP_POLARIS_SDK_WATCH_RECORDER_H_

#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {

class WatchRecorder {
 public:
  ControlPlaneClient::WatchCallback Callback() {
    return [this](absl::StatusOr<ServiceSnapshotPtr> update) {
      std::lock_guard<std::mutex> lock(mu_);
      updates_.push_back(std::move(update));
    };
  }
  std::vector<absl::StatusOr<ServiceSnapshotPtr>> Updates() {
    std::lock_guard<std::mutex> lock(mu_);
    return updates_;
  }
  // Instances in the last update; SIZE_MAX if none yet or it is an error.
  size_t InstancesInLast() {
    std::lock_guard<std::mutex> lock(mu_);
    if (updates_.empty() || !updates_.back().ok()) return SIZE_MAX;
    return (*updates_.back())->instances.size();
  }

 private:
  std::mutex mu_;
  std::vector<absl::StatusOr<ServiceSnapshotPtr>> updates_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_WATCH_RECORDER_H_
