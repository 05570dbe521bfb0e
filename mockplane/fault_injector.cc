#include "mockplane/fault_injector.h"

#include <utility>

namespace grpc_cpp_polaris {
namespace mockplane {

void FaultInjector::FailNext(const std::string& method, int count, absl::Status status) {
  if (status.ok()) status = absl::UnavailableError("failure injected by test");
  std::lock_guard<std::mutex> lock(mu_);
  // One status each, not copies sharing one reference-counted rep: each is
  // released on whichever gRPC thread serves its request, and abseil's
  // reference counting is partly out of ThreadSanitizer's sight.
  for (int i = 0; i < count; ++i) {
    failures_[method].push_back(absl::Status(status.code(), status.message()));
  }
}

void FaultInjector::DelayNext(const std::string& method, int count, absl::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int i = 0; i < count; ++i) delays_[method].push_back(delay);
}

void FaultInjector::FreezeHeartbeats(const std::string& instance_id, bool frozen) {
  std::lock_guard<std::mutex> lock(mu_);
  if (frozen) {
    frozen_.insert(instance_id);
  } else {
    frozen_.erase(instance_id);
  }
}

void FaultInjector::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.clear();
  delays_.clear();
  frozen_.clear();
}

Fault FaultInjector::Take(const std::string& method) {
  Fault fault;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = delays_.find(method); it != delays_.end() && !it->second.empty()) {
    fault.delay = it->second.front();
    it->second.pop_front();
  }
  if (auto it = failures_.find(method); it != failures_.end() && !it->second.empty()) {
    fault.status = it->second.front();
    it->second.pop_front();
  }
  return fault;
}

bool FaultInjector::HeartbeatsFrozen(const std::string& instance_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return frozen_.count(instance_id) > 0;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
