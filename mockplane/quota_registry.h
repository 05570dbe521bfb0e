// The state behind the mock rate-limit server (polaris.metric.v2), with the
// semantics of the real one (polarismesh/polaris-limiter): one global counter
// per (namespace, service, labels, window length), shared by every client
// that initialised it, so that a global limit holds across servers.
//
// - INIT creates a counter per total for the target's `labels`; BATCH_INIT
//   (what polaris-cpp sends) one per entry of `labels_list` x total, and
//   answers one LabeledQuotaCounter per entry under that label string, so
//   that the SDK can match its windows. Label strings are opaque.
// - Counter keys are boxed like the real server's (node id << 24 | index).
// - ACQUIRE / BATCH_ACQUIRE add `used` to the current window only when the
//   report's timestamp falls in it (why SDKs call TimeAdjust), and answer
//   what is left (negative when over). DIVIDE totals scale by client count.
// - Windows are fixed (slideCount 1), aligned to the clock's epoch.
//
// Deviation, on purpose: a report naming an unknown counter changes no
// counter (the real server charges the entries before the bad one).
// Thread-safe; speaks in the wire messages.
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

// Result codes of the real rate-limit server (polaris-limiter pkg/api/v2/code.go).
enum LimiterCode : uint32_t {
  kLimiterSuccess = 200000,
  kLimiterInvalidServiceName = 400201,
  kLimiterInvalidNamespace = 400202,
  kLimiterInvalidClientId = 400203,
  kLimiterInvalidTotalLimit = 400204,
  kLimiterInvalidDuration = 400205,
  kLimiterInvalidSlideCount = 400206,
  kLimiterInvalidMode = 400207,
  kLimiterInvalidLabels = 400208,
  kLimiterInvalidBatchInitReq = 400209,
  kLimiterInvalidUsedLimit = 400211,
  kLimiterInvalidTimestamp = 400212,
  kLimiterInvalidClientKey = 400213,
  kLimiterInvalidCounterKey = 400214,
  kLimiterExceedMaxCounter = 401101,
  kLimiterExceedMaxClient = 401102,
  kLimiterNotFoundLimiter = 404001,
};

// Caps (the real server's defaults are 16,777,215 counters and 20,000 clients).
struct QuotaLimits {
  uint32_t max_counters = 1000000;
  uint32_t max_clients = 20000;
};

class QuotaRegistry {
 public:
  explicit QuotaRegistry(Clock* clock, QuotaLimits limits = {})
      : clock_(clock), limits_(limits) {}

  v2::RateLimitInitResponse Init(const v2::RateLimitInitRequest& request);
  v2::RateLimitBatchInitResponse BatchInit(const v2::RateLimitBatchInitRequest& request);
  // ACQUIRE / BATCH_ACQUIRE: adds the reported use to each counter's current
  // window and answers what is left of it.
  v2::RateLimitReportResponse Report(const v2::RateLimitReportRequest& request);
  int64_t NowMs() const;

  // Quota used so far in the current window of a target's counter (tests).
  int64_t UsedInWindow(const std::string& name_space, const std::string& service,
                       const std::string& labels, uint32_t duration_seconds);

  // The real server's node id in counter keys (myid << 24 | index).
  static constexpr uint32_t kNodeId = 1;

 private:
  struct Counter {
    uint32_t duration_seconds = 1;
    int64_t max_amount = 0;
    v2::QuotaMode quota_mode = v2::WHOLE;
    int64_t window_start_ms = 0;
    int64_t used = 0;
    std::set<std::string> clients;
  };
  using CounterId = std::tuple<std::string, std::string, std::string, uint32_t>;

  // Validates one INIT (as polaris-limiter's CheckRateLimitInitRequest);
  // returns 0 or the code. `batch`: labels come from labels_list.
  static uint32_t CheckInit(const v2::RateLimitInitRequest& request, bool batch);
  // Finds or creates the counters of one label string; fills `out` in totals
  // order. Returns 0 or the code.
  uint32_t InitLabelsLocked(const v2::RateLimitInitRequest& request, const std::string& labels,
                            const std::string& client_id, int64_t now_ms,
                            google::protobuf::RepeatedPtrField<v2::QuotaCounter>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts a new window if the current one is over.
  static void Roll(Counter* counter, int64_t now_ms);
  static int64_t WindowStart(const Counter& counter, int64_t ms);
  static int64_t Left(const Counter& counter);
  // 0 when `client_id` may be (or is) a client, else the code.
  uint32_t ClientKeyLocked(const std::string& client_id, uint32_t* key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The counter a key names, or null and the code.
  Counter* FindLocked(uint32_t counter_key, uint32_t* code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const QuotaLimits limits_;
  std::mutex mu_;
  std::vector<Counter> counters_ ABSL_GUARDED_BY(mu_);  // index = counter index - 1
  std::map<CounterId, uint32_t> counter_keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint32_t> client_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_QUOTA_REGISTRY_H_
