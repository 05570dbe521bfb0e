// Call statistics per instance, shared by every channel of the process to
// the instance's service: what load-aware balancers read (calls in flight)
// and what call outcomes accumulate into.
//
// ServiceStatsRegistry::Global().For(service) returns the service's stats
// while anything holds them; ServiceStats::For(address) the instance's. The
// counters are atomics: call paths update them without a lock.
#ifndef GRPC_CPP_POLARIS_SDK_STATS_INSTANCE_STATS_H_
#define GRPC_CPP_POLARIS_SDK_STATS_INSTANCE_STATS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "sdk/model.h"

namespace grpc_cpp_polaris {

struct InstanceStats {
  // Calls picked for the instance and not finished yet.
  std::atomic<int64_t> in_flight{0};
  // Finished calls, by outcome.
  std::atomic<uint64_t> succeeded{0};
  std::atomic<uint64_t> failed{0};
};

class ServiceStats {
 public:
  // The stats of the instance at `address` (host:port), created on first
  // use and kept while the service's stats live. Takes a lock: for building
  // pickers, not for picks.
  std::shared_ptr<InstanceStats> For(const std::string& address);
  // Forgets instances not in `addresses` that nothing else holds.
  void Retain(const std::set<std::string>& addresses);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<InstanceStats>> instances_;
};

class ServiceStatsRegistry {
 public:
  static ServiceStatsRegistry& Global();
  // The stats of `service`, shared with every other holder in the process.
  std::shared_ptr<ServiceStats> For(const ServiceKey& service);

 private:
  std::mutex mu_;
  std::map<ServiceKey, std::weak_ptr<ServiceStats>> services_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_STATS_INSTANCE_STATS_H_
