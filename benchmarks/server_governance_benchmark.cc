// Server governance on the call path.
//
//   tools/bazel run -c opt //benchmarks:server_governance_benchmark --
//       --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// (one command line)
//
// BM_LocalAcquire: one RateLimiter::Acquire of a call matching a QPS rule
// (method and header arguments) that always admits, on 1 and 2 threads;
// BM_ConcurrencyAcquire the same with a concurrency rule (take and give
// back a permit); BM_GlobalAcquire the same rule made GLOBAL, kept by the
// mockplane's rate-limit server through a live QuotaClient reporting every
// 40 ms (the report thread runs beside the calls; reports_per_M_calls shows
// the batching); BM_MutexBaseline a mutex-guarded counter, for scale.
//
// BM_FilterInterleaved: unary calls over loopback to two echo servers in
// this process, one plain and one installed with PolarisServer whose
// service has a block rule (not matching) and a rate limit (always
// admitting), alternating batches: per-call times and their ratio.
#include <memory>
#include <mutex>
#include <string>

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/v1/block_allow_list.pb.h"
#include "proto/v1/ratelimit.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/limiter/rate_limiter.h"
#include "sdk/limiter/rule_builders_for_test.h"
#include "sdk/parse_for_test.h"
#include "sdk/quota_client.h"
#include "sdk/rule/fake_inbound_call.h"
#include "server/polaris_server.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;

const ServiceKey kEcho{"default", echo::EchoServer::service_full_name()};

