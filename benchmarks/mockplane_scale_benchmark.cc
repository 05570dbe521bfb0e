// Mock control plane at scale: 10,000 registered instances heartbeating every
// 5 s, and Discover of a 10,000-instance service. The mockplane runs as its
// own process (//mockplane:polaris_mock_server), so that its CPU use is
// measured apart from the load generator's.
//
//   tools/bazel run //benchmarks:mockplane_scale_benchmark
//
// Counters: mockplane_cores (CPU seconds the mockplane used per wall second
// while serving the heartbeat load), heartbeats_per_s, instances;
// mockplane_cpu_ms (the mockplane's CPU time per Discover answer).
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "mockplane/child_process.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace {

constexpr int kInstances = 10000;
constexpr int kTtlSeconds = 5;
constexpr char kService[] = "Scale";

// The mock server in a child process; stopped at exit.
class MockServerProcess {
 public:
  static MockServerProcess& Get() {
    static MockServerProcess* process = new MockServerProcess();
    return *process;
  }
  const std::string& address() const { return address_; }

  // CPU seconds (user + system) the process has used so far.
  double CpuSeconds() const {
    std::ifstream stat(absl::StrCat("/proc/", process_->pid(), "/stat"));
    std::string line;
    std::getline(stat, line);
    // Fields after the ")" that ends the command name; utime and stime are 14 and 15.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
  }

 private:
  MockServerProcess() {
    auto process = mockplane::ChildProcess::Start(
        {mockplane::RunfilesPath("mockplane/polaris_mock_server"), "--naming_port=0",
         "--ratelimit_port=0", "--quiet"});
    if (!process.ok()) {
      std::fprintf(stderr, "%s\n", process.status().ToString().c_str());
      std::abort();
    }
    process_ = std::move(*process);
    // "polaris mock control plane: naming API on HOST:PORT, rate limit on ..."
    absl::StatusOr<std::string> banner = process_->ReadLine();
    constexpr absl::string_view kPrefix = "polaris mock control plane: naming API on ";
    if (!banner.ok() || !absl::StartsWith(*banner, kPrefix)) std::abort();
    address_ = std::string(banner->substr(kPrefix.size(), banner->find(',') - kPrefix.size()));
    std::atexit([] { Get().process_->Stop(SIGTERM); });
  }

  std::unique_ptr<mockplane::ChildProcess> process_;
  std::string address_;
};

std::unique_ptr<v1::PolarisGRPC::Stub> NewStub() {
  // A channel per stub: separate connections, like separate servers.
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  return v1::PolarisGRPC::NewStub(grpc::CreateCustomChannel(
      MockServerProcess::Get().address(), grpc::InsecureChannelCredentials(), args));
}

v1::Instance InstanceMessage(int i) {
  v1::Instance instance;
  instance.mutable_service()->set_value(kService);
  instance.mutable_namespace_()->set_value("default");
  instance.mutable_host()->set_value(absl::StrCat("10.", i / 65536, ".", (i / 256) % 256, ".", i % 256));
  instance.mutable_port()->set_value(8080);
  instance.mutable_enable_health_check()->set_value(true);
  instance.mutable_health_check()->set_type(v1::HealthCheck::HEARTBEAT);
  instance.mutable_health_check()->mutable_heartbeat()->mutable_ttl()->set_value(kTtlSeconds);
  (*instance.mutable_metadata())["env"] = "bench";
  return instance;
}

// Registers the instances once, from two threads; returns their ids.
const std::vector<std::string>& RegisteredIds() {
  static std::vector<std::string>* ids = [] {
    auto* result = new std::vector<std::string>(kInstances);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([t, result] {
        auto stub = NewStub();
        for (int i = t; i < kInstances; i += 2) {
          grpc::ClientContext context;
          context.set_wait_for_ready(true);
          v1::Response response;
          if (!stub->RegisterInstance(&context, InstanceMessage(i), &response).ok() ||
              response.code().value() != v1::ExecuteSuccess) {
            std::abort();
          }
          (*result)[i] = response.instance().id().value();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    return result;
  }();
  return *ids;
}

// Every instance heartbeats once per TTL, spread evenly, for two TTLs.
void BM_HeartbeatLoad(benchmark::State& state) {
  const std::vector<std::string>& ids = RegisteredIds();
  constexpr int kThreads = 4;
  const absl::Duration run = absl::Seconds(2 * kTtlSeconds);
  for (auto _ : state) {
    std::atomic<int64_t> sent{0}, failed{0};
    const double cpu_before = MockServerProcess::Get().CpuSeconds();
    const absl::Time start = absl::Now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto stub = NewStub();
        // This thread's instances, each once per TTL, evenly spaced.
        const int mine = kInstances / kThreads;
        const absl::Duration gap = absl::Seconds(kTtlSeconds) / mine;
        for (int n = 0;; ++n) {
          const absl::Time due = start + gap * n;
          if (due - start >= run) break;
          absl::SleepFor(due - absl::Now());
          v1::Instance beat;
          beat.mutable_id()->set_value(ids[t + kThreads * (n % mine)]);
          grpc::ClientContext context;
          v1::Response response;
          grpc::Status status = stub->Heartbeat(&context, beat, &response);
          if (!status.ok() || response.code().value() != v1::ExecuteSuccess) failed.fetch_add(1);
          sent.fetch_add(1);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    const double wall = absl::ToDoubleSeconds(absl::Now() - start);
    const double cpu = MockServerProcess::Get().CpuSeconds() - cpu_before;
    state.counters["mockplane_cores"] = cpu / wall;
    state.counters["heartbeats_per_s"] = sent.load() / wall;
    state.counters["failed"] = static_cast<double>(failed.load());
    state.counters["instances"] = kInstances;
  }
}
BENCHMARK(BM_HeartbeatLoad)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// One full Discover answer (no revision held) for the 10,000-instance service.
void BM_DiscoverTenThousandInstances(benchmark::State& state) {
  RegisteredIds();
  auto stub = NewStub();
  grpc::ClientContext context;
  auto stream = stub->Discover(&context);
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value(kService);
  request.mutable_service()->mutable_namespace_()->set_value("default");
  v1::DiscoverResponse response;
  const double cpu_before = MockServerProcess::Get().CpuSeconds();
  for (auto _ : state) {
    if (!stream->Write(request) || !stream->Read(&response)) std::abort();
    if (response.instances_size() != kInstances) std::abort();
  }
  // What the mockplane spent per answer; the rest is transfer and parsing here.
  state.counters["mockplane_cpu_ms"] =
      1000 * (MockServerProcess::Get().CpuSeconds() - cpu_before) / state.iterations();
  state.counters["instances"] = response.instances_size();
  state.counters["response_bytes"] = static_cast<double>(response.ByteSizeLong());
  stream->WritesDone();
  stream->Finish();
}
BENCHMARK(BM_DiscoverTenThousandInstances)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace grpc_cpp_polaris

BENCHMARK_MAIN();
