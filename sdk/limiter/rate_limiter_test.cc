#include "sdk/limiter/rate_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "proto/v1/ratelimit.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/limiter/rule_builders_for_test.h"
#include "sdk/parse_for_test.h"
#include "sdk/rule/fake_inbound_call.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kKey{"default", "EchoService"};

v1::Rule QpsRule(const std::string& id, uint32_t max, int64_t seconds) {
  return testing::QpsRule(kKey, id, max, seconds);
}

v1::Rule ConcurrencyRule(const std::string& id, uint32_t max) {
  return testing::ConcurrencyRule(kKey, id, max);
}

using testing::AddArgument;

std::shared_ptr<const RateLimitRules> Rules(std::vector<v1::Rule> rules) {
  v1::DiscoverResponse answer;
  for (v1::Rule& rule : rules) *answer.mutable_ratelimit()->add_rules() = std::move(rule);
  auto parsed = testing::ParseAnswer<RateLimitRules>(
      *MakeRateLimitRulesParser(), ResourceType::kRateLimit, kKey, std::move(answer));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE((*parsed)->rejected.empty());
  return *parsed;
}

class RateLimiterTest : public ::testing::Test {
 protected:
  RateLimiterOptions Options() {
    RateLimiterOptions options;
    options.clock = &clock_;
    return options;
  }
  int Admitted(const RateLimiter& limiter, const InboundCall& call, int calls) {
    int admitted = 0;
    for (int i = 0; i < calls; ++i) admitted += limiter.Acquire(call).admitted();
    return admitted;
  }

  FakeClock clock_;
  testing::FakeInboundCall call_;
};

TEST_F(RateLimiterTest, RefusesOverTheRateNamingTheRule) {
  v1::Rule rule = QpsRule("r1", 5, 1);
  rule.mutable_name()->set_value("five-per-second");
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, Options());
  EXPECT_EQ(Admitted(*limiter, call_, 10), 5);
  LimitDecision refused = limiter->Acquire(call_);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.status.message(), "polaris: rate limited by rule five-per-second (r1)");
  EXPECT_EQ(refused.refused_by, "five-per-second (r1)");
  clock_.Advance(absl::Milliseconds(200));
  EXPECT_EQ(Admitted(*limiter, call_, 10), 1);
  clock_.Advance(absl::Seconds(10));
  EXPECT_EQ(Admitted(*limiter, call_, 10), 5);
}

TEST_F(RateLimiterTest, EveryMatchingRuleMustAdmit) {
  v1::Rule wide = QpsRule("wide", 100, 1);
  v1::Rule alice = QpsRule("alice", 2, 1);
  AddArgument(alice, v1::MatchArgument::HEADER, "x-user", "alice", v1::MatchString::EXACT);
  auto limiter = RateLimiter::Create(Rules({wide, alice}), nullptr, Options());
  call_.headers["x-user"] = "alice";
  EXPECT_EQ(Admitted(*limiter, call_, 5), 2);
  EXPECT_EQ(limiter->Acquire(call_).refused_by, "alice");
  call_.headers["x-user"] = "bob";
  // "alice" comes first (same priority, then id): its refusals took nothing
  // from "wide", its 2 admissions did.
  EXPECT_EQ(Admitted(*limiter, call_, 200), 100 - 2);
  EXPECT_EQ(limiter->Acquire(call_).refused_by, "wide");
}

TEST_F(RateLimiterTest, ACustomResponseAndCodeAreWhatTheCallerSees) {
  v1::Rule rule = QpsRule("r", 1, 1);
  rule.mutable_customresponse()->set_body("{\"error\":\"busy\"}");
  RateLimiterOptions options = Options();
  options.code = absl::StatusCode::kUnavailable;
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, options);
  EXPECT_TRUE(limiter->Acquire(call_).admitted());
  LimitDecision refused = limiter->Acquire(call_);
  EXPECT_EQ(refused.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status.message(), "{\"error\":\"busy\"}");
  EXPECT_EQ(refused.refused_by, "r");
}

