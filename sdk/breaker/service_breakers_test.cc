#include "sdk/breaker/service_breakers.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

#include "mockplane/wait.h"

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

// Waits (bounded, 10 s) until `done` holds.
bool Eventually(const std::function<bool()>& done) {
  return mockplane::WaitUntil(done, absl::Seconds(10), absl::Milliseconds(1));
}

CircuitBreakingOptions Options() {
  CircuitBreakingOptions options;
  options.instance.consecutive_failures = 3;
  options.instance.error_rate_percent = 0;
  options.instance.sleep_window = absl::Seconds(10);
  options.instance.max_sleep_window = absl::Seconds(40);
  options.instance.half_open_probes = 2;
  return options;
}

// Collects the events of one service.
class EventLog {
 public:
  explicit EventLog(std::string service) : service_(std::move(service)) {
    id_ = AddBreakerListener([this](const BreakerEvent& event) {
      if (event.service.service != service_) return;
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
    });
  }
  ~EventLog() { RemoveBreakerListener(id_); }
  std::vector<BreakerEvent> WaitFor(size_t n) {
    Eventually([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return events_.size() >= n;
    });
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  const std::string service_;
  uint64_t id_ = 0;
  std::mutex mu_;
  std::vector<BreakerEvent> events_;
};

void Fail(InstanceHealth& health, int times) {
  for (int i = 0; i < times; ++i) {
    health.Record(CallOutcome::kFailure, health.breaker().round(), false);
  }
}

TEST(ServiceBreakersTest, OpensSleepsHalfOpensAndClosesWithEventsAndListeners) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  const ServiceKey service{"default", "OpensSleeps"};
  EventLog log(service.service);
  ServiceBreakers breakers(service, Options(), &clock, &scheduler);
  std::atomic<int> changes{0};
  breakers.AddListener([&] { ++changes; });
  std::vector<std::shared_ptr<InstanceHealth>> healths =
      breakers.Sync({"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1"});
  ASSERT_EQ(healths.size(), 4u);
  InstanceHealth& bad = *healths[1];
  EXPECT_EQ(bad.address(), "10.0.0.2:1");
  Fail(bad, 3);
  EXPECT_EQ(bad.breaker().state(), BreakerState::kOpen);
  EXPECT_TRUE(Eventually([&] { return changes.load() >= 1; }));
  std::vector<BreakerEvent> events = log.WaitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].resource, "10.0.0.2:1");
  EXPECT_EQ(events[0].to, BreakerState::kOpen);
  EXPECT_EQ(events[0].ToString(),
            "circuit breaker default/OpensSleeps instance 10.0.0.2:1: closed -> open (3 "
            "consecutive failures; open for 10s)");
  EXPECT_EQ(GetBreakerCounters(service).opened, 1u);
  EXPECT_EQ(GetBreakerCounters(service).not_closed, 1);
  // The sleep window ends on the scheduler: half-open with both permits.
  clock.Advance(absl::Seconds(10));
  ASSERT_TRUE(Eventually([&] { return bad.breaker().state() == BreakerState::kHalfOpen; }));
  events = log.WaitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].to, BreakerState::kHalfOpen);
  uint32_t round = 0;
  ASSERT_TRUE(bad.breaker().TryProbe(&round));
  ASSERT_TRUE(bad.breaker().TryProbe(&round));
  bad.Record(CallOutcome::kSuccess, round, true);
  bad.Record(CallOutcome::kSuccess, round, true);
  EXPECT_EQ(bad.breaker().state(), BreakerState::kClosed);
  events = log.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].from, BreakerState::kHalfOpen);
  EXPECT_EQ(events[2].to, BreakerState::kClosed);
  const BreakerCounters counters = GetBreakerCounters(service);
  EXPECT_EQ(counters.opened, 1u);
  EXPECT_EQ(counters.half_opened, 1u);
  EXPECT_EQ(counters.closed, 1u);
  EXPECT_EQ(counters.not_closed, 0);
  EXPECT_TRUE(Eventually([&] { return changes.load() >= 2; }));
}

TEST(ServiceBreakersTest, ACancelledOrAbandonedProbeGivesItsPermitBack) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  ServiceBreakers breakers({"default", "Permits"}, Options(), &clock, &scheduler);
  std::shared_ptr<InstanceHealth> health = breakers.Sync({"10.0.0.1:1", "10.0.0.2:1"})[0];
  Fail(*health, 3);
  clock.Advance(absl::Seconds(10));
  ASSERT_TRUE(Eventually([&] { return health->breaker().state() == BreakerState::kHalfOpen; }));
  uint32_t round = 0;
  ASSERT_TRUE(health->breaker().TryProbe(&round));
  ASSERT_TRUE(health->breaker().TryProbe(&round));
  EXPECT_FALSE(health->breaker().TryProbe(&round));
  health->StartCall();
  health->EndCall(CallOutcome::kNeither, round, true);
  health->StartCall();
  health->AbandonCall(round, true);
  EXPECT_TRUE(health->breaker().TryProbe(&round));
  EXPECT_TRUE(health->breaker().TryProbe(&round));
  EXPECT_FALSE(health->breaker().TryProbe(&round));
}

