// Server governance through the public API: a server installed with
// PolarisServer enforces its service's BLOCK_ALLOW_RULE and RATE_LIMIT rules,
// live from the control plane, on unary calls and stream opens, before the
// application sees them, and gives concurrency permits back however calls
// end.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/v1/block_allow_list.pb.h"
#include "proto/v1/fault_injection.pb.h"
#include "proto/v1/ratelimit.pb.h"
#include "sdk/limiter/rule_builders_for_test.h"
#include "server/polaris_server.h"
#include "server/queue_interceptor.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::kSanitized;
using mockplane::WaitUntil;

const ServiceKey kEcho{"default", echo::EchoServer::service_full_name()};

v1::Rule QpsRule(const std::string& id, uint32_t max, int64_t seconds) {
  return testing::QpsRule(kEcho, id, max, seconds);
}

v1::Rule ConcurrencyRule(const std::string& id, uint32_t max) {
  return testing::ConcurrencyRule(kEcho, id, max);
}

using testing::Limits;

v1::BlockAllowListRule BlockIp(const std::string& id, const std::string& ip) {
  v1::BlockAllowListRule rule;
  rule.set_id(id);
  rule.set_service(kEcho.service);
  rule.set_namespace_(kEcho.service_namespace);
  rule.set_enable(true);
  v1::BlockAllowConfig* config = rule.add_blockallowconfig();
  config->set_blockallowpolicy(v1::BlockAllowConfig::BLOCK_LIST);
  v1::BlockAllowConfig::MatchArgument* argument = config->add_arguments();
  argument->set_type(v1::BlockAllowConfig::MatchArgument::CALLER_IP);
  argument->mutable_value()->mutable_value()->set_value(ip);
  return rule;
}

// An async unary call in flight on a completion queue (its own tag).
struct PendingCall {
  grpc::ClientContext context;
  echo::EchoResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<echo::EchoResponse>> reader;

  static std::unique_ptr<PendingCall> Start(echo::EchoServer::Stub& stub,
                                            grpc::CompletionQueue& queue) {
    auto call = std::make_unique<PendingCall>();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    echo::EchoRequest request;
    call->reader = stub.AsyncEcho(&call->context, request, &queue);
    call->reader->Finish(&call->response, &call->status, call.get());
    return call;
  }
  // The next call of `queue` to finish.
  static PendingCall* Next(grpc::CompletionQueue& queue) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue.Next(&tag, &ok)) return nullptr;
    return static_cast<PendingCall*>(tag);
  }
};

class ServerGovernanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }
  void TearDown() override {
    if (polaris_ != nullptr) {
      EXPECT_TRUE(polaris_->Shutdown().ok());
    }
    backend_.reset();
    polaris_.reset();
  }

  // A backend on every local address (IPv4 and IPv6), governed by Polaris,
  // registered once its rules are in.
  void StartBackend() {
    EchoBackend::Options options;
    options.name = "governed";
    options.host = "::";
    options.prepare = [this](grpc::ServerBuilder& builder) {
      ServerOptions server_options;
      server_options.registration.control_plane_address = plane_->address();
      server_options.registration.host = "127.0.0.1";
      server_options.registration.deregister_propagation_delay = absl::ZeroDuration();
      auto installed = PolarisServer::Install(builder, server_options);
      ASSERT_TRUE(installed.ok()) << installed.status();
      polaris_ = std::move(*installed);
      polaris_->RegisterService<echo::EchoServer>();
    };
    auto backend = EchoBackend::Start(options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    backend_ = std::move(*backend);
    ASSERT_NE(polaris_, nullptr);
    ASSERT_TRUE(polaris_->Start(*backend_->server(), backend_->port()).ok());
  }

  std::unique_ptr<echo::EchoServer::Stub> Stub(const std::string& host) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return echo::EchoServer::NewStub(grpc::CreateCustomChannel(
        JoinHostPort(host, static_cast<uint32_t>(backend_->port())),
        grpc::InsecureChannelCredentials(), args));
  }

  static grpc::Status Call(echo::EchoServer::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    echo::EchoRequest request;
    echo::EchoResponse response;
    return stub.Echo(&context, request, &response);
  }

  // Waits until the gate enforces rules that `probe` shows in force.
  bool RulesInForce(const std::function<bool()>& probe) {
    return WaitUntil(probe, absl::Seconds(10));
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<PolarisServer> polaris_;
  std::unique_ptr<EchoBackend> backend_;
};

