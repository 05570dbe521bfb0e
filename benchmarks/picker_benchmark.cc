// The pick path alone: the polaris policy's real pickers over 3 to 100,000
// READY subchannels, next to a round_robin-style picker measured in the same
// run as the baseline. BM_RoutedPick has the rule (header REGEX), metadata
// and nearby routers active, with the call's kind cached (the steady state);
// compare it with BM_PolarisPick, the plain weighted-random pick.
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

void BM_RoutedPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kRouted);
}
// Routed, with least_request: two choices by calls in flight, and a call
// tracker per pick (started, finished and released).
void BM_RoutedLeastRequestPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kRoutedLeastRequest);
}

// A service without rules, as the policy picks for it: breaking off, and
// on (the default: a call tracker per pick records the call's outcome).
void BM_UnroutedPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kUnrouted);
}
void BM_BreakingPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kBreaking);
}
// Routed, with circuit breaking on (the default): a call tracker per pick
// records the call's outcome into the instance's breaker.
void BM_RoutedBreakingPick(benchmark::State& state) {
  RunPicks(state, PickerBenchmarkHarness::Kind::kRoutedBreaking);
}

BENCHMARK(BM_PolarisPick)->Arg(3)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000)->Arg(100000);
BENCHMARK(BM_RoutedPick)->Arg(10)->Arg(1000)->Arg(100000);
BENCHMARK(BM_RoutedPick)->Arg(1000)->Threads(2);
BENCHMARK(BM_RoutedLeastRequestPick)->Arg(1000);
BENCHMARK(BM_UnroutedPick)->Arg(1000);
BENCHMARK(BM_BreakingPick)->Arg(1000)->Arg(100000);
BENCHMARK(BM_RoutedBreakingPick)->Arg(1000)->Arg(100000);
BENCHMARK(BM_RoutedBreakingPick)->Arg(1000)->Threads(2);
BENCHMARK(BM_RoundRobinPick)->Arg(3)->Arg(100)->Arg(10000)->Arg(100000);
BENCHMARK(BM_PolarisPick)->Arg(10000)->Threads(2);

}  // namespace
}  // namespace grpc_cpp_polaris

BENCHMARK_MAIN();
