// Instance circuit breaking through the public API: polaris:// channels
// against the mockplane and real echo backends, one of which fails (with a
// status, or by answering after the callers' deadline). Counts calls at the
// client and transitions through the breaker listener API.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/fallback_interceptor.h"
#include "client/polaris_client.h"
#include "integration/echo_service_fixture.h"
#include "mockplane/wait.h"
#include "proto/v1/circuitbreaker.pb.h"
#include "proto/v1/fault_detector.pb.h"
#include "sdk/breaker/breaker_rule_builders.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;
using testing::Tally;

// The transitions of Echo's breakers, as the listener API reports them.
class Transitions {
 public:
  Transitions() {
    id_ = AddBreakerListener([this](const BreakerEvent& event) {
      if (!(event.service == testing::kEcho)) return;
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
    });
  }
  ~Transitions() { RemoveBreakerListener(id_); }

  // Transitions of `address` into `to` so far.
  int Count(const std::string& address, BreakerState to) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(events_.begin(), events_.end(), [&](const BreakerEvent& e) {
      return e.resource == address && e.to == to;
    }));
  }
  int Total() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(events_.size());
  }
  std::string Dump() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const BreakerEvent& event : events_) absl::StrAppend(&out, event.ToString(), "\n");
    return out;
  }

 private:
  uint64_t id_ = 0;
  std::mutex mu_;
  std::vector<BreakerEvent> events_;
};

class CircuitBreakerTest : public testing::EchoServiceTest {
 protected:
  // Breaking with a short sleep window, so that recovery is seen in a test.
  static ClientOptions Breaking(absl::Duration sleep = absl::Seconds(2)) {
    ClientOptions options;
    options.governance.circuit_breaking.instance.sleep_window = sleep;
    options.governance.circuit_breaking.instance.max_sleep_window = 2 * sleep;
    return options;
  }

  // Calls until `done` holds (checked every 10 calls), at most `max_calls`.
  static bool CallUntil(echo::EchoServer::Stub& stub, const std::function<bool()>& done,
                        int max_calls = 3000, absl::Duration deadline = absl::Seconds(10)) {
    for (int i = 0; i < max_calls; i += 10) {
      CountWithDeadline(stub, 10, deadline);
      if (done()) return true;
    }
    return done();
  }

  // `calls` sequential calls with a per-call deadline (not wait_for_ready:
  // a failure is a failure).
  static Tally CountWithDeadline(echo::EchoServer::Stub& stub, int calls,
                                 absl::Duration deadline) {
    return Count(stub, calls, [deadline](grpc::ClientContext* context) {
      context->set_wait_for_ready(false);
      context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    });
  }

  // Calls for `duration` (at most `max_calls`).
  static Tally CallFor(echo::EchoServer::Stub& stub, absl::Duration duration,
                       absl::Duration deadline, int max_calls = 200000) {
    Tally tally;
    const absl::Time end = absl::Now() + duration;
    for (int i = 0; i < max_calls && absl::Now() < end; i += 50) {
      Tally part = CountWithDeadline(stub, 50, deadline);
      for (const auto& [name, count] : part.by_backend) tally.by_backend[name] += count;
      tally.failed += part.failed;
      if (part.failed > 0) tally.last_error = part.last_error;
    }
    return tally;
  }

  void StartThree() {
    for (const char* name : {"a", "b", "bad"}) AddBackend(name, {});
    stub_ = NewStub();
    ASSERT_TRUE(WaitUntil(
        [&] { return Count(*stub_, 30).by_backend.size() == 3; }, absl::Seconds(20)));
  }

  std::string Address(const std::string& name) { return backends_[name]->address(); }

  // Serves `cb`, starts three backends that then fail every call, and makes
  // 3 calls (which fail): the rule's breaker opens.
  void FailEveryBackendUntilOpen(const v1::CircuitBreaker& cb, Transitions& transitions) {
    plane_->SetCircuitBreaker(testing::kEcho, cb);
    StartThree();
    for (auto& [name, backend] : backends_) backend->SetFailure(grpc::StatusCode::INTERNAL);
    EXPECT_EQ(CountWithDeadline(*stub_, 3, absl::Seconds(10)).failed, 3);
    ASSERT_TRUE(WaitUntil([&] { return transitions.Total() > 0; }, absl::Seconds(10)));
  }

