// The instance circuit breakers of one service in this process, shared by
// every channel to the service with the same settings
// (ServiceBreakersRegistry), and what a call reports into them.
//
// Control plane: a policy Syncs the service's addresses to get each
// instance's InstanceHealth, reads their states when it builds a picker,
// and listens for transitions (called on the scheduler's thread; the
// listener hops to wherever pickers are built). Data plane: a call picked
// for an instance remembers the breaker's round (or takes a half-open
// permit) and, when it ends, records its outcome (InstanceHealth::EndCall):
// atomics only, unless the outcome causes a transition (rare): that is
// published (breaker_events.h: a log line and a lock) and, for an opening,
// the end of its sleep window is scheduled.
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_SERVICE_BREAKERS_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_SERVICE_BREAKERS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sdk/breaker/breaker_events.h"
#include "sdk/breaker/circuit_breaker.h"
#include "sdk/clock.h"
#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/scheduler.h"
#include "sdk/stats/instance_stats.h"

namespace grpc_cpp_polaris {

enum class CallOutcome {
  kSuccess,
  kFailure,
  kNeither,  // e.g. cancelled by the caller: says nothing about the instance
};

// Which calls count as failures (CircuitBreakingOptions' codes and slow
// call threshold), compiled for the call path.
class FailureClassifier {
 public:
  explicit FailureClassifier(const CircuitBreakingOptions& options);
  // `latency_nanos` is read only when times_calls().
  CallOutcome Classify(absl::StatusCode code, int64_t latency_nanos) const {
    if (slow_nanos_ > 0 && latency_nanos > slow_nanos_) return CallOutcome::kFailure;
    const auto index = static_cast<uint32_t>(code);
    if (index < 32 && (failure_mask_ >> index & 1) != 0) return CallOutcome::kFailure;
    if (code == absl::StatusCode::kCancelled) return CallOutcome::kNeither;
    return CallOutcome::kSuccess;
  }
  bool times_calls() const { return slow_nanos_ > 0; }

 private:
  uint32_t failure_mask_ = 0;
  int64_t slow_nanos_ = 0;
};

// What probes an open instance (sdk/breaker/fault_detect.h builds it):
// `run(address)` blocks at most about its timeout; OK: the instance answered.
struct ActiveProbe {
  std::function<absl::Status(const std::string& address)> run;
  absl::Duration interval = absl::Seconds(10);
};

namespace breaker_internal {
struct Group;
}  // namespace breaker_internal

// One instance: its call stats and its breaker. Held by shared_ptr on the
// control plane (pickers, policies, the service's breakers) and by the
// calls in flight (StartCall .. EndCall) on the data plane.
class alignas(64) InstanceHealth : public std::enable_shared_from_this<InstanceHealth> {
 public:
  const std::string& address() const { return address_; }
  InstanceStats& stats() { return *stats_; }
  CircuitBreaker& breaker() { return breaker_; }
  const CircuitBreaker& breaker() const { return breaker_; }
  const FailureClassifier& classifier() const { return classifier_; }
  // The breakers' clock, for timing calls (FailureClassifier::times_calls).
  int64_t NowNanos() const { return clock_->NowNanos(); }

  // A call's life, from the pick to its end: StartCall keeps the instance's
  // health alive (without a reference count: the breaker counts calls in
  // flight anyway) until EndCall or AbandonCall, which may destroy it (the
  // last call after every holder let go): nothing may touch it after.
  void StartCall() { breaker_.CallStarted(); }
  // The call, let through in `round` (a half-open permit when `probe`),
  // ended with `outcome`.
  void EndCall(CallOutcome outcome, uint32_t round, bool probe) {
    if (outcome != CallOutcome::kSuccess || probe || !breaker_.QuietSuccess(round)) {
      Record(outcome, round, probe);
    }
    if (breaker_.CallEnded()) delete this;
  }
  // The call ended without an outcome (gRPC abandoned the pick): a probe's
  // permit goes back.
  void AbandonCall(uint32_t round, bool probe) {
    if (probe) breaker_.ReturnPermit(round);
    if (breaker_.CallEnded()) delete this;
  }
  // An outcome outside a call's life (a failed connection).
  void Record(CallOutcome outcome, uint32_t round, bool probe);

