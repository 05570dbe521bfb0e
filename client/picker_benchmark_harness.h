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
    kPolaris,     // the polaris policy's weighted random picker
    kRoundRobin,  // baseline: rotate over READY subchannels, like round_robin
  };

  // `instances` READY subchannels with weights 1..100 (varied).
  PickerBenchmarkHarness(Kind kind, int instances);
  ~PickerBenchmarkHarness();

  // One pick as the channel makes it, including releasing the result;
  // returns the picked subchannel's index.
  int Pick();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_PICKER_BENCHMARK_HARNESS_H_