  // Calls for 5 s (each with `deadline`): fewer than 1% may fail.
  Tally ExpectFewFailuresFor5s(const char* what, absl::Duration deadline,
                               Transitions& transitions) {
    Tally during = CallFor(*stub_, absl::Seconds(5), deadline);
    printf("%s: %d of %d calls failed over 5 s\n", what, during.failed, during.total());
    EXPECT_GT(during.total(), 200);
    EXPECT_LT(during.failed * 100, during.total())
        << during.failed << " of " << during.total() << " failed; " << during.last_error << "\n"
        << transitions.Dump();
    return during;
  }

  std::unique_ptr<echo::EchoServer::Stub> stub_;
};

TEST_F(CircuitBreakerTest, AFailingInstanceIsEjectedAndProbedBackOnceItRecovers) {
  ASSERT_TRUE(Init(Breaking()).ok());
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::UNAVAILABLE);
  const std::string bad = Address("bad");
  ASSERT_TRUE(CallUntil(*stub_, [&] { return transitions.Count(bad, BreakerState::kOpen) > 0; }))
      << transitions.Dump();
  // Ejected: over 5 s, fewer than 1% of calls fail (each half-open round
  // costs one failed probe: the sleep window is 2 s, then 4 s).
  ExpectFewFailuresFor5s("failing instance ejected", absl::Seconds(10), transitions);
  EXPECT_GE(transitions.Count(bad, BreakerState::kHalfOpen), 1) << transitions.Dump();
  // It recovers: the next half-open round (within the 4 s sleep window)
  // probes it and closes it, and it takes calls again.
  backends_["bad"]->SetFailure(grpc::StatusCode::OK);
  const absl::Time recovered = absl::Now();
  ASSERT_TRUE(CallUntil(
      *stub_, [&] { return transitions.Count(bad, BreakerState::kClosed) > 0; }, 100000))
      << transitions.Dump();
  printf("recovered instance closed after %s\n",
         absl::FormatDuration(absl::Now() - recovered).c_str());
  EXPECT_LE(absl::Now() - recovered, absl::Seconds(4) + absl::Seconds(2)) << transitions.Dump();
  Tally after = CountWithDeadline(*stub_, 300, absl::Seconds(10));
  EXPECT_EQ(after.failed, 0) << after.last_error;
  EXPECT_GT(after.by_backend["bad"], 30);
  // The other two never left.
  EXPECT_EQ(transitions.Count(Address("a"), BreakerState::kOpen), 0);
  EXPECT_EQ(transitions.Count(Address("b"), BreakerState::kOpen), 0);
}

TEST_F(CircuitBreakerTest, AnInstanceSlowerThanTheDeadlineIsEjected) {
  ASSERT_TRUE(Init(Breaking(absl::Seconds(30))).ok());
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetLatency(absl::Seconds(2));
  const std::string bad = Address("bad");
  ASSERT_TRUE(CallUntil(
      *stub_, [&] { return transitions.Count(bad, BreakerState::kOpen) > 0; }, 3000,
      absl::Milliseconds(200)))
      << transitions.Dump();
  Tally during =
      ExpectFewFailuresFor5s("slow instance ejected", absl::Milliseconds(200), transitions);
  EXPECT_EQ(during.by_backend["bad"], 0);
}

TEST_F(CircuitBreakerTest, WithBreakingOffAFailingInstanceKeepsFailingItsShare) {
  ClientOptions options;
  options.governance.circuit_breaking.enabled = false;
  ASSERT_TRUE(Init(options).ok());
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::UNAVAILABLE);
  Tally tally = CountWithDeadline(*stub_, 600, absl::Seconds(10));
  // About a third fails (binomial: 200 expected, far from 100 either way).
  EXPECT_GT(tally.failed, 100);
  EXPECT_LT(tally.failed, 300);
  EXPECT_EQ(transitions.Total(), 0) << transitions.Dump();
}

TEST_F(CircuitBreakerTest, TenThousandSuccessfulCallsLeaveEveryBreakerClosed) {
  ASSERT_TRUE(Init(Breaking()).ok());
  Transitions transitions;
  StartThree();
  const BreakerCounters before = GetBreakerCounters(testing::kEcho);
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      failed += CountWithDeadline(*stub_, 2500, absl::Seconds(10)).failed;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failed.load(), 0);
  const BreakerCounters after = GetBreakerCounters(testing::kEcho);
  EXPECT_EQ(after.opened, before.opened);
  EXPECT_EQ(after.not_closed, before.not_closed);
  EXPECT_EQ(transitions.Total(), 0) << transitions.Dump();
}

