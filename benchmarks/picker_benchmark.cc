// The pick path alone: the polaris policy's real picker over 3, 100 and
// 10,000 READY subchannels, next to a round_robin-style picker measured in the
// same run as the baseline.
//
//   tools/bazel run //benchmarks:picker_benchmark
#include <benchmark/benchmark.h>

#include "client/picker_benchmark_harness.h"

namespace grpc_cpp_polaris {
namespace {

void RunPicks(benchmark::State& state, PickerBenchmarkHarness::Kind kind) {
  PickerBenchmarkHarness harness(kind, static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(harness.Pick());
  state.SetItemsProcessed(state.iterations());
}

void BM_PolarisPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kPolaris);
}
void BM_RoundRobinPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kRoundRobin);
}

BENCHMARK(BM_PolarisPick)->Arg(3)->Arg(100)->Arg(10000)->Arg(100000);
BENCHMARK(BM_RoundRobinPick)->Arg(3)->Arg(100)->Arg(10000)->Arg(100000);
BENCHMARK(BM_PolarisPick)->Arg(10000)->Threads(2);

}  // namespace
}  // namespace grpc_cpp_polaris

BENCHMARK_MAIN();
