#include "server/limiter_locator.h"

#include <utility>

#include <grpc/support/log.h>

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

std::string LimiterLocator::Locate(const GlobalQuotaTarget& target) {
  if (!address_.empty()) return address_;
  const ServiceKey& key = target.cluster.service.empty() ? fallback_service_ : target.cluster;
  Cluster* cluster;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = clusters_.try_emplace(key);
    if (!inserted) return Pick(*it->second, target);
    it->second = std::make_unique<Cluster>();
    cluster = it->second.get();
  }
  // First use: watch it (the callback takes mu_, so not under it).
  std::unique_ptr<ServiceViewWatch> watch =
      context_->WatchService(key, [this, cluster, key](absl::StatusOr<ServiceViewPtr> view) {
        if (!view.ok()) return;  // keep the last good list
        const std::vector<Instance>& instances = (*view)->instances->instances;
        LimiterChoice choice = LimiterChoice::Build(key.service_namespace, instances);
        if (choice.ids().empty() && !instances.empty()) {
          gpr_log(GPR_ERROR,
                  "polaris: rate-limit cluster %s has %zu instances but none speaking gRPC "
                  "that may take traffic; its GLOBAL windows keep to their local share",
                  key.ToString().c_str(), instances.size());
        }
        std::lock_guard<std::mutex> lock(mu_);
        cluster->choice = std::move(choice);
      });
  std::lock_guard<std::mutex> lock(mu_);
  cluster->watch = std::move(watch);
  return Pick(*cluster, target);
}

std::string LimiterLocator::Pick(const Cluster& cluster, const GlobalQuotaTarget& target) {
  return cluster.choice.Pick(LimiterChoice::WindowHash(target.service, target.labels));
}

}  // namespace grpc_cpp_polaris