TEST(ServiceBreakersTest, AHealthOutlivesItsHoldersWhileCallsAreInFlight) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  auto breakers =
      std::make_unique<ServiceBreakers>(ServiceKey{"default", "Lifetime"}, Options(), &clock,
                                        &scheduler);
  std::shared_ptr<InstanceHealth> held = breakers->Sync({"a:1", "b:1"})[0];
  InstanceHealth* health = held.get();
  health->StartCall();
  health->StartCall();
  EXPECT_EQ(health->breaker().in_flight(), 2);
  Fail(*health, 3);  // open: its destruction gives its place in the cap back
  // Every holder lets go (the instance left, then the service's breakers):
  // the calls still report into it (ASan checks that nothing is freed early
  // or leaked).
  breakers->Sync({"b:1"});
  held.reset();
  breakers.reset();
  const uint32_t round = health->breaker().round();
  health->EndCall(CallOutcome::kFailure, round, false);
  EXPECT_EQ(health->breaker().in_flight(), 1);
  health->AbandonCall(round, false);  // the last: destroys it
}

TEST(ServiceBreakersTest, TheCapFollowsTheMembers) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  ServiceBreakers breakers({"default", "Cap"}, Options(), &clock, &scheduler);  // 50 %
  std::vector<std::shared_ptr<InstanceHealth>> healths =
      breakers.Sync({"a:1", "b:1", "c:1", "d:1", "e:1", "f:1"});
  EXPECT_EQ(breakers.max_open(), 3);
  for (auto& health : healths) Fail(*health, 3);
  int open = 0;
  for (auto& health : healths) open += health->breaker().state() == BreakerState::kOpen;
  EXPECT_EQ(open, 3);
  EXPECT_EQ(breakers.open(), 3);
  // Instances leave: the open ones forgotten free their places.
  healths = breakers.Sync({"d:1", "e:1", "f:1"});
  EXPECT_EQ(breakers.max_open(), 1);
  EXPECT_EQ(breakers.open(), 0);
  Fail(*healths[0], 3);
  Fail(*healths[1], 3);
  EXPECT_EQ(breakers.open(), 1);
}

TEST(ServiceBreakersTest, SyncKeepsStateOfListedInstancesAndForgetsOthers) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  ServiceBreakers breakers({"default", "Sync"}, Options(), &clock, &scheduler);
  std::shared_ptr<InstanceHealth> a = breakers.Sync({"a:1", "b:1", "c:1"})[0];
  Fail(*a, 3);
  std::vector<std::shared_ptr<InstanceHealth>> again = breakers.Sync({"c:1", "a:1"});
  EXPECT_EQ(again[1], a);
  EXPECT_EQ(again[1]->breaker().state(), BreakerState::kOpen);
  std::shared_ptr<InstanceHealth> b = breakers.Sync({"b:1"})[0];
  EXPECT_EQ(b->breaker().state(), BreakerState::kClosed);
  EXPECT_NE(breakers.Sync({"a:1", "b:1"})[0], a);  // forgotten, then new
}

// The error rate is over every call of the window, not only those since its
// first failure: the breakers note the calls started at every slice.
TEST(ServiceBreakersTest, TheErrorRateWindowCountsTheCallsOfItsWholeSpan) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  CircuitBreakingOptions options = Options();
  options.instance.consecutive_failures = 0;
  options.instance.error_rate_percent = 50;
  options.instance.min_requests = 1;
  options.instance.window = absl::Seconds(10);
  ServiceBreakers breakers({"default", "Window"}, options, &clock, &scheduler);
  std::shared_ptr<InstanceHealth> health = breakers.Sync({"a:1", "b:1"})[0];
  // Long after the breaker was made: only the slices' ticks know the calls.
  clock.Advance(absl::Seconds(30));
  std::atomic<bool> ticked{false};
  scheduler.RunAt(clock.Now(), [&] { ticked = true; });  // after the due tick
  ASSERT_TRUE(Eventually([&] { return ticked.load(); }));
  for (int i = 0; i < 20; ++i) {
    health->StartCall();
    health->EndCall(CallOutcome::kSuccess, health->breaker().round(), false);
  }
  for (int i = 0; i < 2; ++i) {
    health->StartCall();
    health->EndCall(CallOutcome::kFailure, health->breaker().round(), false);
  }
  EXPECT_EQ(health->breaker().state(), BreakerState::kClosed);  // 2 of 22
  for (int i = 0; i < 30; ++i) {
    health->StartCall();
    health->EndCall(CallOutcome::kFailure, health->breaker().round(), false);
  }
  EXPECT_EQ(health->breaker().state(), BreakerState::kOpen);  // 32 of 52
}

