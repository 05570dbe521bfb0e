#include "sdk/breaker/breaker_events.h"

#include <map>
#include <mutex>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "sdk/scheduler.h"

namespace grpc_cpp_polaris {
namespace {

struct Events {
  std::mutex mu;  // counters and listener ids
  BreakerCounters total;
  std::map<ServiceKey, BreakerCounters> by_service;
  uint64_t next_id = 1;
  // Held while listeners run, so that a removed listener is not running.
  std::mutex listeners_mu;
  std::map<uint64_t, std::function<void(const BreakerEvent&)>> listeners;
};

Events& TheEvents() {
  static Events* const events = new Events();
  return *events;
}

void Count(BreakerCounters& counters, const BreakerEvent& event) {
  switch (event.to) {
    case BreakerState::kOpen:
      ++counters.opened;
      break;
    case BreakerState::kHalfOpen:
      ++counters.half_opened;
      break;
    case BreakerState::kClosed:
      ++counters.closed;
      break;
  }
  if (event.from == BreakerState::kClosed) ++counters.not_closed;
  if (event.to == BreakerState::kClosed) --counters.not_closed;
}

}  // namespace

const char* BreakerLevelName(BreakerLevel level) {
  switch (level) {
    case BreakerLevel::kInstance:
      return "instance";
    case BreakerLevel::kMethod:
      return "method";
    case BreakerLevel::kService:
      return "service";
  }
  return "?";
}

std::string BreakerEvent::ToString() const {
  return absl::StrCat("circuit breaker ", service.ToString(), " ", BreakerLevelName(level),
                      resource.empty() ? "" : " ", resource, ": ", BreakerStateName(from),
                      " -> ", BreakerStateName(to), " (", reason, ")");
}

uint64_t AddBreakerListener(std::function<void(const BreakerEvent&)> listener) {
  Events& events = TheEvents();
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(events.mu);
    id = events.next_id++;
  }
  std::lock_guard<std::mutex> lock(events.listeners_mu);
  events.listeners.emplace(id, std::move(listener));
  return id;
}

void RemoveBreakerListener(uint64_t id) {
  Events& events = TheEvents();
  std::lock_guard<std::mutex> lock(events.listeners_mu);
  events.listeners.erase(id);
}

BreakerCounters GetBreakerCounters() {
  Events& events = TheEvents();
  std::lock_guard<std::mutex> lock(events.mu);
  return events.total;
}

BreakerCounters GetBreakerCounters(const ServiceKey& service) {
  Events& events = TheEvents();
  std::lock_guard<std::mutex> lock(events.mu);
  auto it = events.by_service.find(service);
  return it == events.by_service.end() ? BreakerCounters{} : it->second;
}

namespace breaker_internal {

void Publish(BreakerEvent event) {
  Events& events = TheEvents();
  {
    std::lock_guard<std::mutex> lock(events.mu);
    Count(events.total, event);
    Count(events.by_service[event.service], event);
  }
  // An ejection is worth seeing at gRPC's default verbosity; the rest at INFO.
  if (event.to == BreakerState::kOpen) {
    gpr_log(GPR_ERROR, "polaris: %s", event.ToString().c_str());
  } else {
    gpr_log(GPR_INFO, "polaris: %s", event.ToString().c_str());
  }
  Scheduler::Default()->RunSoon([event = std::move(event)] {
    Events& events = TheEvents();
    std::lock_guard<std::mutex> lock(events.listeners_mu);
    for (const auto& [id, listener] : events.listeners) listener(event);
  });
}

void CountProbe(const ServiceKey& service, bool succeeded) {
  Events& events = TheEvents();
  std::lock_guard<std::mutex> lock(events.mu);
  for (BreakerCounters* counters : {&events.total, &events.by_service[service]}) {
    ++(succeeded ? counters->probes_succeeded : counters->probes_failed);
  }
}

void Discarded(const ServiceKey& service, BreakerState state) {
  if (state == BreakerState::kClosed) return;
  Events& events = TheEvents();
  std::lock_guard<std::mutex> lock(events.mu);
  --events.total.not_closed;
  --events.by_service[service].not_closed;
}

}  // namespace breaker_internal
}  // namespace grpc_cpp_polaris
