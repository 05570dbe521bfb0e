#include "sdk/breaker/service_breakers.h"

#include <set>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace breaker_internal {

// What a service's breakers share, kept alive by each of them (a breaker may
// outlive its ServiceBreakers while calls to its instance run).
struct Group : std::enable_shared_from_this<Group> {
  Group(const ServiceKey& service, BreakerLevel level, const CircuitBreakingOptions& options,
        const Clock* clock, Scheduler* scheduler, std::vector<Scheduler*> probe_schedulers)
      : service(service),
        level(level),
        options(options),
        classifier(options),
        clock(clock),
        scheduler(scheduler),
        probe_schedulers(probe_schedulers.empty() ? std::vector<Scheduler*>{scheduler}
                                                  : std::move(probe_schedulers)),
        cap(0, options.max_open_percent) {}

  std::shared_ptr<const ActiveProbe> Probe() {
    std::lock_guard<std::mutex> lock(mu);
    return probe;
  }

  // Tells the listeners, once for transitions close together.
  void Changed() {
    if (notify_pending.exchange(true, std::memory_order_acq_rel)) return;
    scheduler->RunSoon([self = shared_from_this()] {
      self->notify_pending.store(false, std::memory_order_release);
      std::vector<std::function<void()>> listeners;
      {
        std::lock_guard<std::mutex> lock(self->mu);
        for (const auto& [id, listener] : self->listeners) listeners.push_back(listener);
      }
      for (const std::function<void()>& listener : listeners) listener();
    });
  }

  // The error-rate window's clock: every window / 10, each live breaker
  // of the group notes how many calls have started (CircuitBreaker::Tick),
  // so that the window counts the calls of its whole span.
  void Join(InstanceHealth* member) {
    std::lock_guard<std::mutex> lock(members_mu);
    members.insert(member);
    if (!ticking && options.instance.error_rate_percent > 0) {
      ticking = true;
      ScheduleTick();
    }
  }
  void Leave(InstanceHealth* member) {
    std::lock_guard<std::mutex> lock(members_mu);
    members.erase(member);
  }
  // Under members_mu.
  void ScheduleTick() {
    scheduler->RunAt(clock->Now() + options.instance.window / 10,
                     [weak = weak_from_this()] {
                       if (std::shared_ptr<Group> self = weak.lock()) self->Tick();
                     });
  }
  void Tick() {
    std::lock_guard<std::mutex> lock(members_mu);
    if (members.empty()) {
      ticking = false;
      return;
    }
    const int64_t now = clock->NowNanos();
    // A member being destroyed waits in Leave: each is alive here.
    for (InstanceHealth* member : members) member->breaker().Tick(now);
    ScheduleTick();
  }

  const ServiceKey service;
  const BreakerLevel level;
  const CircuitBreakingOptions options;
  const FailureClassifier classifier;
  const Clock* const clock;
  Scheduler* const scheduler;
  const std::vector<Scheduler*> probe_schedulers;
  OpenCap cap;
  std::atomic<bool> notify_pending{false};
  std::mutex mu;
  std::map<uint64_t, std::function<void()>> listeners;  // guarded by mu
  uint64_t next_listener = 1;                           // guarded by mu
  std::shared_ptr<const ActiveProbe> probe;             // guarded by mu
  std::mutex members_mu;
  std::set<InstanceHealth*> members;  // guarded by members_mu
  bool ticking = false;               // guarded by members_mu
};

}  // namespace breaker_internal

FailureClassifier::FailureClassifier(const CircuitBreakingOptions& options)
    : slow_nanos_(absl::ToInt64Nanoseconds(options.slow_call)) {
  for (absl::StatusCode code : options.failure_codes) {
    const auto index = static_cast<uint32_t>(code);
    if (index < 32) failure_mask_ |= uint32_t{1} << index;
  }
}

InstanceHealth::InstanceHealth(std::string address, std::shared_ptr<InstanceStats> stats,
                               std::shared_ptr<breaker_internal::Group> group)
    : group_(std::move(group)),
      classifier_(group_->classifier),
      // The cap is on the share of a service's instances open at once.
      breaker_(group_->options.instance, group_->clock,
               group_->level == BreakerLevel::kInstance ? &group_->cap : nullptr),
      clock_(group_->clock),
      stats_(std::move(stats)),
      address_(std::move(address)) {
  group_->Join(this);
}

