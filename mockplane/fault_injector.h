// Faults a test injects into the mock control plane, consumed by its request
// handlers: fail or delay the next N requests of a method, and freeze the
// heartbeats of chosen instances. Thread-safe.
//
// Methods are named as in the Polaris protocol without their service, e.g.
// "RegisterInstance", "Heartbeat", "Discover" (each Discover request on a
// stream counts as one).
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_FAULT_INJECTOR_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_FAULT_INJECTOR_H_

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// What happens to one request: wait `delay`, then fail with `status` if it
// is not OK, else serve normally.
struct Fault {
  absl::Duration delay = absl::ZeroDuration();
  absl::Status status;
};

class FaultInjector {
 public:
  // The next `count` requests of `method` fail with `status` (not OK).
  void FailNext(const std::string& method, int count, absl::Status status);
  // The next `count` requests of `method` are answered `delay` late.
  void DelayNext(const std::string& method, int count, absl::Duration delay);
  // Heartbeats of the instance are refused with UNAVAILABLE, as if lost,
  // until unfrozen: after 3 x TTL the instance turns unhealthy.
  void FreezeHeartbeats(const std::string& instance_id, bool frozen = true);
  // Forgets every pending fault and frozen instance.
  void Clear();

  // For handlers: the fault for the next request of `method` (consumes it).
  Fault Take(const std::string& method);
  bool HeartbeatsFrozen(const std::string& instance_id) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::deque<absl::Status>> failures_;
  std::map<std::string, std::deque<absl::Duration>> delays_;
  std::set<std::string> frozen_;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_FAULT_INJECTOR_H_
