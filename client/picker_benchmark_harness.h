// Runs the polaris policy's real picker outside a channel, over fake
// subchannels, so that benchmarks/ can measure the pick path without
// including gRPC's internal headers. Not for production use.
#ifndef GRPC_CPP_POLARIS_CLIENT_PICKER_BENCHMARK_HARNESS_H_
#define GRPC_CPP_POLARIS_CLIENT_PICKER_BENCHMARK_HARNESS_H_

#include <cstdint>
#include <memory>

namespace grpc_cpp_polaris {

class PickerBenchmarkHarness {
 public:
  enum class Kind {
    kPolaris,     // the polaris policy's weighted random picker (no routing)
    // The routing picker as a service without rules gets it (the default
    // routers, nothing to route by): weighted random, breaking off / on.
    kUnrouted,
    kBreaking,
    kRoundRobin,  // baseline: rotate over READY subchannels, like round_robin
    // The routing picker with the rule, metadata and nearby routers active:
    // a header rule (REGEX) splitting calls 80/20 between two groups, the
    // call's destination metadata, and the caller's zone (a quarter of the
    // instances); every call carries the header and the metadata.
    kRouted,
    // kRouted with the least_request balancer: every pick also gets a call
    // tracker (in the call's arena), which the harness starts and finishes.
    kRoutedLeastRequest,
    // kRouted with circuit breaking on (the default settings): every pick
    // gets a call tracker that records the call's outcome into the
    // instance's breaker. (kRouted measures routing alone: breaking off.)
    kRoutedBreaking,
  };

  // `instances` READY subchannels with weights 1..100 (varied).
  PickerBenchmarkHarness(Kind kind, int instances);
  ~PickerBenchmarkHarness();

  // One pick as the channel makes it, including its call tracker's Start
  // and Finish if it has one and releasing the result; returns the picked
  // subchannel's index.
  int Pick();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_PICKER_BENCHMARK_HARNESS_H_
