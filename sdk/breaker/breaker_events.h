// What circuit breakers tell the application: a listener called on every
// transition, and counters readable at any time.
//
// Every transition is also logged, one line (gpr_log: ERROR for an
// opening, so that it shows at gRPC's default verbosity; INFO otherwise):
//   polaris: circuit breaker default/Echo instance 127.0.0.1:50051: closed -> open (10 consecutive failures; open for 30s)
#ifndef GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_EVENTS_H_
#define GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_EVENTS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/time/time.h"
#include "sdk/breaker/circuit_breaker.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

enum class BreakerLevel { kInstance, kMethod, kService };
const char* BreakerLevelName(BreakerLevel level);

struct BreakerEvent {
  ServiceKey service;
  BreakerLevel level = BreakerLevel::kInstance;
  // kInstance: the instance's host:port; kMethod: the method's path.
  std::string resource;
  BreakerState from = BreakerState::kClosed;
  BreakerState to = BreakerState::kClosed;
  std::string reason;
  absl::Time time;

  // The log line's text, without the "polaris: " prefix.
  std::string ToString() const;
};

// Calls `listener` with every transition from now on, on the breakers'
// scheduler thread (never on a call's), one at a time, in the order they
// were published (transitions of one breaker in the order they happened;
// two breakers changing at once on two threads may come either way). Returns an
// id for RemoveBreakerListener. A listener must not block for long nor add
// or remove listeners.
uint64_t AddBreakerListener(std::function<void(const BreakerEvent&)> listener);
// Once it returns, the listener is not running and will not be called.
void RemoveBreakerListener(uint64_t id);

struct BreakerCounters {
  // Transitions so far, by the state entered.
  uint64_t opened = 0;
  uint64_t half_opened = 0;
  uint64_t closed = 0;
  // Breakers open or half-open now.
  int64_t not_closed = 0;
  // Active probes of open instances (fault_detect.h), by result.
  uint64_t probes_succeeded = 0;
  uint64_t probes_failed = 0;
};
// The process's counters, over all services.
BreakerCounters GetBreakerCounters();
// The counters of one service's breakers (over its channels' settings).
BreakerCounters GetBreakerCounters(const ServiceKey& service);

namespace breaker_internal {
// Counts `event`, logs it and queues it for the listeners.
void Publish(BreakerEvent event);
// An active probe of an instance of `service` ended.
void CountProbe(const ServiceKey& service, bool succeeded);
// A breaker of `service` left in `state` went away (its settings changed or
// its instance left): no longer counted as not closed.
void Discarded(const ServiceKey& service, BreakerState state);
}  // namespace breaker_internal

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_BREAKER_BREAKER_EVENTS_H_
