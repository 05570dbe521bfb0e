// The connection from a process to the Polaris control plane's naming API
// (v1.PolarisGRPC): registration, heartbeats and service discovery.
//
// Discovery runs over one bidirectional Discover stream per client. The client
// re-asks for every watched service each `refresh_interval` (sending the
// revision it holds, as real Polaris clients do) and also accepts changes the
// server pushes unasked, so updates arrive promptly from servers that push and
// within one interval from servers that don't. A broken stream is re-opened
// with exponential backoff; watchers keep their last snapshot meanwhile.
#ifndef GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_
#define GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sdk/model.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace v1 {
class DiscoverResponse;
}  // namespace v1

namespace grpc_cpp_polaris {

struct ControlPlaneOptions {
  // "host:port" of the Polaris gRPC naming API (the real server's port is 8091).
  std::string address = "127.0.0.1:8091";
  // Deadline of each unary call (register, heartbeat, deregister, report).
  absl::Duration rpc_timeout = absl::Seconds(3);
  // How often watched services are re-asked on the Discover stream.
  absl::Duration refresh_interval = absl::Seconds(2);
  // Backoff between attempts to re-open a broken Discover stream.
  absl::Duration reconnect_backoff_initial = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(5);
};

// What RegisterInstance sends. The instance's id, health and isolation are
// decided by the control plane and ignored here.
struct InstanceRegistration {
  ServiceKey key;
  Instance instance;
  // Heartbeat TTL in seconds; the instance turns unhealthy after 3 x TTL
  // without a heartbeat. 0 registers without health checking.
  uint32_t ttl_seconds = 5;
  std::string service_token;
};

// Identifies a registered instance for Heartbeat and DeregisterInstance.
struct InstanceRef {
  ServiceKey key;
  std::string id;
  std::string host;
  uint32_t port = 0;
  std::string service_token;
};

// Maps a Polaris result code (v1.Code) to a status; 200000 is OK.
absl::Status StatusFromPolarisCode(uint32_t code, const std::string& info,
                                   const std::string& context);

class ControlPlaneClient {
 public:
  // Receives each new snapshot of a watched service, or an error while no
  // snapshot has been received yet (unknown service, unreachable control
  // plane). Runs on the client's stream thread; must not block for long.
  using WatchCallback = std::function<void(absl::StatusOr<ServiceSnapshotPtr>)>;
  using WatchId = uint64_t;

  explicit ControlPlaneClient(ControlPlaneOptions options);
  // Stops the stream and its threads. No callback runs once this returns.
  ~ControlPlaneClient();

  ControlPlaneClient(const ControlPlaneClient&) = delete;
  ControlPlaneClient& operator=(const ControlPlaneClient&) = delete;

  // One client per control-plane address, shared by everything in the
  // process that talks to it (e.g. all polaris:// channels).
  static std::shared_ptr<ControlPlaneClient> Shared(const std::string& address);

  const ControlPlaneOptions& options() const { return options_; }

  // Returns the instance id the control plane assigned.
  absl::StatusOr<std::string> RegisterInstance(const InstanceRegistration& registration);
  absl::Status Heartbeat(const InstanceRef& instance);
  absl::Status DeregisterInstance(const InstanceRef& instance);
  // Announces this process to the control plane; returns where it says the
  // host runs (empty when it does not know).
  absl::StatusOr<Location> ReportClient(const std::string& host);

  // Starts watching `key`. The callback gets the current snapshot at once if
  // one is known, then every change.
  WatchId Watch(const ServiceKey& key, WatchCallback callback);
  // Stops a watch. Once this returns the callback is not running and will
  // not run again (unless called from inside that callback).
  void Unwatch(WatchId id);

 private:
  struct Stub;
  struct Subscription {
    std::string revision;
    ServiceSnapshotPtr snapshot;
    std::map<WatchId, std::shared_ptr<WatchCallback>> callbacks;
    bool request_pending = true;
  };
  struct OpenStream;

  void StreamLoop();
  void WriterLoop();
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleResponse(const v1::DiscoverResponse& response);
  // Delivers `result` to the callbacks of `key`; takes dispatch_mu_.
  void Dispatch(const ServiceKey& key, const absl::StatusOr<ServiceSnapshotPtr>& result);

  const ControlPlaneOptions options_;
  std::unique_ptr<Stub> stub_;

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread locks
  // but not those of Debian's uninstrumented abseil.
  std::mutex mu_;
  std::condition_variable cv_;  // any change a thread may wait for
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::map<ServiceKey, Subscription> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::map<WatchId, ServiceKey> watch_keys_ ABSL_GUARDED_BY(mu_);
  WatchId next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  OpenStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* connecting_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_all_ ABSL_GUARDED_BY(mu_) = false;

  // Serialises callbacks so that Unwatch can wait one out.
  std::mutex dispatch_mu_;
  std::atomic<std::thread::id> dispatch_thread_{};

  // Started by the first Watch; guarded by mu_ until then.
  std::thread stream_thread_;
  std::thread writer_thread_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_