TEST_F(RateLimiterTest, ARegexArgumentKeepsAWindowPerValueUnlessCombined) {
  v1::Rule per_ip = QpsRule("per-ip", 2, 1);
  AddArgument(per_ip, v1::MatchArgument::CALLER_IP, "", "^10\\.", v1::MatchString::REGEX);
  auto limiter = RateLimiter::Create(Rules({per_ip}), nullptr, Options());
  call_.ip = "10.0.0.1";
  EXPECT_EQ(Admitted(*limiter, call_, 5), 2);
  call_.ip = "10.0.0.2";
  EXPECT_EQ(Admitted(*limiter, call_, 5), 2);
  call_.ip = "192.168.0.1";  // not matched: not limited
  EXPECT_EQ(Admitted(*limiter, call_, 5), 5);

  per_ip.mutable_regex_combine()->set_value(true);
  auto combined = RateLimiter::Create(Rules({per_ip}), nullptr, Options());
  call_.ip = "10.0.0.1";
  EXPECT_EQ(Admitted(*combined, call_, 5), 2);
  call_.ip = "10.0.0.2";
  EXPECT_EQ(Admitted(*combined, call_, 5), 0);
}

TEST_F(RateLimiterTest, WindowsPerValueAreBoundedAndIdleOnesDropped) {
  v1::Rule per_user = QpsRule("per-user", 1, 1);
  AddArgument(per_user, v1::MatchArgument::HEADER, "x-user", ".*", v1::MatchString::REGEX);
  RateLimiterOptions options = Options();
  options.max_windows_per_rule = 3;
  auto limiter = RateLimiter::Create(Rules({per_user}), nullptr, options);
  for (const char* user : {"a", "b", "c"}) {
    call_.headers["x-user"] = user;
    EXPECT_EQ(Admitted(*limiter, call_, 3), 1) << user;
  }
  // Full, none idle: a new value shares the rule's own window (1 call).
  call_.headers["x-user"] = "d";
  EXPECT_EQ(Admitted(*limiter, call_, 3), 1);
  call_.headers["x-user"] = "e";
  EXPECT_EQ(Admitted(*limiter, call_, 3), 0);
  // Once the windows are idle again they make room.
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(Admitted(*limiter, call_, 3), 1);
}