InstanceHealth::~InstanceHealth() {
  group_->Leave(this);
  breaker_internal::Discarded(group_->service, breaker_.state());
}

void InstanceHealth::Record(CallOutcome outcome, uint32_t round, bool probe) {
  if (outcome == CallOutcome::kNeither) {
    if (probe) breaker_.ReturnPermit(round);
    return;
  }
  if (std::optional<BreakerTransition> transition =
          breaker_.Record(outcome == CallOutcome::kFailure, round)) {
    Report(*transition);
  }
}

void InstanceHealth::Report(const BreakerTransition& transition) {
  breaker_internal::Publish(BreakerEvent{group_->service, group_->level, address_,
                                         transition.from, transition.to, transition.reason,
                                         group_->clock->Now()});
  if (transition.to == BreakerState::kOpen) {
    // The sleep window's end, for this opening only (a later one schedules
    // its own); nothing if the instance is gone by then.
    group_->scheduler->RunAt(
        breaker_.open_until(),
        [weak = weak_from_this(), round = transition.round] {
          std::shared_ptr<InstanceHealth> self = weak.lock();
          if (self == nullptr) return;
          if (std::optional<BreakerTransition> half_open = self->breaker_.SleepOver(round)) {
            self->Report(*half_open);
          }
        });
    if (group_->level == BreakerLevel::kInstance) StartProbing(transition.round);
  }
  group_->Changed();
}

void InstanceHealth::StartProbing(uint32_t round) {
  if (group_->Probe() == nullptr) return;
  if (probing_.exchange(uint64_t{round} + 1, std::memory_order_acq_rel) == uint64_t{round} + 1) {
    return;  // already probing this opening
  }
  ScheduleProbe(round);
}

void InstanceHealth::ScheduleProbe(uint32_t round) {
  std::shared_ptr<const ActiveProbe> probe = group_->Probe();
  if (probe == nullptr) return EndProbing(round);
  // Each instance's probes on one thread (by address): at most one at a
  // time per instance, several instances' at once.
  const std::vector<Scheduler*>& schedulers = group_->probe_schedulers;
  schedulers[std::hash<std::string>()(address_) % schedulers.size()]->RunAt(
      clock_->Now() + probe->interval, [weak = weak_from_this(), round] {
        std::shared_ptr<InstanceHealth> self = weak.lock();
        if (self == nullptr) return;
        auto open_in_round = [&] {
          const auto [state, now_round] = self->breaker_.StateAndRound();
          return state == BreakerState::kOpen && now_round == round;
        };
        // The loop ends (and says so) when the opening is over or probing
        // is turned off.
        if (!open_in_round()) return self->EndProbing(round);
        std::shared_ptr<const ActiveProbe> current = self->group_->Probe();
        if (current == nullptr) {
          self->EndProbing(round);
          // Switched on again meanwhile (its StartProbing saw this loop
          // alive): carry on.
          if (self->group_->Probe() != nullptr && open_in_round()) self->StartProbing(round);
          return;
        }
        const absl::Status answer = current->run(self->address_);
        breaker_internal::CountProbe(self->group_->service, answer.ok());
        if (!answer.ok()) {
          gpr_log(GPR_INFO, "polaris: probe of %s instance %s failed: %s",
                  self->group_->service.ToString().c_str(), self->address_.c_str(),
                  answer.ToString().c_str());
          if (open_in_round()) return self->ScheduleProbe(round);
          return self->EndProbing(round);
        }
        self->EndProbing(round);
        if (std::optional<BreakerTransition> half_open = self->breaker_.ProbeSucceeded(round)) {
          self->Report(*half_open);
        }
      });
}

ServiceBreakers::ServiceBreakers(const ServiceKey& service, const CircuitBreakingOptions& options,
                                 const Clock* clock, Scheduler* scheduler, BreakerLevel level,
                                 std::vector<Scheduler*> probe_schedulers)
    : group_(std::make_shared<breaker_internal::Group>(service, level, options, clock, scheduler,
                                                       std::move(probe_schedulers))),
      stats_(ServiceStatsRegistry::Global().For(service)) {}

