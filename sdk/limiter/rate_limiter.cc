#include "sdk/limiter/rate_limiter.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include <grpc/support/log.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "sdk/limiter/token_bucket.h"

namespace grpc_cpp_polaris {

// One window: the buckets of a QPS rule or the slots of a CONCURRENCY rule.
struct RateLimiter::Window {
  std::unique_ptr<MultiBucket> qps;
  std::shared_ptr<ConcurrencyWindow> concurrency;
  // A GLOBAL rule's quotas, kept by the rate-limit server.
  std::shared_ptr<GlobalQuotaTarget> remote;

  // Takes from every remote quota, or from none.
  bool TakeRemote(int64_t server_ms, bool fresh) const {
    for (size_t i = 0; i < remote->quotas.size(); ++i) {
      if (!remote->quotas[i]->TryTake(server_ms, fresh)) {
        while (i-- > 0) remote->quotas[i]->GiveBack(server_ms);
        return false;
      }
    }
    return true;
  }
  void GiveBackRemote(int64_t server_ms) const {
    for (const auto& quota : remote->quotas) quota->GiveBack(server_ms);
  }

  // Whether dropping it loses nothing: full buckets, no call in flight, or
  // nothing admitted in the current remote window.
  bool Idle(int64_t now_ns, int64_t server_ms) const {
    if (concurrency != nullptr) return concurrency->in_flight() == 0;
    if (remote != nullptr) {
      for (const auto& quota : remote->quotas) {
        if (!quota->Idle(server_ms)) return false;
      }
      return true;
    }
    for (size_t i = 0; i < qps->size(); ++i) {
      if (!qps->bucket(i).Full(now_ns)) return false;
    }
    return true;
  }
};

// A rule's windows: one, or one per distinct value of its arguments.
struct RateLimiter::RuleWindows {
  RuleWindows(const RateLimitRule& rule, uint32_t divisor, GlobalQuotaSync* sync)
      : divisor(divisor), per_value(rule.WindowPerValue()), sync(sync) {
    shared = Make(rule, nullptr);
    if (rule.resource == RateLimitRule::Resource::kQps) {
      for (const RateLimitRule::Amount& amount : rule.amounts) {
        if (amount.max == 0) allows_nothing = true;
      }
    }
  }

  // This instance's share of `max`: all of it, or (GLOBAL rules) 1/divisor
  // rounded up, as upstream's fallback.
  static uint32_t Share(uint32_t max, uint32_t divisor) {
    return static_cast<uint32_t>((static_cast<uint64_t>(max) + divisor - 1) / divisor);
  }

  // Whether the rule's windows are kept by the rate-limit server.
  bool Remote(const RateLimitRule& rule) const {
    return sync != nullptr && rule.scope == RateLimitRule::Scope::kGlobal &&
           rule.resource == RateLimitRule::Resource::kQps &&
           rule.action == RateLimitRule::Action::kReject;
  }

  // A window for the values of `call` (null: for all of them).
  std::shared_ptr<Window> Make(const RateLimitRule& rule, const InboundCall* call) const {
    auto window = std::make_shared<Window>();
    if (Remote(rule)) {
      auto target = std::make_shared<GlobalQuotaTarget>();
      target->service = rule.service;
      target->cluster = rule.cluster;
      target->labels = rule.GlobalLabels(call);
      target->share_equally = rule.amount_mode == RateLimitRule::AmountMode::kShareEqually;
      for (const RateLimitRule::Amount& amount : rule.amounts) {
        // Shared equally, each instance's amount is its own.
        target->quotas.push_back(std::make_unique<RemoteQuota>(
            amount.max, amount.duration, target->share_equally ? 1 : Divisor()));
      }
      sync->Track(target);
      window->remote = std::move(target);
    } else if (rule.resource == RateLimitRule::Resource::kConcurrency) {
      window->concurrency =
          std::make_shared<ConcurrencyWindow>(Share(rule.max_concurrency, Divisor()));
    } else {
      std::vector<MultiBucket::Amount> amounts;
      for (const RateLimitRule::Amount& amount : rule.amounts) {
        amounts.push_back({Share(amount.max, Divisor()), amount.duration});
      }
      window->qps = std::make_unique<MultiBucket>(amounts);
    }
    return window;
  }

  uint32_t Divisor() const { return divisor.load(std::memory_order_relaxed); }
  // A remote rule's windows follow the instance count instead of being
  // made anew (that would forget what they admitted in the window).
  void SetDivisor(const RateLimitRule& rule, uint32_t next) {
    divisor.store(next, std::memory_order_relaxed);
    const uint32_t instances =
        rule.amount_mode == RateLimitRule::AmountMode::kShareEqually ? 1 : next;
    auto update = [instances](const Window& window) {
      if (window.remote == nullptr) return;
      for (const auto& quota : window.remote->quotas) quota->SetInstances(instances);
    };
    update(*shared);
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [key, window] : by_value) update(*window);
  }

