// The state behind the mock naming API: services, their instances, health by
// heartbeat TTL, and per-service revisions. Speaks in Polaris wire messages
// and result codes, like the real server, but holds no network state.
// Thread-safe.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_NAMING_REGISTRY_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_NAMING_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "mockplane/revision.h"
#include "proto/v1/client.pb.h"
#include "proto/v1/request.pb.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/service.pb.h"
#include "sdk/clock.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// Limits and defaults of the real Polaris server (paramcheck,
// CreateInstanceModel, the heartbeat checker).
inline constexpr uint32_t kMaxTtlSeconds = 60;
inline constexpr uint32_t kDefaultTtlSeconds = 5;
inline constexpr uint32_t kMaxWeight = 65535;
inline constexpr int kMaxMetadataEntries = 64;
inline constexpr size_t kMaxServiceNameLength = 128;
inline constexpr size_t kMaxNamespaceNameLength = 64;
inline constexpr size_t kMaxHostLength = 128;
inline constexpr size_t kMaxProtocolLength = 32;
inline constexpr size_t kMaxVersionLength = 32;
// An instance without heartbeat for this many TTLs turns unhealthy.
inline constexpr int kTtlsBeforeUnhealthy = 3;
// Heartbeats for an unknown instance answered with success before
// NotFoundResource (the real server's max404Count + 1).
inline constexpr int kUnknownHeartbeatGrace = 4;
// Unknown instances whose heartbeats are counted at most (then forgotten).
inline constexpr size_t kMaxUnknownHeartbeatRecords = 100000;

// Caps that keep the mock's memory bounded under hostile input. The real
// server has no caps on services or instances; ours are far above what a
// test needs and answer MaximumCapacityExceeded (400230). Metadata sizes are
// the real server's (InvalidMetadata, 400150).
struct NamingLimits {
  size_t max_services_per_namespace = 100000;
  size_t max_instances_per_service = 200000;
  size_t max_metadata_key_length = 128;
  size_t max_metadata_value_length = 4096;
  // Resources one Discover stream may watch (more ends the stream with
  // RESOURCE_EXHAUSTED).
  size_t max_watches_per_stream = 100000;
  // Answers waiting to be written on one Discover stream (one per resource:
  // a newer change replaces the waiting answer). At this many the stream's
  // requests are no longer read until its client reads answers again.
  size_t max_queued_answers_per_stream = 64;
};

// What the open Discover streams hold (see NamingLimits).
struct DiscoverStreamStats {
  size_t streams = 0;
  size_t queued_answers = 0;  // waiting to be written, over all streams
  size_t paused_streams = 0;  // not read until their clients read answers
};

class NamingRegistry {
 public:
  // Called after a resource changed, outside the registry's lock: (INSTANCE,
  // service) for its instances, (SERVICES, {namespace, ""}) for the list of
  // services in a namespace, (NAMESPACES, {"", ""}) for the namespaces.
  using ChangeListener = std::function<void(DiscoverType, const ServiceKey&)>;

  explicit NamingRegistry(Clock* clock, NamingLimits limits = {});

  void SetChangeListener(ChangeListener listener);

  // The v1.PolarisGRPC operations, with the real server's result codes.
  v1::Response Register(const v1::Instance& request);
  v1::Response Deregister(const v1::Instance& request);
  v1::Response Heartbeat(const v1::Instance& request);
  v1::Response ReportClient(const v1::Client& request);
  // Answers INSTANCE, SERVICES and NAMESPACES requests. Shared and immutable: full
  // instance answers are cached per revision.
  using DiscoverResponsePtr = std::shared_ptr<const v1::DiscoverResponse>;
  DiscoverResponsePtr Discover(const v1::DiscoverRequest& request);

  // Marks instances unhealthy whose heartbeats stopped 3 x TTL ago.
  void CheckHealth();

  // Admin operations for tests (what an operator does in the console).
  bool SetIsolate(const ServiceKey& key, const std::string& id, bool isolate);
  bool SetWeight(const ServiceKey& key, const std::string& id, uint32_t weight);
  void SetClientLocation(const std::string& host, const Location& location);
  std::vector<Instance> Instances(const ServiceKey& key) const;
  std::string Revision(const ServiceKey& key) const;
  // Heartbeats received for an instance since it was (last) registered.
  uint64_t HeartbeatCount(const ServiceKey& key, const std::string& id) const;

  // The id the real server derives from namespace, service, host and port.
  static std::string InstanceId(const ServiceKey& key, const std::string& host, uint32_t port);

 private:
  struct InstanceRecord {
    Instance instance;
    // The registered fields the model does not carry (priority, logic_set,
    // vpc_id, enable_health_check, health_check), served back as sent.
    v1::Instance extra;
    uint32_t ttl_seconds = 0;  // 0: no health check
    absl::Time last_heartbeat;
    uint64_t heartbeats = 0;
  };
  struct ServiceRecord {
    std::string revision;
    std::map<std::string, InstanceRecord> instances;  // by id
    // Discover answers for `revision` (all / only healthy), built on demand.
    DiscoverResponsePtr full_answer;
    DiscoverResponsePtr healthy_answer;
  };

  // An instance as served: the model, the fields it does not carry, and
  // the service it belongs to.
  static void RecordToProto(const ServiceKey& key, const InstanceRecord& record,
                            v1::Instance* proto);
  // The real server's checks of a RegisterInstance request, or nothing.
  std::optional<v1::Response> CheckNewInstance(const v1::Instance& request) const;
  static bool ValidResourceName(const std::string& name);
  // Finds the instance a Heartbeat/Deregister request names (by id, or by
  // service, namespace, host and port).
  InstanceRecord* FindLocked(const v1::Instance& request, ServiceKey* found_key,
                             ServiceRecord** found_service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies `update` to one instance and bumps the revision; false if absent.
  bool UpdateInstance(const ServiceKey& key, const std::string& id,
                      const std::function<void(Instance&)>& update);
  void BumpLocked(ServiceRecord* service) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const std::vector<ServiceKey>& changed, const std::string& new_service_namespace = "");
  DiscoverResponsePtr DiscoverServices(const v1::DiscoverRequest& request);
  DiscoverResponsePtr DiscoverNamespaces(const v1::DiscoverRequest& request);

  Clock* const clock_;
  const NamingLimits limits_;
  RevisionSource revisions_;
  mutable std::mutex mu_;
  std::map<ServiceKey, ServiceRecord> services_ ABSL_GUARDED_BY(mu_);
  // Revision of each namespace's list of services.
  std::map<std::string, std::string> namespace_revisions_ ABSL_GUARDED_BY(mu_);
  // Revision of the list of namespaces.
  std::string namespaces_revision_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Location> client_locations_ ABSL_GUARDED_BY(mu_);
  // Heartbeats received per unknown instance id (bounded).
  std::map<std::string, int> unknown_heartbeats_ ABSL_GUARDED_BY(mu_);
  std::mutex listener_mu_;
  ChangeListener listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_NAMING_REGISTRY_H_