TEST_F(ServerGovernanceTest, RegistersEachServiceUnderItsGrpcName) {
  StartBackend();
  ASSERT_EQ(polaris_->registrations().size(), 1u);
  std::vector<Instance> instances = plane_->Instances(kEcho);
  ASSERT_EQ(instances.size(), 1u);
  EXPECT_EQ(instances[0].port, static_cast<uint32_t>(backend_->port()));
  auto stub = Stub("127.0.0.1");
  EXPECT_TRUE(Call(*stub).ok());
  EXPECT_EQ(polaris_->gate().counters().admitted, 1u);
}

TEST_F(ServerGovernanceTest, ABlockRuleDeniesAnIpv6CallerNamingTheRule) {
  plane_->SetBlockAllowList(kEcho, {BlockIp("no-loopback-v6", "::1")});
  StartBackend();
  auto v6 = Stub("::1");
  auto v4 = Stub("127.0.0.1");
  grpc::Status denied = Call(*v6);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(denied.error_message(), "polaris: denied by block/allow rule no-loopback-v6");
  EXPECT_TRUE(Call(*v4).ok());
  EXPECT_EQ(backend_->calls(), 1u);  // the application never saw the denied call
  EXPECT_EQ(polaris_->gate().counters().denied, 1u);

  // Rules are live: lift the block, block IPv4 instead.
  plane_->SetBlockAllowList(kEcho, {BlockIp("no-loopback-v4", "127.0.0.1")});
  ASSERT_TRUE(RulesInForce([&] { return !Call(*v4).ok(); }));
  EXPECT_TRUE(Call(*v6).ok());
  EXPECT_EQ(Call(*v4).error_message(), "polaris: denied by block/allow rule no-loopback-v4");
}

