// An in-process fake Polaris control plane for hermetic tests, examples and
// benchmarks. It serves the real v1.PolarisGRPC protocol on a loopback port,
// so the production client talks to it unchanged:
//
//   auto plane = grpc_cpp_polaris::mockplane::ControlPlane::Start().value();
//   // point clients and servers at plane->address()
//
// Instances registered with a heartbeat TTL turn unhealthy 3 x TTL after
// their last heartbeat; every change bumps the service's revision and is
// pushed at once to the Discover streams that asked for that service.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sdk/clock.h"
#include "sdk/model.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace grpc_cpp_polaris {
namespace mockplane {

class NamingRegistry;
class NamingService;

struct ControlPlaneOptions {
  // Loopback by default; 0 picks a free port.
  std::string host = "127.0.0.1";
  int port = 0;
  // Time source for heartbeat expiry; a FakeClock makes TTLs testable
  // without sleeping. Not owned; must outlive the control plane.
  Clock* clock = Clock::Real();
  // How often heartbeat expiry is checked.
  absl::Duration health_check_interval = absl::Milliseconds(100);
};

class ControlPlane {
 public:
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Start(ControlPlaneOptions options = {});
  ~ControlPlane();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // "127.0.0.1:PORT": what clients and servers are pointed at.
  std::string address() const;
  int port() const { return port_; }

  // Inspection and admin operations, as an operator would use the console.
  std::vector<Instance> Instances(const ServiceKey& key) const;
  std::string Revision(const ServiceKey& key) const;
  bool SetIsolate(const ServiceKey& key, const std::string& instance_id, bool isolate);
  bool SetWeight(const ServiceKey& key, const std::string& instance_id, uint32_t weight);
  void SetClientLocation(const std::string& host, const Location& location);
  // Runs the heartbeat expiry check now (useful after advancing a FakeClock).
  void CheckHealthNow();

 private:
  explicit ControlPlane(ControlPlaneOptions options);

  const ControlPlaneOptions options_;
  std::unique_ptr<NamingRegistry> registry_;
  std::unique_ptr<NamingService> naming_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by stop_mu_
  std::thread health_thread_;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_CONTROL_PLANE_H_