TEST_F(CircuitBreakerTest, TheEjectionCapHoldsWhenHalfTheInstancesFail) {
  ClientOptions options = Breaking(absl::Seconds(60));
  options.governance.circuit_breaking.max_open_percent = 25;  // 1 of 4
  ASSERT_TRUE(Init(options).ok());
  Transitions transitions;
  for (const char* name : {"a", "b", "bad1", "bad2"}) AddBackend(name, {});
  stub_ = NewStub();
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub_, 40).by_backend.size() == 4; },
                        absl::Seconds(20)));
  backends_["bad1"]->SetFailure(grpc::StatusCode::INTERNAL);
  backends_["bad2"]->SetFailure(grpc::StatusCode::INTERNAL);
  auto open = [&] {
    return transitions.Count(Address("bad1"), BreakerState::kOpen) +
           transitions.Count(Address("bad2"), BreakerState::kOpen);
  };
  ASSERT_TRUE(CallUntil(*stub_, [&] { return open() >= 1; })) << transitions.Dump();
  // Both keep failing, but only one may be out: the other keeps its calls.
  Tally tally = CountWithDeadline(*stub_, 600, absl::Seconds(10));
  EXPECT_EQ(open(), 1) << transitions.Dump();
  const int still_called = tally.by_backend["bad1"] + tally.by_backend["bad2"] + tally.failed;
  EXPECT_GT(still_called, 100);  // about a third of 600 go to the one left in
}

// A CIRCUIT_BREAKER rule from the control plane: RESOURCE_EXHAUSTED (code
// 8, not a failure by default) counts, and 3 in a row open the instance.
TEST_F(CircuitBreakerTest, AnInstanceRuleFromTheControlPlaneDecidesWhatFailsAndWhenItOpens) {
  ASSERT_TRUE(Init(Breaking()).ok());
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = testing::AddBreakerRule(&cb, "echo-instances", v1::INSTANCE, testing::kEcho);
  testing::AddRetCode(rule->mutable_error_conditions(), v1::MatchString::IN, "8,14");
  testing::AddConsecutive(rule->mutable_trigger_condition(), 3);
  rule->mutable_recovercondition()->set_sleep_window(60);
  plane_->SetCircuitBreaker(testing::kEcho, cb);
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::RESOURCE_EXHAUSTED);
  const std::string bad = Address("bad");
  ASSERT_TRUE(CallUntil(*stub_, [&] { return transitions.Count(bad, BreakerState::kOpen) > 0; }))
      << transitions.Dump();
  EXPECT_NE(transitions.Dump().find("3 consecutive failures; open for 1m"), std::string::npos)
      << transitions.Dump();
  // The channel rebuilds its picker after the event (on its own thread):
  // once a batch of 50 calls misses "bad" (by chance: (2/3)^50), it is out.
  ASSERT_TRUE(WaitUntil([&] { return CountWithDeadline(*stub_, 50, absl::Seconds(10)).failed == 0; },
                        absl::Seconds(20)));
  Tally after = CountWithDeadline(*stub_, 300, absl::Seconds(10));
  EXPECT_EQ(after.failed, 0) << after.last_error;
}

// Active probing from the options: the open instance is asked for its
// gRPC health every 200 ms; while it says NOT_SERVING it stays out (its
// 60 s sleep window running), and once it answers SERVING it goes
// half-open at once and its probe calls close it.
TEST_F(CircuitBreakerTest, AnOpenInstanceIsProbedByItsHealthServiceAndBackAtOnce) {
  ClientOptions options = Breaking(absl::Seconds(60));
  options.governance.circuit_breaking.active_probe.enabled = true;
  options.governance.circuit_breaking.active_probe.protocol = "grpc";
  options.governance.circuit_breaking.active_probe.interval = absl::Milliseconds(200);
  // The channel's own health checking would keep calls off the NOT_SERVING
  // instance altogether; this test is about the breaker's probes.
  options.governance.health_check.enabled = false;
  ASSERT_TRUE(Init(options).ok());
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::UNAVAILABLE);
  backends_["bad"]->SetServing(false);
  const std::string bad = Address("bad");
  const BreakerCounters before = GetBreakerCounters(testing::kEcho);
  ASSERT_TRUE(CallUntil(*stub_, [&] { return transitions.Count(bad, BreakerState::kOpen) > 0; }))
      << transitions.Dump();
  ASSERT_TRUE(WaitUntil(
      [&] { return GetBreakerCounters(testing::kEcho).probes_failed >= before.probes_failed + 3; },
      absl::Seconds(20)));
  EXPECT_EQ(transitions.Count(bad, BreakerState::kHalfOpen), 0) << transitions.Dump();
  backends_["bad"]->SetFailure(grpc::StatusCode::OK);
  backends_["bad"]->SetServing(true);
  const absl::Time recovered = absl::Now();
  ASSERT_TRUE(CallUntil(
      *stub_, [&] { return transitions.Count(bad, BreakerState::kClosed) > 0; }, 100000))
      << transitions.Dump();
  printf("probed instance closed %s after it recovered (sleep window 60 s)\n",
         absl::FormatDuration(absl::Now() - recovered).c_str());
  EXPECT_LT(absl::Now() - recovered, absl::Seconds(30)) << transitions.Dump();
  EXPECT_NE(transitions.Dump().find("an active probe succeeded"), std::string::npos)
      << transitions.Dump();
  EXPECT_GE(GetBreakerCounters(testing::kEcho).probes_succeeded, before.probes_succeeded + 1);
}

