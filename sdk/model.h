// Plain data model of Polaris services and instances, shared by the client,
// the server and the mockplane. No gRPC, no protobuf: governance algorithms
// work on these types and are tested without a network.
#ifndef GRPC_CPP_POLARIS_SDK_MODEL_H_
#define GRPC_CPP_POLARIS_SDK_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace grpc_cpp_polaris {

inline constexpr char kDefaultNamespace[] = "default";

// Where an instance (or a caller) runs: region > zone > campus.
struct Location {
  std::string region;
  std::string zone;
  std::string campus;

  friend bool operator==(const Location& a, const Location& b) {
    return a.region == b.region && a.zone == b.zone && a.campus == b.campus;
  }
};

// "host:port", with brackets for IPv6 hosts ("[::1]:8091").
std::string JoinHostPort(const std::string& host, uint32_t port);

// Identifies a service: Polaris names are unique within a namespace.
struct ServiceKey {
  std::string service_namespace = kDefaultNamespace;
  std::string service;

  std::string ToString() const { return service_namespace + "/" + service; }
  friend bool operator<(const ServiceKey& a, const ServiceKey& b) {
    return a.service_namespace != b.service_namespace
               ? a.service_namespace < b.service_namespace
               : a.service < b.service;
  }
  friend bool operator==(const ServiceKey& a, const ServiceKey& b) {
    return a.service_namespace == b.service_namespace && a.service == b.service;
  }
};

// One instance of a service as the control plane describes it.
struct Instance {
  std::string id;
  std::string host;
  uint32_t port = 0;
  // Relative share of traffic, 0..10000 (Polaris' range); 0 takes no traffic.
  uint32_t weight = 100;
  // False once the control plane stops receiving heartbeats (3 x TTL).
  bool healthy = true;
  // An operator took the instance out of traffic without deregistering it.
  bool isolate = false;
  std::string protocol;
  std::string version;
  std::map<std::string, std::string> metadata;
  Location location;
  // When the instance was registered (the control plane's ctime; it starts
  // again when the instance registers again): what warm-up times from.
  // InfinitePast when unknown.
  absl::Time created = absl::InfinitePast();

  // "host:port", with brackets for IPv6 hosts.
  std::string Address() const;
  // Whether the instance may receive traffic at all.
  bool Routable() const { return healthy && !isolate && weight > 0; }
};

// An immutable view of one service's instances at one revision. Shared by
// const pointer so that readers never need a lock.
struct ServiceSnapshot {
  ServiceKey key;
  std::string revision;
  std::vector<Instance> instances;
};

using ServiceSnapshotPtr = std::shared_ptr<const ServiceSnapshot>;

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_MODEL_H_