TEST_F(ServerGovernanceTest, ALocalLimitAdmitsItsRateOverFiveSeconds) {
  constexpr int kRate = 100;
  plane_->SetRateLimit(kEcho, Limits({QpsRule("hundred-per-second", kRate, 1)}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  // Two callers offer far more than the rate for 6 s; the calls admitted
  // after the burst has gone (the first second) are counted over 5 s, by
  // when each came back.
  const absl::Time start = absl::Now();
  const absl::Time window_start = start + absl::Seconds(1);
  const absl::Time end = window_start + absl::Seconds(5);
  std::atomic<int64_t> in_window{0}, limited{0}, other{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 10'000'000; ++i) {
        grpc::Status status = Call(*stub);
        const absl::Time now = absl::Now();
        if (now >= end) break;
        if (status.ok()) {
          if (now >= window_start) in_window.fetch_add(1);
        } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          limited.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_NEAR(in_window.load(), 5 * kRate, 5 * kRate * 0.02)
      << "limited " << limited.load() << ", other " << other.load();
  EXPECT_GT(limited.load(), 5 * kRate) << "the callers did not offer more than the rate";
  EXPECT_EQ(other.load(), 0);
}

TEST_F(ServerGovernanceTest, ALimitedCallNamesItsRuleOrGetsTheCustomResponse) {
  v1::Rule named = QpsRule("two-per-minute", 2, 60);
  plane_->SetRateLimit(kEcho, Limits({named}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  EXPECT_TRUE(Call(*stub).ok());
  EXPECT_TRUE(Call(*stub).ok());
  grpc::Status limited = Call(*stub);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.error_message(), "polaris: rate limited by rule two-per-minute");
  EXPECT_EQ(backend_->calls(), 2u);

  named.mutable_customresponse()->set_body("come back later");
  named.mutable_revision()->set_value("r2");
  plane_->SetRateLimit(kEcho, Limits({named}));
  ASSERT_TRUE(RulesInForce([&] { return Call(*stub).error_message() == "come back later"; }));
}

TEST_F(ServerGovernanceTest, StreamOpensAreLimited) {
  v1::Rule streams = QpsRule("three-chats", 3, 60);
  streams.mutable_method()->mutable_value()->set_value("Chat");
  plane_->SetRateLimit(kEcho, Limits({streams}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  int opened = 0, limited = 0;
  for (int i = 0; i < 5; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = stub->Chat(&context);
    echo::EchoRequest request;
    request.set_message("hello");
    echo::EchoResponse response;
    if (stream->Write(request) && stream->Read(&response)) {
      EXPECT_EQ(response.instance(), "governed");
      ++opened;
    }
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      EXPECT_EQ(status.error_message(), "polaris: rate limited by rule three-chats");
      ++limited;
    } else {
      EXPECT_TRUE(status.ok()) << status.error_message();
    }
  }
  EXPECT_EQ(opened, 3);
  EXPECT_EQ(limited, 2);
  EXPECT_TRUE(Call(*stub).ok());  // unary calls are not this rule's
}

// A stream's messages count as calls of its rules, and are held for their
// turn rather than refused: 40 messages at 20/s take about a second, and
// every one is answered.
TEST_F(ServerGovernanceTest, StreamMessagesArePacedNotRefused) {
  v1::Rule chats = QpsRule("twenty-per-second", 20, 1);
  chats.mutable_method()->mutable_value()->set_value("Chat");
  plane_->SetRateLimit(kEcho, Limits({chats}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->Chat(&context);
  constexpr int kMessages = 40;
  const absl::Time start = absl::Now();
  int answered = 0;
  echo::EchoRequest request;
  request.set_message("hello");
  echo::EchoResponse response;
  for (int i = 0; i < kMessages; ++i) {
    if (!stream->Write(request) || !stream->Read(&response)) break;
    ++answered;
  }
  const absl::Duration elapsed = absl::Now() - start;
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered, kMessages);
  // The first 20 messages use the burst of 20 (the opening counts in a
  // window of its own); the other 20 come 50 ms apart: about a second in
  // all however fast the machine (less a tick of the limiter's coarse
  // clock).
  EXPECT_GE(elapsed, absl::Milliseconds(950));
  EXPECT_GT(polaris_->gate().counters().messages_paced, 0u);
  EXPECT_EQ(polaris_->gate().counters().limited, 0u);
}

// "unirate": calls are spaced evenly, each waiting its turn in the filter up
// to the rule's maximum queueing delay; beyond it they are refused.
TEST_F(ServerGovernanceTest, UniformQueueingSpacesCallsAndRefusesBeyondTheMaximumWait) {
  v1::Rule rule = QpsRule("paced", 20, 1);  // one every 50 ms
  rule.mutable_action()->set_value("UNIRATE");
  rule.mutable_max_queue_delay()->set_value(1);
  plane_->SetRateLimit(kEcho, Limits({rule}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  grpc::CompletionQueue queue;
  constexpr int kCalls = 40;
  std::vector<std::unique_ptr<PendingCall>> calls;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) calls.push_back(PendingCall::Start(*stub, queue));
  int admitted = 0, refused = 0;
  absl::Time last_admitted = start;
  for (int i = 0; i < kCalls; ++i) {
    PendingCall* call = PendingCall::Next(queue);
    ASSERT_NE(call, nullptr);
    const grpc::Status& status = call->status;
    if (status.ok()) {
      ++admitted;
      last_admitted = absl::Now();
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      ++refused;
    }
  }
  // Slots every 50 ms from the first call's: those within 1 s of it pass
  // (21 if all 40 arrive at once, more if their arrival spreads).
  EXPECT_GE(admitted, 21);
  EXPECT_LT(admitted, kCalls);
  EXPECT_EQ(admitted + refused, kCalls);
  // The last admitted call waited for its slot: (admitted - 1) x 50 ms after
  // the first call's arrival as the limiter's coarse clock read it, which
  // may lag `start` by up to a kernel tick (10 ms at HZ=100).
  EXPECT_GE(last_admitted - start,
            absl::Milliseconds(50) * (admitted - 1) - absl::Milliseconds(10));
  queue.Shutdown();
}

TEST_F(ServerGovernanceTest, AClientCannotSetItsOwnQueueingWait) {
  v1::Rule rule = QpsRule("paced", 100, 1);
  rule.mutable_action()->set_value("unirate");
  plane_->SetRateLimit(kEcho, Limits({rule}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  context.AddMetadata(kQueueWaitMetadataKey, "60000000");  // a minute
  echo::EchoRequest request;
  echo::EchoResponse response;
  EXPECT_TRUE(stub->Echo(&context, request, &response).ok());
}

// Drills: a FAULT_INJECTION rule aborts its share of the calls with its
// code, and delays its share.
TEST_F(ServerGovernanceTest, FaultInjectionAbortsAndDelaysTheConfiguredShare) {
  v1::FaultInjection abort;
  abort.mutable_service()->set_value(kEcho.service);
  abort.mutable_namespace_()->set_value(kEcho.service_namespace);
  abort.mutable_enabled()->set_value(true);
  abort.mutable_abortfault()->set_abortpercent(30);
  abort.mutable_abortfault()->set_abortcode(503);
  plane_->SetFaultInjection(kEcho, {abort});
  StartBackend();
  auto stub = Stub("127.0.0.1");
  const int kCalls = kSanitized ? 2000 : 10000;
  int aborted = 0, other = 0;
  for (int i = 0; i < kCalls; ++i) {
    grpc::Status status = Call(*stub);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      EXPECT_EQ(status.error_message(),
                "polaris: fault injected (abort) by FAULT_INJECTION faultInjection[0]");
      ++aborted;
    } else if (!status.ok()) {
      ++other;
    }
  }
  EXPECT_NEAR(static_cast<double>(aborted) / kCalls, 0.30, 0.03);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(backend_->calls(), static_cast<uint64_t>(kCalls - aborted));

  // Every call delayed by 300 ms: each takes at least that long.
  v1::FaultInjection delay = abort;
  delay.clear_abortfault();
  delay.mutable_delayfault()->set_delaypercent(100);
  delay.mutable_delayfault()->set_delay(300);
  delay.mutable_revision()->set_value("delay");
  plane_->SetFaultInjection(kEcho, {delay});
  ASSERT_TRUE(RulesInForce([&] { return polaris_->gate().queueing(); }));
  for (int i = 0; i < 3; ++i) {
    const absl::Time start = absl::Now();
    EXPECT_TRUE(Call(*stub).ok());
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  }
}

// Concurrency permits come back on every way a call can end: completion,
// error, deadline, cancellation by the client.
TEST_F(ServerGovernanceTest, CancelledCallsLeaveNoPermitHeld) {
  // Far above a batch: streams the client already cancelled may still reach
  // the server and hold a permit for a moment.
  constexpr int kLimit = 5000;
  plane_->SetRateLimit(kEcho, Limits({ConcurrencyRule("in-flight", kLimit)}));
  StartBackend();
  auto stub = Stub("127.0.0.1");
  // Completion and error.
  EXPECT_TRUE(Call(*stub).ok());
  backend_->SetFailure(grpc::StatusCode::INTERNAL);
  EXPECT_EQ(Call(*stub).error_code(), grpc::StatusCode::INTERNAL);
  backend_->SetFailure(grpc::StatusCode::OK);
  // Deadline: the backend answers after a second, the caller gives up after 20 ms.
  backend_->SetLatency(absl::Seconds(1));
  {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(20)));
    echo::EchoRequest request;
    echo::EchoResponse response;
    EXPECT_EQ(stub->Echo(&context, request, &response).error_code(),
              grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // Cancellation, in batches of calls in flight at the backend.
  // Sanitized builds run 50x slower on CI's two cores: fewer calls, still
  // thousands of cancellations racing the filter.
  const int kCalls = kSanitized ? 2000 : 100000;
  constexpr int kBatch = 200;
  grpc::CompletionQueue queue;
  int limited = 0, cancelled = 0;
  for (int done = 0; done < kCalls; done += kBatch) {
    // The server lets go of cancelled calls asynchronously: room for a whole
    // batch first, so that no call of it is limited by earlier ones.
    ASSERT_TRUE(WaitUntil([&] { return polaris_->gate().permits_held() <= kLimit - kBatch; },
                          absl::Seconds(60), absl::Milliseconds(1)));
    std::vector<std::unique_ptr<PendingCall>> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(PendingCall::Start(*stub, queue));
    // Let some reach the backend before the whole batch is cancelled.
    if ((done / kBatch) % 2 == 0) {
      WaitUntil([&] { return polaris_->gate().permits_held() >= kBatch / 2; }, absl::Seconds(5),
                absl::Milliseconds(1));
    }
    for (auto& call : batch) call->context.TryCancel();
    for (int i = 0; i < kBatch; ++i) {
      PendingCall* call = PendingCall::Next(queue);
      ASSERT_NE(call, nullptr);
      const grpc::Status& status = call->status;
      if (status.error_code() == grpc::StatusCode::CANCELLED) ++cancelled;
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++limited;
    }
  }
  EXPECT_EQ(cancelled, kCalls);
  EXPECT_EQ(limited, 0);
  // The server learns of the cancellations asynchronously, and may still be
  // taking in streams the client has already given up: wait for it to settle.
  backend_->SetLatency(absl::ZeroDuration());
  EXPECT_TRUE(WaitUntil([&] { return polaris_->gate().permits_held() == 0; }, absl::Seconds(120)))
      << polaris_->gate().permits_held() << " permits still held";
  grpc::Status last;
  EXPECT_TRUE(WaitUntil(
      [&] {
        last = Call(*stub);
        return last.ok();
      },
      absl::Seconds(120)))
      << last.error_code() << ": " << last.error_message();
  EXPECT_TRUE(WaitUntil([&] { return polaris_->gate().permits_held() == 0; }, absl::Seconds(120)))
      << polaris_->gate().permits_held() << " permits still held";
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
}

TEST_F(ServerGovernanceTest, AConcurrencyLimitRefusesCallsBeyondIt) {
  plane_->SetRateLimit(kEcho, Limits({ConcurrencyRule("two-at-a-time", 2)}));
  StartBackend();
  backend_->SetLatency(absl::Seconds(2));
  auto stub = Stub("127.0.0.1");
  grpc::CompletionQueue queue;
  std::vector<std::unique_ptr<PendingCall>> calls;
  for (int i = 0; i < 2; ++i) calls.push_back(PendingCall::Start(*stub, queue));
  ASSERT_TRUE(WaitUntil([&] { return polaris_->gate().permits_held() == 2; }, absl::Seconds(10)));
  grpc::Status third = Call(*stub);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(third.error_message(), "polaris: rate limited by rule two-at-a-time");
  for (int i = 0; i < 2; ++i) {
    PendingCall* call = PendingCall::Next(queue);
    ASSERT_NE(call, nullptr);
    EXPECT_TRUE(call->status.ok());
  }
  EXPECT_TRUE(WaitUntil([&] { return polaris_->gate().permits_held() == 0; }, absl::Seconds(10)));
  queue.Shutdown();
}

}  // namespace
}  // namespace grpc_cpp_polaris
