// The connection from a process to the Polaris control plane's naming API
// (v1.PolarisGRPC): registration, heartbeats and service discovery.
//
// Discovery runs over one bidirectional Discover stream per client. The client
// re-asks for every watched service each `refresh_interval` (sending the
// revision it holds, as real Polaris clients do) and also accepts changes the
// server pushes unasked, so updates arrive promptly from servers that push and
// within one interval from servers that don't. A broken stream is re-opened
// with exponential backoff; watchers keep their last snapshot meanwhile.
//
// Each answer is attributed to its service before it is decoded: an answer
// over `max_discover_answer_bytes`, or a malformed one, fails only the
// service it is about; the stream and every other service go on.
//
// Unary calls (register, heartbeat, ...) wait for the connection up to their
// deadline instead of failing fast while the channel is reconnecting, and the
// channel's reconnect backoff is capped at `reconnect_backoff_max`, so a
// control plane that comes back is used within about that long.
#ifndef GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_
#define GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/v1/response.pb.h"
#include "sdk/model.h"
#include "sdk/resource.h"

namespace grpc_cpp_polaris {

struct ControlPlaneOptions {
  // "host:port" of the Polaris gRPC naming API (the real server's port is 8091).
  std::string address = "127.0.0.1:8091";
  // Deadline of each unary call (register, heartbeat, deregister, report).
  absl::Duration rpc_timeout = absl::Seconds(3);
  // How often watched services are re-asked on the Discover stream.
  absl::Duration refresh_interval = absl::Seconds(2);
  // Backoff between attempts to reconnect (the channel) and to re-open a
  // broken Discover stream.
  absl::Duration reconnect_backoff_initial = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(1);
  // HTTP/2 keepalive pings on the control-plane connection while calls are
  // open, so that a dead L4 hop is noticed. Real Polaris servers run
  // grpc-go's default enforcement (pings at most every 5 minutes, none
  // without calls) and answer faster pings with GOAWAY too_many_pings, so
  // this must stay at 5 minutes or more against them; at least 10 s.
  absl::Duration keepalive_time = absl::Minutes(6);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Largest Discover answer accepted for one service; a larger one fails
  // that service only (its watchers keep their last snapshot). The default
  // fits a 100,000-instance service with ~2.5 KB of metadata per instance.
  size_t max_discover_answer_bytes = size_t{256} << 20;

  // InvalidArgument naming the first bad field, if any.
  absl::Status Validate() const;

  // Identifies a configuration: equal for options that behave alike, and
  // different whenever a field differs (values are length-prefixed). Used
  // to share one client (and context) per configuration.
  std::string Key() const;
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

// One received version of one (type, service) resource.
struct ResourceUpdate {
  ResourceType type = ResourceType::kInstance;
  ServiceKey key;
  std::string revision;
  // kInstance: the instances.
  ServiceSnapshotPtr instances;
  // Every other type: the answer as received, unparsed (its rule fields are
  // validated by the governance layer, see service_view.h).
  std::shared_ptr<const v1::DiscoverResponse> answer;
};
using ResourceUpdatePtr = std::shared_ptr<const ResourceUpdate>;

// Maps a Polaris result code (v1.Code) to a status; 200000 is OK.
absl::Status StatusFromPolarisCode(uint32_t code, const std::string& info,
                                   const std::string& context);

class ControlPlaneClient {
 public:
  // Receives each new snapshot of a watched service, or an error while no
  // snapshot has been received yet (unknown service, unreachable control
  // plane, an answer too large or malformed). Calls for one watch never
  // overlap and arrive in order; when updates come faster than a callback
  // returns, only the newest is delivered. Runs on the client's threads, or
  // inside Watch(), with no lock of the client held; must not block for long.
  using WatchCallback = std::function<void(absl::StatusOr<ServiceSnapshotPtr>)>;
  using WatchId = uint64_t;

  // `options` must pass Validate().
  explicit ControlPlaneClient(ControlPlaneOptions options);
  // Stops the stream and its threads; safe from any thread, including from
  // inside a watch callback (the client's own thread then finishes on its
  // own, touching nothing of this object). No callback starts once this
  // returns.
  ~ControlPlaneClient();

  ControlPlaneClient(const ControlPlaneClient&) = delete;
  ControlPlaneClient& operator=(const ControlPlaneClient&) = delete;

  // One client per control-plane configuration, shared by everything in the
  // process that talks to it (e.g. all polaris:// channels). `options` must
  // pass Validate().
  static std::shared_ptr<ControlPlaneClient> Shared(const ControlPlaneOptions& options);
  static std::shared_ptr<ControlPlaneClient> Shared(const std::string& address);

  const ControlPlaneOptions& options() const;

  // Calls `listener` (on a client thread, no lock held) each time the
  // connection to the control plane becomes ready again after it was lost,
  // e.g. after the control plane restarted. Registrations use it to register
  // again at once. Returns an id for RemoveReconnectListener.
  using ListenerId = uint64_t;
  ListenerId AddReconnectListener(std::function<void()> listener);
  // Once this returns the listener is not running and will not run again
  // (unless called from inside it).
  void RemoveReconnectListener(ListenerId id);

  // Returns the instance id the control plane assigned.
  absl::StatusOr<std::string> RegisterInstance(const InstanceRegistration& registration);
  absl::Status Heartbeat(const InstanceRef& instance);
  absl::Status DeregisterInstance(const InstanceRef& instance);
  // Announces this process to the control plane; returns where it says the
  // host runs (empty when it does not know).
  absl::StatusOr<Location> ReportClient(const std::string& host);

  // Starts watching the instances of `key`. The callback gets the current
  // snapshot at once if one is known, then every change.
  WatchId Watch(const ServiceKey& key, WatchCallback callback);
  // Starts watching one resource of `key` (instances or a kind of rule),
  // with the same promises as Watch(). A server that does not know the type
  // (older Polaris versions and LANE, ...) is reported as an error while no
  // version has been received.
  using ResourceCallback = std::function<void(absl::StatusOr<ResourceUpdatePtr>)>;
  WatchId WatchResource(ResourceType type, const ServiceKey& key, ResourceCallback callback);
  // Stops a watch. Once this returns the callback is not running and will
  // not run again (unless called from inside that callback).
  void Unwatch(WatchId id);

 private:
  class Core;
  std::shared_ptr<Core> core_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CONTROL_PLANE_CLIENT_H_