  std::atomic<uint32_t> divisor;
  const bool per_value;
  GlobalQuotaSync* const sync;
  // A zero amount: every matching call is refused.
  bool allows_nothing = false;
  std::shared_ptr<Window> shared;
  std::mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<Window>> by_value;
  std::atomic<bool> overflow_logged{false};
};

namespace {

uint32_t DivisorOf(const RateLimitRule& rule, const RateLimiterOptions& options) {
  return rule.scope == RateLimitRule::Scope::kGlobal ? std::max<uint32_t>(1, options.instances)
                                                     : 1;
}

}  // namespace

RateLimiter::RateLimiter(std::shared_ptr<const RateLimitRules> rules,
                         const RateLimiterOptions& options)
    : rules_(std::move(rules)), options_(options) {}

RateLimiter::~RateLimiter() = default;

std::shared_ptr<const RateLimiter> RateLimiter::Create(std::shared_ptr<const RateLimitRules> rules,
                                                       const RateLimiter* previous,
                                                       const RateLimiterOptions& options) {
  if (rules == nullptr) rules = std::make_shared<RateLimitRules>();
  std::shared_ptr<RateLimiter> limiter(new RateLimiter(rules, options));
  for (const RateLimitRule& rule : limiter->rules_->rules) {
    const uint32_t divisor = DivisorOf(rule, options);
    std::shared_ptr<RuleWindows> windows;
    if (previous != nullptr) {
      for (const Slot& old : previous->slots_) {
        if (old.rule->id == rule.id && old.rule->SameLimits(rule) &&
            old.windows->sync == options.global_sync.get()) {
          if (old.windows->Divisor() == divisor) {
            windows = old.windows;
          } else if (old.windows->Remote(rule)) {
            windows = old.windows;
            windows->SetDivisor(rule, divisor);
          }
          break;
        }
      }
    }
    if (windows == nullptr) {
      windows = std::make_shared<RuleWindows>(rule, divisor, options.global_sync.get());
    }
    limiter->slots_.push_back(Slot{&rule, std::move(windows)});
    if (rule.resource == RateLimitRule::Resource::kQps &&
        rule.action == RateLimitRule::Action::kUniformQueue) {
      limiter->queueing_ = true;
    }
    if (rule.resource == RateLimitRule::Resource::kQps) limiter->paces_ = true;
  }
  return limiter;
}

int64_t RateLimiter::permits_held() const {
  int64_t held = 0;
  for (const Slot& slot : slots_) {
    if (slot.windows->shared->concurrency != nullptr) {
      held += slot.windows->shared->concurrency->in_flight();
    }
    std::lock_guard<std::mutex> lock(slot.windows->mu);
    for (const auto& [key, window] : slot.windows->by_value) {
      if (window->concurrency != nullptr) held += window->concurrency->in_flight();
    }
  }
  return held;
}

std::shared_ptr<RateLimiter::Window> RateLimiter::WindowFor(const Slot& slot,
                                                            const InboundCall& call) const {
  RuleWindows& windows = *slot.windows;
  if (!windows.per_value) return windows.shared;
  const RateLimitRule& rule = *slot.rule;
  std::string key;
  std::string buffer;
  if (!rule.method.MatchesAnything()) absl::StrAppend(&key, call.method(), "\x1f");
  for (const ArgumentMatcher& argument : rule.arguments) {
    std::optional<absl::string_view> value = argument.ValueOf(call, &buffer);
    absl::StrAppend(&key, value.value_or(""), "\x1f");
  }
  std::lock_guard<std::mutex> lock(windows.mu);
  auto it = windows.by_value.find(key);
  if (it != windows.by_value.end()) return it->second;
  if (windows.by_value.size() >= options_.max_windows_per_rule) {
    const int64_t at = options_.clock->NowNanos();
    const int64_t server_ms = windows.sync != nullptr ? windows.sync->NowMs() : 0;
    absl::erase_if(windows.by_value, [at, server_ms](const auto& entry) {
      return entry.second.use_count() == 1 && entry.second->Idle(at, server_ms);
    });
  }
  if (windows.by_value.size() < options_.max_windows_per_rule) {
    std::shared_ptr<Window> made = windows.Make(rule, &call);
    windows.by_value.emplace(std::move(key), made);
    return made;
  }
  if (!windows.overflow_logged.exchange(true)) {
    gpr_log(GPR_ERROR,
            "polaris: rate limit rule %s has %zu windows in use; calls with new values "
            "share one window",
            rule.DisplayName().c_str(), windows.by_value.size());
  }
  return windows.shared;
}

