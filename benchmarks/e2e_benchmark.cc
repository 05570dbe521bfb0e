// End-to-end unary calls over loopback: polaris:// (mockplane discovery, the
// polaris policy with a routing rule every call matches and circuit
// breaking on, as by default) against gRPC's built-in round_robin over the
// same three backends, in the same process and run.
//
//   tools/bazel run //benchmarks:e2e_benchmark -- --benchmark_repetitions=5
//
// BM_Interleaved alternates batches of calls on the two channels and reports
// their per-call times and ratio as counters, which is robust to the machine
// getting faster or slower during the run.
//
// BM_RulePushToPicker measures how long a routing rule set on the control
// plane takes to govern calls: from SetRouting to the first call that lands
// where the new rule says (calls are made back to back meanwhile; goal:
// 100 ms). Each iteration flips the rule between two groups.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/v1/routing.pb.h"
#include "server/registration.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;

class Fixture {
 public:
  static Fixture& Get() {
    static Fixture* fixture = new Fixture();
    return *fixture;
  }

  echo::EchoServer::Stub& polaris() { return *polaris_; }
  echo::EchoServer::Stub& round_robin() { return *round_robin_; }

 private:
  Fixture() {
    plane_ = std::move(ControlPlane::Start().value());
    std::vector<std::string> addresses;
    for (int i = 1; i <= 3; ++i) {
      backends_.push_back(std::move(EchoBackend::Start({absl::StrCat("b", i)}).value()));
      RegisterOptions options;
      options.service = "BenchEcho";
      options.control_plane_address = plane_->address();
      registrations_.push_back(std::move(
          Register(*backends_.back()->server(), backends_.back()->port(), options).value()));
      addresses.push_back(backends_.back()->address());
    }
    // Routing on: a rule every call matches (by method) to every instance;
    // circuit breaking is on by default.
    v1::RuleRoutingConfig config;
    v1::SubRuleRouting* sub = config.add_rules();
    v1::SourceService* source = sub->add_sources();
    source->set_service("*");
    v1::SourceMatch* method = source->add_arguments();
    method->set_type(v1::SourceMatch::METHOD);
    method->mutable_value()->mutable_value()->set_value("Echo");
    v1::DestinationGroup* group = sub->add_destinations();
    group->set_service("BenchEcho");
    group->set_weight(100);
    v1::Routing routing;
    v1::RouteRule* rule = routing.add_rules();
    rule->set_id("bench-all");
    rule->set_enable(true);
    rule->set_routing_policy(v1::RulePolicy);
    rule->mutable_routing_config()->PackFrom(config);
    plane_->SetRouting(ServiceKey{"default", "BenchEcho"}, routing);
    grpc::ChannelArguments polaris_args;
    polaris_args.SetString(kControlPlaneAddressArg, plane_->address());
    polaris_ = echo::EchoServer::NewStub(grpc::CreateCustomChannel(
        "polaris://BenchEcho", grpc::InsecureChannelCredentials(), polaris_args));
    grpc::ChannelArguments rr_args;
    rr_args.SetLoadBalancingPolicyName("round_robin");
    round_robin_ = echo::EchoServer::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
                                  grpc::InsecureChannelCredentials(), rr_args));
    // Warm up: every backend connected on both channels.
    for (int i = 0; i < 300; ++i) {
      Call(*polaris_);
      Call(*round_robin_);
    }
  }

 public:
  static void Call(echo::EchoServer::Stub& stub) {
    if (!mockplane::CallEcho(stub, absl::Seconds(10), /*wait_for_ready=*/true).ok()) std::abort();
  }

 private:
  std::unique_ptr<ControlPlane> plane_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::vector<std::unique_ptr<Registration>> registrations_;
  std::unique_ptr<echo::EchoServer::Stub> polaris_;
  std::unique_ptr<echo::EchoServer::Stub> round_robin_;
};

void BM_UnaryPolaris(benchmark::State& state) {
  echo::EchoServer::Stub& stub = Fixture::Get().polaris();
  for (auto _ : state) Fixture::Call(stub);
}

void BM_UnaryRoundRobin(benchmark::State& state) {
  echo::EchoServer::Stub& stub = Fixture::Get().round_robin();
  for (auto _ : state) Fixture::Call(stub);
}