// Probing from the control plane: an INSTANCE rule with
// faultDetectConfig.enable and a FAULT_DETECTOR rule probing by TCP connect
// (the failing backend still accepts connections: it goes half-open long
// before its 60 s sleep window ends).
TEST_F(CircuitBreakerTest, AFaultDetectorRuleProbesOpenInstancesByTcp) {
  ASSERT_TRUE(Init(Breaking()).ok());
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule =
      testing::AddBreakerRule(&cb, "echo-instances", v1::INSTANCE, testing::kEcho);
  testing::AddConsecutive(rule->mutable_trigger_condition(), 3);
  rule->mutable_recovercondition()->set_sleep_window(60);
  rule->mutable_faultdetectconfig()->set_enable(true);
  plane_->SetCircuitBreaker(testing::kEcho, cb);
  v1::FaultDetector detector;
  v1::FaultDetectRule* probe = detector.add_rules();
  probe->set_id("tcp-probe");
  probe->mutable_target_service()->set_namespace_("default");
  probe->mutable_target_service()->set_service("Echo");
  probe->set_protocol(v1::FaultDetectRule::TCP);
  probe->set_interval(1);
  probe->set_timeout(500);
  plane_->SetFaultDetector(testing::kEcho, detector);
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::UNAVAILABLE);
  const std::string bad = Address("bad");
  const absl::Time start = absl::Now();
  ASSERT_TRUE(CallUntil(*stub_, [&] { return transitions.Count(bad, BreakerState::kHalfOpen) > 0; },
                        100000))
      << transitions.Dump();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30)) << transitions.Dump();
  EXPECT_NE(transitions.Dump().find("open -> half-open (an active probe succeeded)"),
            std::string::npos)
      << transitions.Dump();
}

v1::CircuitBreakerRule* AddEchoRule(v1::CircuitBreaker* cb, const std::string& id, v1::Level level,
                                    uint32_t consecutive) {
  v1::CircuitBreakerRule* rule = testing::AddBreakerRule(cb, id, level, testing::kEcho);
  testing::AddConsecutive(rule->mutable_trigger_condition(), consecutive);
  rule->mutable_recovercondition()->set_sleep_window(60);
  return rule;
}

uint64_t BackendCalls(std::map<std::string, std::unique_ptr<mockplane::EchoBackend>>& backends) {
  uint64_t calls = 0;
  for (auto& [name, backend] : backends) calls += backend->calls();
  return calls;
}

// A METHOD rule covering Echo: once Echo keeps failing, Echo calls fail at
// once in the client, while the service's other method still reaches the
// backends.
TEST_F(CircuitBreakerTest, AMethodBreakerOpensForTheFailingMethodOnly) {
  ASSERT_TRUE(Init(Breaking()).ok());
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddEchoRule(&cb, "echo-method", v1::METHOD, 3);
  v1::BlockConfig* block = rule->add_block_configs();
  block->mutable_api()->mutable_path()->mutable_value()->set_value(
      "/grpc_cpp_polaris.echo.EchoServer/Echo");
  testing::AddConsecutive(block->mutable_trigger_conditions(), 3);
  Transitions transitions;
  ASSERT_NO_FATAL_FAILURE(FailEveryBackendUntilOpen(cb, transitions));
  EXPECT_NE(transitions.Dump().find("method echo-method: closed -> open (3 consecutive failures"),
            std::string::npos)
      << transitions.Dump();
  const uint64_t before = BackendCalls(backends_);
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);  // a Drop fails even these at once
    echo::EchoRequest request;
    echo::EchoResponse response;
    grpc::Status status = stub_->Echo(&context, request, &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    ASSERT_NE(status.error_message().find(
                  "circuit breaker of method /grpc_cpp_polaris.echo.EchoServer/Echo of "
                  "default/Echo is open (rule echo-method)"),
              std::string::npos)
        << status.error_message();
  }
  EXPECT_EQ(BackendCalls(backends_), before);  // none left the client
  // Chat is not covered: it reaches a backend.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = stub_->Chat(&context);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(BackendCalls(backends_), before + 1);
}