bool RateLimiter::Take(const Slot& slot, const InboundCall& call, LimitDecision& decision,
                       TakenList& taken) const {
  const RateLimitRule& rule = *slot.rule;
  RuleWindows& windows = *slot.windows;
  std::shared_ptr<Window> held = WindowFor(slot, call);
  Window* window = held.get();
  if (window->concurrency != nullptr) {
    if (!window->concurrency->TryEnter()) return false;
    decision.permits.emplace_back(window->concurrency);
    return true;
  }
  if (window->remote != nullptr) {
    const int64_t server_ms = windows.sync->NowMs();
    // Passing is for a rate-limit server out of reach; a window it has not
    // answered yet (new, or refused) keeps to its share.
    if (rule.failover == RateLimitRule::Failover::kPass && !windows.sync->Fresh(server_ms)) {
      return true;
    }
    if (!window->TakeRemote(server_ms, window->remote->Fresh(server_ms))) return false;
    taken.push_back(Taken{std::move(held), false, server_ms});
    return true;
  }
  const int64_t now_ns = options_.clock->NowNanos();
  if (rule.action == RateLimitRule::Action::kUniformQueue) {
    const int64_t wait =
        window->qps->Reserve(now_ns, absl::ToInt64Nanoseconds(rule.max_queue_delay));
    if (wait < 0) return false;
    decision.wait = std::max(decision.wait, absl::Nanoseconds(wait));
    taken.push_back(Taken{std::move(held), true, 0});
    return true;
  }
  if (!window->qps->TryTake(now_ns)) return false;
  taken.push_back(Taken{std::move(held), false, 0});
  return true;
}

std::unique_ptr<RateLimiter::MessagePacer> RateLimiter::PacerFor(const InboundCall& call) const {
  std::unique_ptr<MessagePacer> pacer;
  for (const Slot& slot : slots_) {
    if (slot.rule->resource != RateLimitRule::Resource::kQps || !slot.rule->Matches(call)) {
      continue;
    }
    if (pacer == nullptr) {
      pacer.reset(new MessagePacer());
      pacer->clock_ = options_.clock;
      pacer->sync_ = options_.global_sync;
    }
    pacer->windows_.push_back(WindowFor(slot, call));
  }
  return pacer;
}

absl::Duration RateLimiter::MessagePacer::Next() {
  const int64_t max_ns = absl::ToInt64Nanoseconds(kMaxPace);
  const int64_t now_ns = clock_->NowNanos();
  int64_t wait_ns = 0;
  for (const std::shared_ptr<Window>& window : windows_) {
    if (window->remote != nullptr) {
      const int64_t server_ms = sync_->NowMs();
      if (window->TakeRemote(server_ms, window->remote->Fresh(server_ms))) continue;
      // Over the window's allowance: hold the message until the next window.
      for (const auto& quota : window->remote->quotas) {
        const int64_t duration_ms = absl::ToInt64Milliseconds(quota->duration());
        const int64_t until_ms = (quota->WindowOf(server_ms) + 1) * duration_ms - server_ms;
        wait_ns = std::max(wait_ns, until_ms * 1000000);
      }
      continue;
    }
    const int64_t taken = window->qps->Take(now_ns, max_ns);
    wait_ns = std::max(wait_ns, taken < 0 ? max_ns : taken);
  }
  return absl::Nanoseconds(std::min(wait_ns, max_ns));
}

LimitDecision RateLimiter::Acquire(const InboundCall& call) const {
  LimitDecision decision;
  TakenList taken;
  for (const Slot& slot : slots_) {
    if (!slot.rule->Matches(call)) continue;
    if (slot.windows->allows_nothing || !Take(slot, call, decision, taken)) {
      // The call does not run: what earlier rules gave it goes back.
      for (Taken& earlier : taken) {
        if (earlier.window->remote != nullptr) {
          earlier.window->GiveBackRemote(earlier.server_ms);
        } else if (earlier.reserved) {
          earlier.window->qps->GiveBackReservation();
        } else {
          earlier.window->qps->GiveBack();
        }
      }
      const RateLimitRule& rule = *slot.rule;
      decision.status = absl::Status(
          options_.code, rule.custom_response.empty()
                             ? absl::StrCat("polaris: rate limited by rule ", rule.DisplayName())
                             : rule.custom_response);
      decision.refused_by = rule.DisplayName();
      decision.permits.clear();
      decision.wait = absl::ZeroDuration();
      return decision;
    }
  }
  return decision;
}

}  // namespace grpc_cpp_polaris
