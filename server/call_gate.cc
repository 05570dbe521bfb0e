#include "server/call_gate.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

// A number in [0, 100) for fault injection: a per-thread xorshift, cheap and
// good enough for shares of calls.
uint32_t RollPercent() {
  thread_local uint64_t state = [] {
    uint64_t seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
    seed ^= reinterpret_cast<uintptr_t>(&seed);
    return seed == 0 ? 0x9E3779B97F4A7C15ull : seed;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<uint32_t>(((state >> 32) * 100) >> 32);
}

}  // namespace

struct CallGate::State {
  // gRPC service name → index into `services`; "" for the rest.
  std::map<std::string, size_t, std::less<>> routes;
  std::vector<ServiceKey> keys;
  std::vector<std::shared_ptr<const ServiceGovernance>> services;

  size_t IndexOf(const ServiceKey& key) const {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return i;
    }
    return keys.size();
  }
  const ServiceGovernance* For(absl::string_view method) const {
    // "/package.Service/Method" → "package.Service".
    absl::string_view service = method;
    if (!service.empty() && service.front() == '/') service.remove_prefix(1);
    const size_t slash = service.find('/');
    if (slash != absl::string_view::npos) service = service.substr(0, slash);
    // Health checks are how clients and orchestrators see the instance:
    // never limited or denied (a Watch stream would hold a permit forever).
    if (service == "grpc.health.v1.Health") return nullptr;
    auto it = routes.find(service);
    if (it == routes.end()) it = routes.find(absl::string_view());
    if (it == routes.end()) return nullptr;
    return services[it->second].get();
  }
};

CallGate::CallGate() : state_(std::make_shared<State>()) {}
CallGate::~CallGate() = default;

std::shared_ptr<const CallGate::State> CallGate::Load() const {
  return std::atomic_load_explicit(&state_, std::memory_order_acquire);
}

void CallGate::Store(std::shared_ptr<const State> state) {
  std::atomic_store_explicit(&state_, std::move(state), std::memory_order_release);
}

void CallGate::Route(const std::string& grpc_service, const ServiceKey& key) {
  std::lock_guard<std::mutex> lock(write_mu_);
  auto next = std::make_shared<State>(*Load());
  size_t index = next->IndexOf(key);
  if (index == next->keys.size()) {
    next->keys.push_back(key);
    next->services.push_back(nullptr);
  }
  next->routes[grpc_service] = index;
  Store(std::move(next));
}

void CallGate::Publish(ServiceGovernance governance) {
  std::lock_guard<std::mutex> lock(write_mu_);
  auto next = std::make_shared<State>(*Load());
  const size_t index = next->IndexOf(governance.key);
  if (index == next->keys.size()) return;  // not routed: nothing to govern
  next->services[index] = std::make_shared<const ServiceGovernance>(std::move(governance));
  bool queueing = false;
  for (const auto& service : next->services) {
    queueing = queueing || (service != nullptr && service->limiter != nullptr &&
                            service->limiter->queueing()) ||
               (service != nullptr && service->faults != nullptr && service->faults->delays());
  }
  queueing_.store(queueing, std::memory_order_relaxed);
  bool paces = false;
  for (const auto& service : next->services) {
    paces = paces || (service != nullptr && service->message_limiter != nullptr &&
                      service->message_limiter->paces());
  }
  paces_.store(paces, std::memory_order_relaxed);
  Store(std::move(next));
}

std::shared_ptr<const ServiceGovernance> CallGate::Current(const ServiceKey& key) const {
  std::shared_ptr<const State> state = Load();
  const size_t index = state->IndexOf(key);
  return index == state->keys.size() ? nullptr : state->services[index];
}

std::unique_ptr<RateLimiter::MessagePacer> CallGate::PacerFor(const InboundCall& call) const {
  std::shared_ptr<const State> state = Load();
  const ServiceGovernance* governance = state->For(call.method());
  if (governance == nullptr || governance->message_limiter == nullptr) return nullptr;
  return governance->message_limiter->PacerFor(call);
}

LimitDecision CallGate::Admit(const InboundCall& call) const {
  std::shared_ptr<const State> state = Load();
  const ServiceGovernance* governance = state->For(call.method());
  LimitDecision decision;
  if (governance == nullptr) {
    admitted_.fetch_add(1, std::memory_order_relaxed);
    return decision;
  }
  if (governance->access != nullptr) {
    if (const AccessRule* rule = governance->access->Denies(call); rule != nullptr) {
      denied_.fetch_add(1, std::memory_order_relaxed);
      decision.refused_by = rule->DisplayName();
      decision.status = absl::PermissionDeniedError(
          absl::StrCat("polaris: denied by block/allow rule ", decision.refused_by));
      return decision;
    }
  }
  absl::Duration injected_delay;
  if (governance->faults != nullptr && !governance->faults->empty()) {
    Fault fault = governance->faults->For(call, RollPercent);
    if (fault.any()) faults_.fetch_add(1, std::memory_order_relaxed);
    if (!fault.abort.ok()) {
      decision.status = std::move(fault.abort);
      return decision;
    }
    injected_delay = fault.delay;
  }
  if (governance->limiter != nullptr) {
    decision = governance->limiter->Acquire(call);
    if (!decision.admitted()) {
      limited_.fetch_add(1, std::memory_order_relaxed);
      return decision;
    }
  }
  decision.wait += injected_delay;
  admitted_.fetch_add(1, std::memory_order_relaxed);
  return decision;
}

GateCounters CallGate::counters() const {
  return GateCounters{admitted_.load(std::memory_order_relaxed),
                      denied_.load(std::memory_order_relaxed),
                      limited_.load(std::memory_order_relaxed),
                      faults_.load(std::memory_order_relaxed),
                      paced_.load(std::memory_order_relaxed)};
}

int64_t CallGate::permits_held() const {
  std::shared_ptr<const State> state = Load();
  int64_t held = 0;
  for (const auto& service : state->services) {
    if (service != nullptr && service->limiter != nullptr) held += service->limiter->permits_held();
  }
  return held;
}

}  // namespace grpc_cpp_polaris