 private:
  friend class ServiceBreakers;
  InstanceHealth(std::string address, std::shared_ptr<InstanceStats> stats,
                 std::shared_ptr<breaker_internal::Group> group);
  ~InstanceHealth();
  // The shared_ptr deleter: retires the breaker; destroyed now, or by the
  // last call still in flight.
  static void Release(InstanceHealth* health) {
    if (health->breaker_.Retire()) delete health;
  }
  void Report(const BreakerTransition& transition);
  // While the breaker stays open in `round`: probes the instance after the
  // group's probe interval, again after each failed probe. StartProbing
  // does unless that opening's loop is alive.
  void StartProbing(uint32_t round);
  void ScheduleProbe(uint32_t round);
  // The probe loop of `round`'s opening ends (a later opening's is left be).
  void EndProbing(uint32_t round) {
    uint64_t mine = uint64_t{round} + 1;
    probing_.compare_exchange_strong(mine, 0, std::memory_order_acq_rel);
  }

  // Declared first, destroyed last: the breaker's cap lives in it.
  const std::shared_ptr<breaker_internal::Group> group_;
  // What calls read, together in the object's first cache line (the pick
  // prefetches it): the classifier, the breaker's state and its call
  // counters (which lead it).
  const FailureClassifier classifier_;
  CircuitBreaker breaker_;
  const Clock* const clock_;
  const std::shared_ptr<InstanceStats> stats_;
  const std::string address_;
  // round + 1 of the opening whose probe loop is alive (0: none), so that
  // an opening has one loop however often probing is switched on.
  std::atomic<uint64_t> probing_{0};
};

class ServiceBreakers {
 public:
  // `clock` and `scheduler` outlive the breakers and every InstanceHealth.
  // `level`: what the breakers are of (their events say so). Instance
  // breakers come from Sync, method and service ones from Resource.
  // `probe_schedulers` run active probes (which block), each instance's on
  // one of them (by address); empty: `scheduler`.
  ServiceBreakers(const ServiceKey& service, const CircuitBreakingOptions& options,
                  const Clock* clock, Scheduler* scheduler,
                  BreakerLevel level = BreakerLevel::kInstance,
                  std::vector<Scheduler*> probe_schedulers = {});
  ~ServiceBreakers();
  ServiceBreakers(const ServiceBreakers&) = delete;
  ServiceBreakers& operator=(const ServiceBreakers&) = delete;

  // The health of each of `addresses` (host:port), in the same order, made
  // on first use. Instances not listed are forgotten (calls in flight and
  // pickers keep theirs until they end). Takes a lock: for building pickers.
  std::vector<std::shared_ptr<InstanceHealth>> Sync(const std::vector<std::string>& addresses);

  // The breaker named `name` (a method's path, "" for the service), made on
  // first use and kept while the breakers live; null past kMaxResources
  // names (calls to those are not broken).
  static constexpr size_t kMaxResources = 1024;
  std::shared_ptr<InstanceHealth> Resource(const std::string& name);

  // Calls `listener` after transitions of this service's breakers (several
  // close together may be reported once), on the scheduler's thread.
  uint64_t AddListener(std::function<void()> listener);
  void RemoveListener(uint64_t id);

  // Instance breakers: while one is open, `probe` runs every
  // probe->interval; one that answers goes half-open at once (null: no
  // probing). Applies to openings from now on and to probes already
  // scheduled (a null stops them).
  void SetProbe(std::shared_ptr<const ActiveProbe> probe);

  const CircuitBreakingOptions& options() const;
  // Open instances now, and the most that may be.
  int64_t open() const;
  int64_t max_open() const;

 private:
  const std::shared_ptr<breaker_internal::Group> group_;
  std::shared_ptr<ServiceStats> stats_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<InstanceHealth>> instances_;  // by address
};

class ServiceBreakersRegistry {
 public:
  // The process's: coarse real clock, default scheduler, kProbeThreads
  // threads for active probes.
  static constexpr int kProbeThreads = 4;
  static ServiceBreakersRegistry& Global();
  ServiceBreakersRegistry(const Clock* clock, Scheduler* scheduler,
                          std::vector<Scheduler*> probe_schedulers = {})
      : clock_(clock), scheduler_(scheduler), probe_schedulers_(std::move(probe_schedulers)) {}

  // The breakers of `service` under `options` at `level`, shared with every
  // other holder in the process; options must be valid.
  std::shared_ptr<ServiceBreakers> For(const ServiceKey& service,
                                       const CircuitBreakingOptions& options,
                                       BreakerLevel level = BreakerLevel::kInstance);

 private:
  const Clock* const clock_;
  Scheduler* const scheduler_;
  const std::vector<Scheduler*> probe_schedulers_;
  std::mutex mu_;
  std::map<std::pair<ServiceKey, std::string>, std::weak_ptr<ServiceBreakers>> services_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_SERVICE_BREAKERS_H_