TEST_F(RateLimiterTest, ConcurrencyPermitsAreHeldUntilTheDecisionGoes) {
  auto limiter = RateLimiter::Create(Rules({ConcurrencyRule("c", 2)}), nullptr, Options());
  LimitDecision first = limiter->Acquire(call_);
  LimitDecision second = limiter->Acquire(call_);
  ASSERT_TRUE(first.admitted());
  ASSERT_TRUE(second.admitted());
  EXPECT_EQ(limiter->permits_held(), 2);
  LimitDecision third = limiter->Acquire(call_);
  EXPECT_EQ(third.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(third.permits.empty());
  { LimitDecision gone = std::move(first); }
  EXPECT_EQ(limiter->permits_held(), 1);
  EXPECT_TRUE(limiter->Acquire(call_).admitted());  // and released again at once
  EXPECT_EQ(limiter->permits_held(), 1);
}

TEST_F(RateLimiterTest, AQpsRefusalLaterInTheListReleasesEarlierPermits) {
  v1::Rule concurrency = ConcurrencyRule("c", 5);
  concurrency.mutable_priority()->set_value(0);
  v1::Rule qps = QpsRule("q", 1, 1);
  qps.mutable_priority()->set_value(1);
  auto limiter = RateLimiter::Create(Rules({concurrency, qps}), nullptr, Options());
  LimitDecision admitted = limiter->Acquire(call_);
  ASSERT_TRUE(admitted.admitted());
  EXPECT_FALSE(limiter->Acquire(call_).admitted());
  EXPECT_EQ(limiter->permits_held(), 1);
}

TEST_F(RateLimiterTest, ARefusalGivesBackWhatEarlierRulesTook) {
  v1::Rule wide = QpsRule("wide", 3, 60);
  wide.mutable_priority()->set_value(0);
  v1::Rule alice = QpsRule("alice", 1, 60);
  alice.mutable_priority()->set_value(1);
  AddArgument(alice, v1::MatchArgument::HEADER, "X-User", "alice");  // keys are lowered
  auto limiter = RateLimiter::Create(Rules({wide, alice}), nullptr, Options());
  call_.headers["x-user"] = "alice";
  EXPECT_TRUE(limiter->Acquire(call_).admitted());
  EXPECT_EQ(limiter->Acquire(call_).refused_by, "alice");
  EXPECT_EQ(limiter->Acquire(call_).refused_by, "alice");
  // "wide" lost only the admitted call's token.
  call_.headers["x-user"] = "bob";
  EXPECT_EQ(Admitted(*limiter, call_, 5), 2);
}

TEST_F(RateLimiterTest, UniformQueueingSpacesCallsAndRefusesBeyondTheMaximumWait) {
  v1::Rule rule = QpsRule("u", 10, 1);  // one per 100 ms
  rule.mutable_action()->set_value("unirate");
  rule.mutable_max_queue_delay()->set_value(1);
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, Options());
  for (int i = 0; i <= 10; ++i) {
    LimitDecision decision = limiter->Acquire(call_);
    ASSERT_TRUE(decision.admitted()) << i;
    EXPECT_EQ(decision.wait, absl::Milliseconds(100 * i));
  }
  EXPECT_EQ(limiter->Acquire(call_).refused_by, "u");  // 1.1 s > 1 s
}

TEST_F(RateLimiterTest, UnchangedRulesKeepTheirWindowsAcrossUpdates) {
  v1::Rule kept = QpsRule("kept", 2, 60);
  v1::Rule changed = QpsRule("changed", 2, 60);
  changed.mutable_method()->mutable_value()->set_value("Other");
  auto first = RateLimiter::Create(Rules({kept, changed}), nullptr, Options());
  EXPECT_EQ(Admitted(*first, call_, 5), 2);
  v1::Rule changed_more = QpsRule("changed", 3, 60);
  auto second = RateLimiter::Create(Rules({kept, changed_more}), first.get(), Options());
  EXPECT_EQ(Admitted(*second, call_, 5), 0);  // "kept" is still spent
  v1::Rule kept_wider = QpsRule("kept", 4, 60);
  auto third = RateLimiter::Create(Rules({kept_wider}), second.get(), Options());
  EXPECT_EQ(Admitted(*third, call_, 5), 4);  // new limits, new window
}

TEST_F(RateLimiterTest, GlobalRulesApplyThisInstancesShare) {
  v1::Rule rule = QpsRule("g", 10, 1);
  rule.set_type(v1::Rule::GLOBAL);
  RateLimiterOptions options = Options();
  options.instances = 3;
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, options);
  EXPECT_EQ(Admitted(*limiter, call_, 10), 4);  // ceil(10 / 3)
}

TEST_F(RateLimiterTest, AZeroAmountRefusesEveryMatchingCall) {
  auto limiter = RateLimiter::Create(Rules({QpsRule("zero", 0, 1)}), nullptr, Options());
  EXPECT_EQ(Admitted(*limiter, call_, 3), 0);
}

TEST_F(RateLimiterTest, NoRulesAdmitEverything) {
  auto limiter = RateLimiter::Create(nullptr, nullptr, Options());
  EXPECT_TRUE(limiter->empty());
  EXPECT_EQ(Admitted(*limiter, call_, 3), 3);
}

