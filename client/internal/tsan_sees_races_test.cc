// tools/tsan.supp must not hide races in our own code. The resolver and the
// LB policy run inside closures of gRPC's work serializer, so their stacks
// always contain grpc_core:: frames; suppressions that matched any frame
// (race:grpc_core::) hid every race there. This test plants one, in a
// closure the serializer runs, and expects ThreadSanitizer to report it and
// end the process (halt_on_error=1, exit code 66: tools/bazel's TSAN_OPTIONS).
#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>

#include <grpc/grpc.h>
#include <gtest/gtest.h>

#include "sdk/tsan.h"
#include "src/core/lib/gprpp/debug_location.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"

namespace grpc_cpp_polaris {
namespace internal {
namespace {

int planted_counter = 0;  // written by two threads, deliberately unordered

// A thread writes the counter; then a work-serializer closure writes it too.
// The flag is relaxed, which orders nothing, so this is a data race however
// the threads interleave.
[[noreturn]] void RaceInsideAWorkSerializerClosure() {
  grpc_init();
  std::atomic<bool> written{false};
  std::thread writer([&] {
    planted_counter = 1;
    written.store(true, std::memory_order_relaxed);
  });
  while (!written.load(std::memory_order_relaxed)) std::this_thread::yield();
  auto serializer = std::make_shared<grpc_core::WorkSerializer>();
  {
    grpc_core::ExecCtx exec_ctx;
    serializer->Run([] { planted_counter = 2; }, DEBUG_LOCATION);
  }
  writer.join();
  // Unreported: the suppressions hid it. (Reading the counter keeps the
  // compiler from dropping the writes.)
  std::_Exit(planted_counter == 2 ? 0 : 1);
}

TEST(TsanSeesRacesTest, ARaceInAWorkSerializerClosureIsReported) {
#ifndef GRPC_CPP_POLARIS_TSAN
  GTEST_SKIP() << "meaningful under --config=tsan only";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(RaceInsideAWorkSerializerClosure(), ::testing::ExitedWithCode(66),
              "ThreadSanitizer: data race(.|\n)*RaceInsideAWorkSerializerClosure");
}

}  // namespace
}  // namespace internal
}  // namespace grpc_cpp_polaris