// A rule every benchmark call matches (method and header) and that always
// admits.
v1::Rule QpsRule() {
  v1::Rule rule = testing::QpsRule(kEcho, "wide", 4'000'000'000u, 1);
  rule.mutable_method()->mutable_value()->set_value("Echo");
  testing::AddArgument(rule, v1::MatchArgument::HEADER, "x-tenant", "t1");
  return rule;
}

std::shared_ptr<const RateLimiter> Limiter(v1::Rule rule) {
  v1::DiscoverResponse answer;
  *answer.mutable_ratelimit()->add_rules() = std::move(rule);
  auto rules = testing::ParseAnswer<RateLimitRules>(
      *MakeRateLimitRulesParser(), ResourceType::kRateLimit, kEcho, std::move(answer));
  return RateLimiter::Create(*rules, nullptr, RateLimiterOptions{});
}

testing::FakeInboundCall Call() {
  testing::FakeInboundCall call;
  call.method_name = "/grpc_cpp_polaris.echo.EchoServer/Echo";
  call.headers["x-tenant"] = "t1";
  return call;
}

void BM_LocalAcquire(benchmark::State& state) {
  static std::shared_ptr<const RateLimiter> limiter = Limiter(QpsRule());
  const testing::FakeInboundCall call = Call();
  for (auto _ : state) {
    LimitDecision decision = limiter->Acquire(call);
    if (!decision.admitted()) std::abort();
  }
}
BENCHMARK(BM_LocalAcquire)->Threads(1)->Threads(2);

void BM_ConcurrencyAcquire(benchmark::State& state) {
  static std::shared_ptr<const RateLimiter> limiter = [] {
    v1::Rule rule = QpsRule();
    rule.clear_amounts();
    rule.set_resource(v1::Rule::CONCURRENCY);
    rule.mutable_concurrencyamount()->set_maxamount(1'000'000);
    return Limiter(rule);
  }();
  const testing::FakeInboundCall call = Call();
  for (auto _ : state) {
    LimitDecision decision = limiter->Acquire(call);
    if (!decision.admitted()) std::abort();
  }
}
BENCHMARK(BM_ConcurrencyAcquire)->Threads(1)->Threads(2);

// A GLOBAL rule kept by the mockplane's rate-limit server in this process,
// reported every 40 ms by a live QuotaClient while the calls run.
struct GlobalFixture {
  std::unique_ptr<ControlPlane> plane;
  std::shared_ptr<QuotaClient> client;
  std::shared_ptr<const RateLimiter> limiter;
};

GlobalFixture& Global() {
  static GlobalFixture* fixture = [] {
    auto* f = new GlobalFixture;
    f->plane = ControlPlane::Start().value();
    QuotaClientOptions options;
    options.client_id = "benchmark";
    options.locate = [address = f->plane->ratelimit_address()](const GlobalQuotaTarget&) {
      return address;
    };
    f->client = QuotaClient::Start(options).value();
    v1::Rule rule = QpsRule();
    rule.set_type(v1::Rule::GLOBAL);
    v1::DiscoverResponse answer;
    *answer.mutable_ratelimit()->add_rules() = std::move(rule);
    auto rules = testing::ParseAnswer<RateLimitRules>(
        *MakeRateLimitRulesParser(), ResourceType::kRateLimit, kEcho, std::move(answer));
    RateLimiterOptions limiter_options;
    limiter_options.global_sync = f->client;
    f->limiter = RateLimiter::Create(*rules, nullptr, limiter_options);
    // Measured once the server has answered.
    if (!mockplane::WaitUntil([f] { return f->client->stats().reports > 0; }, absl::Seconds(10))) {
      std::abort();
    }
    return f;
  }();
  return *fixture;
}

void BM_GlobalAcquire(benchmark::State& state) {
  GlobalFixture& fixture = Global();
  const testing::FakeInboundCall call = Call();
  const uint64_t reports = fixture.client->stats().reports;
  for (auto _ : state) {
    LimitDecision decision = fixture.limiter->Acquire(call);
    if (!decision.admitted()) std::abort();
  }
  if (state.thread_index() == 0) {
    // Round trips to the rate-limit server per million calls: batching.
    state.counters["reports_per_M_calls"] = benchmark::Counter(
        static_cast<double>(fixture.client->stats().reports - reports) * 1e6 /
        static_cast<double>(state.iterations() * state.threads()));
  }
}
BENCHMARK(BM_GlobalAcquire)->Threads(1)->Threads(2);

void BM_MutexBaseline(benchmark::State& state) {
  static std::mutex mu;
  static int64_t counter = 0;
  for (auto _ : state) {
    std::lock_guard<std::mutex> lock(mu);
    benchmark::DoNotOptimize(++counter);
  }
}
BENCHMARK(BM_MutexBaseline)->Threads(1)->Threads(2);

class FilterFixture {
 public:
  static FilterFixture& Get() {
    static FilterFixture* fixture = new FilterFixture();
    return *fixture;
  }
  echo::EchoServer::Stub& plain() { return *plain_stub_; }
  echo::EchoServer::Stub& governed() { return *governed_stub_; }

  static void Call(echo::EchoServer::Stub& stub) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    context.AddMetadata("x-tenant", "t1");
    echo::EchoRequest request;
    echo::EchoResponse response;
    if (!stub.Echo(&context, request, &response).ok()) std::abort();
  }

 private:
  FilterFixture() {
    plane_ = std::move(ControlPlane::Start().value());
    v1::RateLimit limits;
    *limits.add_rules() = QpsRule();
    plane_->SetRateLimit(kEcho, limits);
    v1::BlockAllowListRule block;
    block.set_id("nobody");
    block.set_service(kEcho.service);
    block.set_namespace_(kEcho.service_namespace);
    block.set_enable(true);
    v1::BlockAllowConfig* config = block.add_blockallowconfig();
    config->set_blockallowpolicy(v1::BlockAllowConfig::BLOCK_LIST);
    v1::BlockAllowConfig::MatchArgument* ip = config->add_arguments();
    ip->set_type(v1::BlockAllowConfig::MatchArgument::CALLER_IP);
    ip->mutable_value()->mutable_value()->set_value("192.0.2.1");
    plane_->SetBlockAllowList(kEcho, {block});

    plain_ = std::move(EchoBackend::Start({"plain"}).value());
    EchoBackend::Options options;
    options.name = "governed";
    options.prepare = [this](grpc::ServerBuilder& builder) {
      ServerOptions server_options;
      server_options.registration.control_plane_address = plane_->address();
      server_options.registration.host = "127.0.0.1";
      polaris_ = std::move(PolarisServer::Install(builder, server_options).value());
      polaris_->RegisterService<echo::EchoServer>();
    };
    governed_ = std::move(EchoBackend::Start(options).value());
    if (!polaris_->Start(*governed_->server(), governed_->port()).ok()) std::abort();
    plain_stub_ = echo::EchoServer::NewStub(
        grpc::CreateChannel(plain_->address(), grpc::InsecureChannelCredentials()));
    governed_stub_ = echo::EchoServer::NewStub(
        grpc::CreateChannel(governed_->address(), grpc::InsecureChannelCredentials()));
    for (int i = 0; i < 300; ++i) {
      Call(*plain_stub_);
      Call(*governed_stub_);
    }
    if (polaris_->gate().counters().admitted == 0) std::abort();  // the filter is there
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<EchoBackend> plain_;
  std::unique_ptr<PolarisServer> polaris_;
  std::unique_ptr<EchoBackend> governed_;
  std::unique_ptr<echo::EchoServer::Stub> plain_stub_;
  std::unique_ptr<echo::EchoServer::Stub> governed_stub_;
};

void BM_FilterInterleaved(benchmark::State& state) {
  constexpr int kBatch = 50;
  FilterFixture& fixture = FilterFixture::Get();
  absl::Duration governed, plain;
  int64_t batches = 0;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < kBatch; ++i) FilterFixture::Call(fixture.governed());
    const absl::Time middle = absl::Now();
    for (int i = 0; i < kBatch; ++i) FilterFixture::Call(fixture.plain());
    plain += absl::Now() - middle;
    governed += middle - start;
    ++batches;
  }
  const double calls = static_cast<double>(batches * kBatch);
  state.counters["governed_us"] = absl::ToDoubleMicroseconds(governed) / calls;
  state.counters["plain_us"] = absl::ToDoubleMicroseconds(plain) / calls;
  state.counters["ratio"] = absl::ToDoubleMicroseconds(governed) / absl::ToDoubleMicroseconds(plain);
}
BENCHMARK(BM_FilterInterleaved)->MinTime(2.0);

}  // namespace
}  // namespace grpc_cpp_polaris

BENCHMARK_MAIN();