// The rate-limit server's side, played by the test: it records the windows
// and decides when the server last answered.
class FakeSync final : public GlobalQuotaSync {
 public:
  explicit FakeSync(FakeClock* clock) : GlobalQuotaSync(clock) {
    // Server time starts on a window boundary.
    SetOffsetMs(1'700'000'000'000 - clock->NowNanos() / 1000000);
  }
  void Track(const std::shared_ptr<GlobalQuotaTarget>& target) override {
    targets.push_back(target);
  }
  // The server answers, but not for these windows (new, or refused).
  void AnsweredOthers() { MarkAnswered(NowMs()); }
  void Answered() {
    MarkAnswered(NowMs());
    for (const auto& target : targets) target->answered_ms.store(NowMs());
  }
  std::vector<std::shared_ptr<GlobalQuotaTarget>> targets;
};

RateLimiterOptions GlobalOptions(FakeClock* clock, std::shared_ptr<FakeSync> sync) {
  RateLimiterOptions options;
  options.clock = clock;
  options.global_sync = std::move(sync);
  return options;
}

v1::Rule GlobalRule(const std::string& id, uint32_t max) {
  v1::Rule rule = QpsRule(id, max, 1);
  rule.set_type(v1::Rule::GLOBAL);
  return rule;
}

TEST_F(RateLimiterTest, GlobalWindowsAreKeptByTheRateLimitServer) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  options.instances = 2;
  auto limiter = RateLimiter::Create(Rules({GlobalRule("g", 10)}), nullptr, options);
  ASSERT_EQ(sync->targets.size(), 1u);
  const GlobalQuotaTarget& target = *sync->targets[0];
  EXPECT_EQ(target.service, kKey);
  EXPECT_EQ(target.labels, "|");
  ASSERT_EQ(target.quotas.size(), 1u);
  RemoteQuota& quota = *target.quotas[0];
  // Before any answer: the local share, 10 / 2.
  EXPECT_EQ(Admitted(*limiter, call_, 10), 5);
  // The server says 4 are left for the two: this one may take 2 more.
  sync->Answered();
  RemoteQuota::Usage usage = quota.Drain(sync->NowMs());
  EXPECT_EQ(usage.used, 5u);
  EXPECT_EQ(usage.limited, 5u);
  quota.Apply(usage, 4, 2, sync->NowMs());
  EXPECT_EQ(Admitted(*limiter, call_, 10), 2);
  // A new window starts from the share again.
  clock_.Advance(absl::Seconds(1));
  sync->Answered();
  EXPECT_EQ(Admitted(*limiter, call_, 10), 5);
}

TEST_F(RateLimiterTest, AGlobalWindowOutlivesAChangeOfInstanceCount) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  options.instances = 2;
  auto rules = Rules({GlobalRule("g", 10)});
  auto first = RateLimiter::Create(rules, nullptr, options);
  EXPECT_EQ(Admitted(*first, call_, 3), 3);
  // A third instance joins: the share drops to 4, of which 3 are taken.
  options.instances = 3;
  auto second = RateLimiter::Create(rules, first.get(), options);
  EXPECT_EQ(sync->targets.size(), 1u);  // the same window, not a new one
  EXPECT_EQ(Admitted(*second, call_, 10), 1);
}

TEST_F(RateLimiterTest, AGlobalTakeIsGivenBackWhenALaterRuleRefuses) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  v1::Rule global = GlobalRule("a-global", 10);
  v1::Rule local = QpsRule("b-local", 1, 1);
  auto limiter = RateLimiter::Create(Rules({global, local}), nullptr, options);
  ASSERT_EQ(sync->targets.size(), 1u);
  EXPECT_EQ(Admitted(*limiter, call_, 3), 1);
  EXPECT_EQ(sync->targets[0]->quotas[0]->Drain(sync->NowMs()).used, 1u);
}