void BM_Interleaved(benchmark::State& state) {
  constexpr int kBatch = 50;
  Fixture& fixture = Fixture::Get();
  absl::Duration polaris, round_robin;
  int64_t batches = 0;
  for (auto _ : state) {
    absl::Time start = absl::Now();
    for (int i = 0; i < kBatch; ++i) Fixture::Call(fixture.polaris());
    absl::Time middle = absl::Now();
    for (int i = 0; i < kBatch; ++i) Fixture::Call(fixture.round_robin());
    round_robin += absl::Now() - middle;
    polaris += middle - start;
    ++batches;
  }
  const double calls = static_cast<double>(batches * kBatch);
  state.counters["polaris_us"] = absl::ToDoubleMicroseconds(polaris) / calls;
  state.counters["round_robin_us"] = absl::ToDoubleMicroseconds(round_robin) / calls;
  state.counters["ratio"] = absl::ToDoubleMicroseconds(polaris) /
                            absl::ToDoubleMicroseconds(round_robin);
}

// Two backends, env=blue and env=green, behind one polaris:// channel.
class PushFixture {
 public:
  static PushFixture& Get() {
    static PushFixture* fixture = new PushFixture();
    return *fixture;
  }

  // Routes every call to `env` and returns the time until a call lands there.
  absl::Duration Push(const std::string& env) {
    v1::RuleRoutingConfig config;
    v1::SubRuleRouting* sub = config.add_rules();
    sub->add_sources()->set_service("*");
    v1::DestinationGroup* group = sub->add_destinations();
    group->set_service("PushEcho");
    (*group->mutable_labels())["env"].mutable_value()->set_value(env);
    group->set_weight(100);
    v1::Routing routing;
    v1::RouteRule* rule = routing.add_rules();
    rule->set_id(absl::StrCat("to-", env, "-", ++pushes_));
    rule->set_enable(true);
    rule->set_routing_policy(v1::RulePolicy);
    rule->mutable_routing_config()->PackFrom(config);
    const absl::Time start = absl::Now();
    plane_->SetRouting(ServiceKey{"default", "PushEcho"}, routing);
    const absl::Time deadline = start + absl::Seconds(10);
    while (absl::Now() < deadline) {
      absl::StatusOr<std::string> who = mockplane::CallEcho(*stub_, absl::Seconds(10), true);
      if (who.ok() && who->rfind(env, 0) == 0) return absl::Now() - start;
    }
    std::abort();  // the rule never took effect
  }

 private:
  PushFixture() {
    plane_ = std::move(ControlPlane::Start().value());
    for (const char* env : {"blue", "green"}) {
      backends_.push_back(std::move(EchoBackend::Start({env}).value()));
      RegisterOptions options;
      options.service = "PushEcho";
      options.control_plane_address = plane_->address();
      options.metadata = {{"env", env}};
      registrations_.push_back(std::move(
          Register(*backends_.back()->server(), backends_.back()->port(), options).value()));
    }
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, plane_->address());
    stub_ = echo::EchoServer::NewStub(
        grpc::CreateCustomChannel("polaris://PushEcho", grpc::InsecureChannelCredentials(), args));
    for (int i = 0; i < 100; ++i) Fixture::Call(*stub_);
  }

  std::unique_ptr<ControlPlane> plane_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::vector<std::unique_ptr<Registration>> registrations_;
  std::unique_ptr<echo::EchoServer::Stub> stub_;
  int pushes_ = 0;
};

void BM_RulePushToPicker(benchmark::State& state) {
  PushFixture& fixture = PushFixture::Get();
  bool green = false;
  absl::Duration worst;
  for (auto _ : state) {
    green = !green;
    const absl::Duration took = fixture.Push(green ? "green" : "blue");
    worst = std::max(worst, took);
    state.SetIterationTime(absl::ToDoubleSeconds(took));
  }
  state.counters["worst_ms"] = absl::ToDoubleMilliseconds(worst);
}

BENCHMARK(BM_UnaryRoundRobin)->UseRealTime();
BENCHMARK(BM_UnaryPolaris)->UseRealTime();
BENCHMARK(BM_Interleaved)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_RulePushToPicker)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(50);

}  // namespace
}  // namespace grpc_cpp_polaris

BENCHMARK_MAIN();