TEST(ServiceBreakersTest, MethodAndServiceBreakersAreNamedAndUncapped) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  const ServiceKey service{"default", "Levels"};
  EventLog log(service.service);
  ServiceBreakers methods(service, Options(), &clock, &scheduler, BreakerLevel::kMethod);
  std::shared_ptr<InstanceHealth> echo = methods.Resource("/pkg.Svc/Echo");
  EXPECT_EQ(methods.Resource("/pkg.Svc/Echo"), echo);  // one per name
  std::shared_ptr<InstanceHealth> chat = methods.Resource("/pkg.Svc/Chat");
  Fail(*echo, 3);
  Fail(*chat, 3);  // no cap on methods: both open
  EXPECT_EQ(echo->breaker().state(), BreakerState::kOpen);
  EXPECT_EQ(chat->breaker().state(), BreakerState::kOpen);
  std::vector<BreakerEvent> events = log.WaitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].level, BreakerLevel::kMethod);
  EXPECT_EQ(events[0].ToString(),
            "circuit breaker default/Levels method /pkg.Svc/Echo: closed -> open (3 consecutive "
            "failures; open for 10s)");
  ServiceBreakers whole(service, Options(), &clock, &scheduler, BreakerLevel::kService);
  Fail(*whole.Resource(""), 3);
  events = log.WaitFor(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].ToString(),
            "circuit breaker default/Levels service: closed -> open (3 consecutive failures; open "
            "for 10s)");
  // Names are bounded.
  for (size_t i = 0; i < ServiceBreakers::kMaxResources; ++i) methods.Resource(absl::StrCat(i));
  EXPECT_EQ(methods.Resource("one-too-many"), nullptr);
}

TEST(FailureClassifierTest, CodesLatencyAndCancellation) {
  CircuitBreakingOptions options;
  FailureClassifier classifier(options);
  EXPECT_FALSE(classifier.times_calls());
  EXPECT_EQ(classifier.Classify(absl::StatusCode::kOk, 0), CallOutcome::kSuccess);
  EXPECT_EQ(classifier.Classify(absl::StatusCode::kNotFound, 0), CallOutcome::kSuccess);
  EXPECT_EQ(classifier.Classify(absl::StatusCode::kCancelled, 0), CallOutcome::kNeither);
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kInternal, absl::StatusCode::kUnknown, absl::StatusCode::kDataLoss}) {
    EXPECT_EQ(classifier.Classify(code, 0), CallOutcome::kFailure) << static_cast<int>(code);
  }
  options.failure_codes = {absl::StatusCode::kResourceExhausted};
  options.slow_call = absl::Milliseconds(100);
  FailureClassifier custom(options);
  EXPECT_TRUE(custom.times_calls());
  EXPECT_EQ(custom.Classify(absl::StatusCode::kUnavailable, 0), CallOutcome::kSuccess);
  EXPECT_EQ(custom.Classify(absl::StatusCode::kResourceExhausted, 0), CallOutcome::kFailure);
  EXPECT_EQ(custom.Classify(absl::StatusCode::kOk, 100'000'000), CallOutcome::kSuccess);
  EXPECT_EQ(custom.Classify(absl::StatusCode::kOk, 100'000'001), CallOutcome::kFailure);
}

TEST(CircuitBreakingOptionsTest, ValidateNamesTheField) {
  CircuitBreakingOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.failure_codes.push_back(absl::StatusCode::kOk);
  EXPECT_EQ(options.Validate().message(),
            "CircuitBreakingOptions.failure_codes[5] is OK: a success never counts as a failure");
  options = CircuitBreakingOptions();
  options.instance.half_open_probes = 0;
  GovernanceOptions governance;
  governance.circuit_breaking = options;
  EXPECT_EQ(governance.Validate().message(),
            "GovernanceOptions.circuit_breaking.instance.half_open_probes must be in 1..1000");
  options = CircuitBreakingOptions();
  options.max_open_percent = 101;
  EXPECT_NE(options.Validate().message().find("max_open_percent"), std::string::npos);
}

TEST(ServiceBreakersRegistryTest, SharedBySettings) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  ServiceBreakersRegistry registry(&clock, &scheduler);
  const ServiceKey service{"default", "Shared"};
  std::shared_ptr<ServiceBreakers> one = registry.For(service, Options());
  EXPECT_EQ(registry.For(service, Options()), one);
  CircuitBreakingOptions other = Options();
  other.instance.consecutive_failures = 7;
  EXPECT_NE(registry.For(service, other), one);
  EXPECT_NE(registry.For({"default", "Other"}, Options()), one);
}

}  // namespace
}  // namespace grpc_cpp_polaris
