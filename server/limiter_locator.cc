#include "server/limiter_locator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {

LimiterLocator::LimiterLocator(std::shared_ptr<Context> context, std::string address,
                               ServiceKey fallback_service)
    : context_(std::move(context)),
      address_(std::move(address)),
      fallback_service_(std::move(fallback_service)) {}

LimiterLocator::~LimiterLocator() {
  std::map<ServiceKey, std::unique_ptr<Cluster>> clusters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    clusters.swap(clusters_);
  }
  // Outside the lock: a callback in progress takes it.
  for (auto& [key, cluster] : clusters) cluster->watch.reset();
}

uint64_t LimiterLocator::Hash(const GlobalQuotaTarget& target) {
  const std::string key = absl::StrCat(target.service.service, "#",
                                       target.service.service_namespace, "#", target.labels);
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string LimiterLocator::Locate(const GlobalQuotaTarget& target) {
  if (!address_.empty()) return address_;
  const ServiceKey& key = target.cluster.service.empty() ? fallback_service_ : target.cluster;
  Cluster* cluster;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = clusters_.try_emplace(key);
    if (!inserted) return Pick(it->second->addresses, target);
    it->second = std::make_unique<Cluster>();
    cluster = it->second.get();
  }
  // First use: watch it (the callback takes mu_, so not under it).
  std::unique_ptr<ServiceViewWatch> watch =
      context_->WatchService(key, [this, cluster](absl::StatusOr<ServiceViewPtr> view) {
        if (!view.ok()) return;  // keep the last good list
        std::vector<std::string> addresses;
        for (const Instance& instance : (*view)->instances->instances) {
          if (instance.Routable()) addresses.push_back(JoinHostPort(instance.host, instance.port));
        }
        std::sort(addresses.begin(), addresses.end());
        std::lock_guard<std::mutex> lock(mu_);
        cluster->addresses = std::move(addresses);
      });
  std::lock_guard<std::mutex> lock(mu_);
  cluster->watch = std::move(watch);
  return Pick(cluster->addresses, target);
}

std::string LimiterLocator::Pick(const std::vector<std::string>& addresses,
                                 const GlobalQuotaTarget& target) {
  if (addresses.empty()) return "";
  return addresses[Hash(target) % addresses.size()];
}

}  // namespace grpc_cpp_polaris