TEST_F(RateLimiterTest, FailoverPassLetsCallsThroughWhileTheServerIsSilent) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  v1::Rule rule = GlobalRule("g", 2);
  rule.set_failover(v1::Rule::FAILOVER_PASS);
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, options);
  EXPECT_EQ(Admitted(*limiter, call_, 10), 10);
  sync->Answered();
  EXPECT_EQ(Admitted(*limiter, call_, 10), 2);
  // Silent for more than a second: passing again.
  clock_.Advance(absl::Milliseconds(kGlobalQuotaFreshMs + 1));
  EXPECT_EQ(Admitted(*limiter, call_, 10), 10);
}

TEST_F(RateLimiterTest, AWindowTheServerHasNotAnsweredKeepsToItsShareEvenWithFailoverPass) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  options.instances = 2;
  v1::Rule rule = GlobalRule("g", 10);
  rule.set_failover(v1::Rule::FAILOVER_PASS);
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, options);
  sync->AnsweredOthers();  // reachable, but silent about this window
  EXPECT_EQ(Admitted(*limiter, call_, 10), 5);
}

TEST_F(RateLimiterTest, EachValueOfAGlobalRuleHasItsOwnCounter) {
  auto sync = std::make_shared<FakeSync>(&clock_);
  RateLimiterOptions options = GlobalOptions(&clock_, sync);
  v1::Rule rule = GlobalRule("per-user", 1);
  AddArgument(rule, v1::MatchArgument::HEADER, "x-user", ".*", v1::MatchString::REGEX);
  auto limiter = RateLimiter::Create(Rules({rule}), nullptr, options);
  testing::FakeInboundCall alice = call_, bob = call_;
  alice.headers["x-user"] = "alice";
  bob.headers["x-user"] = "bob";
  EXPECT_EQ(Admitted(*limiter, alice, 3), 1);
  EXPECT_EQ(Admitted(*limiter, bob, 3), 1);
  std::vector<std::string> labels;
  for (const auto& target : sync->targets) labels.push_back(target->labels);
  EXPECT_THAT(labels, ::testing::IsSupersetOf({"|HEADER:x-user:alice", "|HEADER:x-user:bob"}));
}

TEST_F(RateLimiterTest, StreamMessagesArePacedNotRefused) {
  v1::Rule rule = QpsRule("ten", 10, 1);
  v1::Rule concurrency = ConcurrencyRule("in-flight", 5);
  auto limiter = RateLimiter::Create(Rules({rule, concurrency}), nullptr, Options());
  ASSERT_TRUE(limiter->paces());
  std::unique_ptr<RateLimiter::MessagePacer> pacer = limiter->PacerFor(call_);
  ASSERT_NE(pacer, nullptr);
  // The burst passes at once; then each message waits its turn, 100 ms
  // apart, however many come.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pacer->Next(), absl::ZeroDuration()) << i;
  EXPECT_EQ(pacer->Next(), absl::Milliseconds(100));
  EXPECT_EQ(pacer->Next(), absl::Milliseconds(200));
  // Within one limiter, calls and messages share the rule's window (servers
  // give messages a limiter of their own).
  EXPECT_FALSE(limiter->Acquire(call_).admitted());
  clock_.Advance(absl::Seconds(2));
  EXPECT_EQ(pacer->Next(), absl::ZeroDuration());
}

TEST_F(RateLimiterTest, AStreamMatchingNoQpsRuleIsNotPaced) {
  v1::Rule other = QpsRule("other-method", 1, 1);
  other.mutable_method()->mutable_value()->set_value("/echo.EchoService/Other");
  auto limiter = RateLimiter::Create(Rules({other, ConcurrencyRule("c", 1)}), nullptr, Options());
  EXPECT_EQ(limiter->PacerFor(call_), nullptr);
  auto none = RateLimiter::Create(Rules({ConcurrencyRule("c", 1)}), nullptr, Options());
  EXPECT_FALSE(none->paces());
}

}  // namespace
}  // namespace grpc_cpp_polaris