// A SERVICE rule with a fallback: once the service keeps failing, every call
// fails at once with the fallback's code, without reaching any backend.
TEST_F(CircuitBreakerTest, AnOpenServiceBreakerFailsCallsAtOnceWithTheRulesCode) {
  ASSERT_TRUE(Init(Breaking()).ok());
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddEchoRule(&cb, "echo-service", v1::SERVICE, 3);
  rule->mutable_fallbackconfig()->set_enable(true);
  rule->mutable_fallbackconfig()->mutable_response()->set_code(8);  // RESOURCE_EXHAUSTED
  Transitions transitions;
  ASSERT_NO_FATAL_FAILURE(FailEveryBackendUntilOpen(cb, transitions));
  EXPECT_NE(transitions.Dump().find("default/Echo service: closed -> open"), std::string::npos)
      << transitions.Dump();
  const uint64_t before = BackendCalls(backends_);
  Tally refused = CountWithDeadline(*stub_, 100, absl::Seconds(10));
  EXPECT_EQ(refused.failed, 100);
  EXPECT_NE(refused.last_error.find("circuit breaker of service default/Echo is open (rule "
                                    "echo-service)"),
            std::string::npos)
      << refused.last_error;
  EXPECT_EQ(BackendCalls(backends_), before);
  grpc::ClientContext context;
  echo::EchoRequest request;
  echo::EchoResponse response;
  EXPECT_EQ(stub_->Echo(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// With the fallback interceptor installed, refused calls carry the rule's
// fallback: its body as the message, its headers as trailing metadata.
TEST_F(CircuitBreakerTest, TheFallbackInterceptorGivesRefusedCallsTheRulesFallback) {
  ASSERT_TRUE(Init(Breaking()).ok());
  v1::CircuitBreaker cb;
  v1::CircuitBreakerRule* rule = AddEchoRule(&cb, "echo-fallback", v1::SERVICE, 3);
  rule->mutable_fallbackconfig()->set_enable(true);
  v1::FallbackResponse* response = rule->mutable_fallbackconfig()->mutable_response();
  response->set_code(503);
  response->set_body("try again later");
  v1::FallbackResponse::MessageHeader* header = response->add_headers();
  header->set_key("X-Fallback");
  header->set_value("yes");
  Transitions transitions;
  ASSERT_NO_FATAL_FAILURE(FailEveryBackendUntilOpen(cb, transitions));
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(MakeFallbackInterceptorFactory());
  grpc::ChannelArguments args;
  args.SetString(kControlPlaneAddressArg, plane_->address());
  auto stub = echo::EchoServer::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
      "polaris://Echo", grpc::InsecureChannelCredentials(), args, std::move(factories)));
  const uint64_t before = BackendCalls(backends_);
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    echo::EchoRequest request;
    echo::EchoResponse answer;
    grpc::Status status = stub->Echo(&context, request, &answer);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_EQ(status.error_message(), "try again later");
    auto trailing = context.GetServerTrailingMetadata();
    auto found = trailing.find("x-fallback");
    ASSERT_NE(found, trailing.end());
    EXPECT_EQ(std::string(found->second.data(), found->second.size()), "yes");
  }
  EXPECT_EQ(BackendCalls(backends_), before);
  // Without the interceptor, the refusal itself.
  Tally plain = CountWithDeadline(*stub_, 1, absl::Seconds(10));
  EXPECT_NE(plain.last_error.find("circuit breaker of service default/Echo is open"),
            std::string::npos)
      << plain.last_error;
}

// The control: without the rule RESOURCE_EXHAUSTED is not a failure, and
// the instance keeps its share of calls.
TEST_F(CircuitBreakerTest, WithoutARuleOnlyTheDefaultCodesFail) {
  ASSERT_TRUE(Init(Breaking()).ok());
  Transitions transitions;
  StartThree();
  backends_["bad"]->SetFailure(grpc::StatusCode::RESOURCE_EXHAUSTED);
  Tally tally = CountWithDeadline(*stub_, 300, absl::Seconds(10));
  EXPECT_GT(tally.failed, 50);
  EXPECT_EQ(transitions.Total(), 0) << transitions.Dump();
}

}  // namespace
}  // namespace grpc_cpp_polaris
