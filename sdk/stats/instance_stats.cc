#include "sdk/stats/instance_stats.h"

namespace grpc_cpp_polaris {

std::shared_ptr<InstanceStats> ServiceStats::For(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<InstanceStats>& stats = instances_[address];
  if (stats == nullptr) stats = std::make_shared<InstanceStats>();
  return stats;
}

void ServiceStats::Retain(const std::set<std::string>& addresses) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = instances_.begin(); it != instances_.end();) {
    if (addresses.count(it->first) == 0 && it->second.use_count() == 1) {
      it = instances_.erase(it);
    } else {
      ++it;
    }
  }
}

ServiceStatsRegistry& ServiceStatsRegistry::Global() {
  static ServiceStatsRegistry* registry = new ServiceStatsRegistry();
  return *registry;
}

std::shared_ptr<ServiceStats> ServiceStatsRegistry::For(const ServiceKey& service) {
  std::lock_guard<std::mutex> lock(mu_);
  // Drop entries of services nobody holds any more (bounded by live ones).
  for (auto it = services_.begin(); it != services_.end();) {
    it = it->second.expired() ? services_.erase(it) : std::next(it);
  }
  std::shared_ptr<ServiceStats> stats = services_[service].lock();
  if (stats == nullptr) {
    stats = std::make_shared<ServiceStats>();
    services_[service] = stats;
  }
  return stats;
}

}  // namespace grpc_cpp_polaris
