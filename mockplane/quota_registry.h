// The state behind the mock rate-limit server (polaris.metric.v2): global
// quota counters per limit target (namespace, service, labels) and window
// length, shared by every connected client, so that a global limit holds
// across several servers. Windows are fixed, aligned to the clock's epoch
// (slideCount 1). Speaks in the wire messages. Thread-safe.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_QUOTA_REGISTRY_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_QUOTA_REGISTRY_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "proto/metric/v2/ratelimiter.pb.h"
#include "sdk/clock.h"

namespace grpc_cpp_polaris {
namespace mockplane {

namespace v2 = ::polaris::metric::v2;

class QuotaRegistry {
 public:
  explicit QuotaRegistry(Clock* clock) : clock_(clock) {}

  v2::RateLimitInitResponse Init(const v2::RateLimitInitRequest& request);
  v2::RateLimitBatchInitResponse BatchInit(const v2::RateLimitBatchInitRequest& request);
  // ACQUIRE: adds the reported use to each counter's current window and
  // answers what is left of it.
  v2::RateLimitReportResponse Report(const v2::RateLimitReportRequest& request);
  int64_t NowMs() const;

  // Quota used so far in the current window of a target's counter (tests).
  int64_t UsedInWindow(const std::string& name_space, const std::string& service,
                       const std::string& labels, uint32_t duration_seconds);

 private:
  struct Counter {
    std::tuple<std::string, std::string, std::string> target;  // ns, service, labels
    uint32_t duration_seconds = 1;
    int64_t max_amount = 0;
    v2::Mode mode = v2::ADAPTIVE;
    int64_t window_start_ms = 0;
    int64_t used = 0;
    std::set<std::string> clients;
  };

  // Starts a new window if the current one is over.
  void RollLocked(Counter* counter, int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t ClientKeyLocked(const std::string& client_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  std::mutex mu_;
  std::vector<Counter> counters_ ABSL_GUARDED_BY(mu_);  // counterKey = index + 1
  std::map<std::tuple<std::string, std::string, std::string, uint32_t>, uint32_t> counter_keys_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint32_t> client_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_QUOTA_REGISTRY_H_