ServiceBreakers::~ServiceBreakers() = default;

std::vector<std::shared_ptr<InstanceHealth>> ServiceBreakers::Sync(
    const std::vector<std::string>& addresses) {
  std::vector<std::shared_ptr<InstanceHealth>> healths;
  healths.reserve(addresses.size());
  std::set<std::string> listed(addresses.begin(), addresses.end());
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& address : addresses) {
    std::shared_ptr<InstanceHealth>& health = instances_[address];
    if (health == nullptr) {
      health = std::shared_ptr<InstanceHealth>(
          new InstanceHealth(address, stats_->For(address), group_), &InstanceHealth::Release);
    }
    healths.push_back(health);
  }
  for (auto it = instances_.begin(); it != instances_.end();) {
    it = listed.count(it->first) == 0 ? instances_.erase(it) : std::next(it);
  }
  stats_->Retain(listed);
  group_->cap.SetMembers(static_cast<uint32_t>(instances_.size()));
  return healths;
}

std::shared_ptr<InstanceHealth> ServiceBreakers::Resource(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = instances_.find(name);
  if (it != instances_.end()) return it->second;
  if (instances_.size() >= kMaxResources) return nullptr;
  // Its own stats: a method's or the service's name is not an instance's
  // address, and has no place among the service's instance stats.
  std::shared_ptr<InstanceHealth> health(
      new InstanceHealth(name, std::make_shared<InstanceStats>(), group_),
      &InstanceHealth::Release);
  instances_.emplace(name, health);
  return health;
}

uint64_t ServiceBreakers::AddListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(group_->mu);
  const uint64_t id = group_->next_listener++;
  group_->listeners.emplace(id, std::move(listener));
  return id;
}

void ServiceBreakers::RemoveListener(uint64_t id) {
  std::lock_guard<std::mutex> lock(group_->mu);
  group_->listeners.erase(id);
}

void ServiceBreakers::SetProbe(std::shared_ptr<const ActiveProbe> probe) {
  std::vector<std::pair<std::shared_ptr<InstanceHealth>, uint32_t>> open;
  {
    std::lock_guard<std::mutex> lock(group_->mu);
    const bool started = group_->probe == nullptr && probe != nullptr;
    group_->probe = std::move(probe);
    if (!started) return;
  }
  // Probing starts: instances open now are probed too.
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [address, health] : instances_) {
      const auto [state, round] = health->breaker().StateAndRound();
      if (state == BreakerState::kOpen) open.emplace_back(health, round);
    }
  }
  if (group_->level != BreakerLevel::kInstance) return;
  for (const auto& [health, round] : open) health->StartProbing(round);
}

const CircuitBreakingOptions& ServiceBreakers::options() const { return group_->options; }
int64_t ServiceBreakers::open() const { return group_->cap.open(); }
int64_t ServiceBreakers::max_open() const { return group_->cap.max_open(); }

ServiceBreakersRegistry& ServiceBreakersRegistry::Global() {
  // Probes block (up to their timeout): threads of their own.
  static ServiceBreakersRegistry* const registry = [] {
    std::vector<Scheduler*> probers;
    for (int i = 0; i < kProbeThreads; ++i) probers.push_back(new Scheduler(Clock::Real()));
    return new ServiceBreakersRegistry(Clock::Coarse(), Scheduler::Default(), std::move(probers));
  }();
  return *registry;
}

std::shared_ptr<ServiceBreakers> ServiceBreakersRegistry::For(
    const ServiceKey& service, const CircuitBreakingOptions& options, BreakerLevel level) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = services_.begin(); it != services_.end();) {
    it = it->second.expired() ? services_.erase(it) : std::next(it);
  }
  std::weak_ptr<ServiceBreakers>& slot =
      services_[{service, absl::StrCat(static_cast<int>(level), "|", options.Key())}];
  std::shared_ptr<ServiceBreakers> breakers = slot.lock();
  if (breakers == nullptr) {
    breakers = std::make_shared<ServiceBreakers>(service, options, clock_, scheduler_, level,
                                                 probe_schedulers_);
    slot = breakers;
  }
  return breakers;
}

}  // namespace grpc_cpp_polaris
