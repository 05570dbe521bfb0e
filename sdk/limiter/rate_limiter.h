// RateLimiter: a server's local limits for one service, built from its
// RATE_LIMIT rules (sdk/limiter/rate_limit_rules.h) and immutable but for
// the windows' counters. A new one is built on every rule update; windows
// of rules that did not change carry over, so a push does not reset them.
//
// Acquire() is the call path: no lock and no allocation for rules with one
// window, a short lock for rules with one window per value. A concurrency
// limit hands out a Permit that gives its slot back when destroyed, so
// whatever way a call ends (completion, cancellation, error, deadline),
// destroying the decision releases it.
//
// GLOBAL QPS rules that reject are kept cluster-wide by a rate-limit server
// when RateLimiterOptions::global_sync is set (sdk/limiter/remote_quota.h:
// fixed windows on the server's clock, reported in batches). Without it,
// and for other GLOBAL rules, this instance applies its share of the amount
// (amount / instances), upstream's fallback.
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMITER_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sdk/clock.h"
#include "sdk/limiter/rate_limit_rules.h"
#include "sdk/limiter/remote_quota.h"
#include "sdk/rule/inbound_call.h"

namespace grpc_cpp_polaris {

// Calls in flight under one concurrency limit.
class ConcurrencyWindow {
 public:
  explicit ConcurrencyWindow(uint32_t max) : max_(max) {}
  bool TryEnter() {
    int64_t now = in_flight_.load(std::memory_order_relaxed);
    do {
      if (now >= max_) return false;
    } while (!in_flight_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }
  void Leave() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

 private:
  const int64_t max_;
  std::atomic<int64_t> in_flight_{0};
};

// A slot of a concurrency limit, given back on destruction.
class Permit {
 public:
  Permit() = default;
  explicit Permit(std::shared_ptr<ConcurrencyWindow> window) : window_(std::move(window)) {}
  Permit(Permit&& other) noexcept = default;
  Permit& operator=(Permit&& other) noexcept {
    Release();
    window_ = std::move(other.window_);
    return *this;
  }
  ~Permit() { Release(); }
  void Release() {
    if (window_ != nullptr) {
      window_->Leave();
      window_.reset();
    }
  }

 private:
  std::shared_ptr<ConcurrencyWindow> window_;
};

struct LimitDecision {
  // OK, or the refusal naming the rule (RateLimiterOptions::code).
  absl::Status status;
  // How long the call must wait before it proceeds ("unirate" rules).
  absl::Duration wait;
  // Held while the call runs.
  absl::InlinedVector<Permit, 1> permits;
  // The refusing rule, "name (id)" (empty when admitted).
  std::string refused_by;

  bool admitted() const { return status.ok(); }
};

struct RateLimiterOptions {
  // The status code of a refused call.
  absl::StatusCode code = absl::StatusCode::kResourceExhausted;
  // Instances of the service sharing GLOBAL amounts (at least 1).
  uint32_t instances = 1;
  // Windows a rule may keep per distinct value; beyond it, idle ones are
  // dropped, and calls with new values share the rule's own window.
  size_t max_windows_per_rule = 10000;
  // Not owned; outlives the limiter. Monotonic by default: a wall clock
  // set back would hold every window shut for as long.
  Clock* clock = Clock::SteadyCoarse();
  // The rate-limit server's sync for GLOBAL rules; null: local shares only.
  std::shared_ptr<GlobalQuotaSync> global_sync;
};

class RateLimiter {
 private:
  struct Window;

 public:
  // `previous` (may be null) lends the windows of unchanged rules.
  static std::shared_ptr<const RateLimiter> Create(std::shared_ptr<const RateLimitRules> rules,
                                                   const RateLimiter* previous,
                                                   const RateLimiterOptions& options);
  ~RateLimiter();

  // Every rule the call matches must admit it; the first that refuses
  // decides. Thread-safe.
  LimitDecision Acquire(const InboundCall& call) const;

  // Paces the messages a client sends on a stream: each counts as a call
  // of the QPS rules the stream's call matched, and one over the rate is
  // held until its turn rather than refused (a stream cannot refuse a
  // message). Thread-compatible: one per stream.
  class MessagePacer {
   public:
    // Takes the next message's turn in every window; how long to hold it
    // (at most kMaxPace).
    absl::Duration Next();
    static constexpr absl::Duration kMaxPace = absl::Minutes(1);

   private:
    friend class RateLimiter;
    std::vector<std::shared_ptr<Window>> windows_;
    Clock* clock_ = nullptr;
    std::shared_ptr<GlobalQuotaSync> sync_;
  };
  // The pacer of the stream `call` opened; null when it matches no QPS rule.
  std::unique_ptr<MessagePacer> PacerFor(const InboundCall& call) const;

  bool empty() const { return slots_.empty(); }
  // Whether a QPS rule could pace stream messages.
  bool paces() const { return paces_; }
  // Whether a rule queues calls ("unirate").
  bool queueing() const { return queueing_; }
  // Calls in flight under this limiter's concurrency limits.
  int64_t permits_held() const;
  const RateLimiterOptions& options() const { return options_; }

 private:
  struct RuleWindows;
  struct Slot {
    const RateLimitRule* rule;
    std::shared_ptr<RuleWindows> windows;
  };
  RateLimiter(std::shared_ptr<const RateLimitRules> rules, const RateLimiterOptions& options);
  // What a call took from QPS windows, given back if a later rule refuses.
  struct Taken {
    std::shared_ptr<Window> window;
    bool reserved;  // a unirate slot rather than tokens
    int64_t server_ms;  // a GLOBAL window's: when it was taken
  };
  using TakenList = absl::InlinedVector<Taken, 2>;
  bool Take(const Slot& slot, const InboundCall& call, LimitDecision& decision,
            TakenList& taken) const;
  // The window of `slot` that `call` counts in (made on first use).
  std::shared_ptr<Window> WindowFor(const Slot& slot, const InboundCall& call) const;

  const std::shared_ptr<const RateLimitRules> rules_;
  const RateLimiterOptions options_;
  std::vector<Slot> slots_;
  bool queueing_ = false;
  bool paces_ = false;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_RATE_LIMITER_H_
