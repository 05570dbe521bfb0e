// Finds the rate-limit server keeping a GLOBAL window, for the QuotaClient
// (sdk/quota_client.h): a fixed address, or an instance of the rule's
// cluster (else of the default limiter service, "Polaris/polaris.limiter",
// where polaris-limiter registers itself) found through naming.
//
// A window's server is the one polaris-go would choose (see
// sdk/limiter/limiter_choice.h), so Go and C++ instances of a service report
// a window to the same server while they see the same instance list.
#ifndef GRPC_CPP_POLARIS_SERVER_LIMITER_LOCATOR_H_
#define GRPC_CPP_POLARIS_SERVER_LIMITER_LOCATOR_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "sdk/context.h"
#include "sdk/limiter/limiter_choice.h"
#include "sdk/limiter/remote_quota.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

class LimiterLocator {
 public:
  // `address` empty: found through `context`'s naming; `fallback_service`
  // when a rule names no cluster.
  LimiterLocator(std::shared_ptr<Context> context, std::string address,
                 ServiceKey fallback_service);
  ~LimiterLocator();

  // "host:port", or empty while no instance is known. Starts watching a
  // cluster on first use. Thread-safe.
  std::string Locate(const GlobalQuotaTarget& target);

 private:
  struct Cluster {
    LimiterChoice choice;  // none until the first view
    std::unique_ptr<ServiceViewWatch> watch;
  };
  // The server of `cluster` that keeps `target` (empty: none).
  static std::string Pick(const Cluster& cluster, const GlobalQuotaTarget& target);

  const std::shared_ptr<Context> context_;
  const std::string address_;
  const ServiceKey fallback_service_;
  std::mutex mu_;
  std::map<ServiceKey, std::unique_ptr<Cluster>> clusters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_LIMITER_LOCATOR_H_
