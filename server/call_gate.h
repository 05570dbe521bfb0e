// CallGate: a server's governance on the call path. The server filter
// (server/internal/governance_filter.h) asks it about every call before the
// application sees it; the gate answers from the rules of the Polaris
// service the call belongs to: access control first (PERMISSION_DENIED),
// then fault injection (an abort, or a delay), then rate limits
// (RESOURCE_EXHAUSTED by default, or a wait for queueing rules, and
// concurrency permits the call holds until it ends).
//
// The rules arrive as immutable per-service snapshots (Publish), swapped in
// whole; a call reads one snapshot, without a lock of ours.
#ifndef GRPC_CPP_POLARIS_SERVER_CALL_GATE_H_
#define GRPC_CPP_POLARIS_SERVER_CALL_GATE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sdk/access/block_allow_rules.h"
#include "sdk/fault/fault_injection.h"
#include "sdk/limiter/rate_limiter.h"
#include "sdk/model.h"
#include "sdk/rule/inbound_call.h"

namespace grpc_cpp_polaris {

// What governs the calls of one Polaris service, at one moment.
struct ServiceGovernance {
  ServiceKey key;
  std::shared_ptr<const BlockAllowRules> access;   // may be null
  std::shared_ptr<const RateLimiter> limiter;      // may be null
  // The same rules' windows for stream messages (may be null: not paced).
  std::shared_ptr<const RateLimiter> message_limiter;
  std::shared_ptr<const FaultInjectionRules> faults;  // may be null
};

// Calls the gate admitted, denied and limited since it was made.
struct GateCounters {
  uint64_t admitted = 0;
  uint64_t denied = 0;
  uint64_t limited = 0;
  uint64_t faults_injected = 0;  // aborted or delayed by FAULT_INJECTION
  uint64_t messages_paced = 0;   // stream messages held for their turn
};

class CallGate {
 public:
  CallGate();
  ~CallGate();
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  // Calls of gRPC service `grpc_service` ("package.Service") are governed by
  // the Polaris service `key`; with an empty `grpc_service`, every call no
  // other entry claims.
  void Route(const std::string& grpc_service, const ServiceKey& key);
  // Replaces the rules of `governance.key`.
  void Publish(ServiceGovernance governance);
  // The rules in force for `key` (null before the first Publish).
  std::shared_ptr<const ServiceGovernance> Current(const ServiceKey& key) const;

  // LimitDecision's fields: OK, or the refusal; a wait before the call
  // proceeds; permits the call holds until it ends.
  LimitDecision Admit(const InboundCall& call) const;

  // Whether any service has a queueing ("unirate") rule or delays calls by
  // fault injection: calls may have to wait (server/queue_interceptor.h).
  bool queueing() const { return queueing_.load(std::memory_order_relaxed); }
  // Whether any service has a QPS rule, which paces stream messages.
  bool paces() const { return paces_.load(std::memory_order_relaxed); }
  // The pacer of the messages of the stream `call` opens (null: none).
  std::unique_ptr<RateLimiter::MessagePacer> PacerFor(const InboundCall& call) const;
  void CountPaced() const { paced_.fetch_add(1, std::memory_order_relaxed); }
  // The server is stopping: calls and messages held for their turn go on
  // (within a second), and none is held from now on.
  void ReleaseHeld() { released_.store(true, std::memory_order_relaxed); }
  bool released() const { return released_.load(std::memory_order_relaxed); }

  GateCounters counters() const;
  // Concurrency permits held by calls in flight, over every service.
  int64_t permits_held() const;

 private:
  struct State;
  std::shared_ptr<const State> Load() const;
  void Store(std::shared_ptr<const State> state);

  std::mutex write_mu_;  // serialises Route and Publish
  std::shared_ptr<const State> state_;  // read and written atomically
  mutable std::atomic<uint64_t> admitted_{0}, denied_{0}, limited_{0}, faults_{0}, paced_{0};
  std::atomic<bool> queueing_{false};
  std::atomic<bool> paces_{false};
  std::atomic<bool> released_{false};
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_CALL_GATE_H_
