// Counts heap allocations (a replaced global operator new) over 10,000 picks
// of the routing picker with the rule, metadata and nearby routers active:
// once the call's kind is cached, a pick must allocate nothing.
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "client/picker_benchmark_harness.h"

// The sanitizers bring their own allocators; the count is taken in the plain
// build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS 0
#else
#define GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS
void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#endif

namespace grpc_cpp_polaris {
namespace {

TEST(RoutingPickerAllocTest, WarmPicksAllocateNothing) {
  if (!GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS) GTEST_SKIP() << "counted in the plain build";
  for (int instances : {10, 1000}) {
    PickerBenchmarkHarness harness(PickerBenchmarkHarness::Kind::kRouted, instances);
    // The miss routes and caches, allocating: the counter sees the picker.
    const long at_miss = g_allocations.load();
    ASSERT_GE(harness.Pick(), 0);
    EXPECT_GT(g_allocations.load() - at_miss, 0);
    const long before = g_allocations.load();
    int picked = 0;
    int outside_zone = 0;
    for (int i = 0; i < 10000; ++i) {
      const int index = harness.Pick();
      picked += index >= 0 ? 1 : 0;
      outside_zone += index % 4 != 0 ? 1 : 0;  // the caller's zone holds every 4th
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << instances << " instances";
    EXPECT_EQ(picked, 10000);
    EXPECT_EQ(outside_zone, 0);  // the chain is really routing
  }
}

TEST(RoutingPickerAllocTest, CallTrackersAllocateNothing) {
  if (!GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS) GTEST_SKIP() << "counted in the plain build";
  // In-flight counting (least_request), and outcomes recorded into the
  // breakers (circuit breaking on).
  for (PickerBenchmarkHarness::Kind kind : {PickerBenchmarkHarness::Kind::kRoutedLeastRequest,
                                            PickerBenchmarkHarness::Kind::kRoutedBreaking}) {
    PickerBenchmarkHarness harness(kind, 1000);
    ASSERT_GE(harness.Pick(), 0);  // the miss
    const long before = g_allocations.load();
    int outside_zone = 0;
    for (int i = 0; i < 10000; ++i) outside_zone += harness.Pick() % 4 != 0 ? 1 : 0;
    // Pick, tracker Start / Finish and destruction: nothing on the heap.
    EXPECT_EQ(g_allocations.load() - before, 0) << static_cast<int>(kind);
    EXPECT_EQ(outside_zone, 0);
  }
}

// The counter itself works: the test above cannot pass by accident.
TEST(RoutingPickerAllocTest, CounterSeesAllocations) {
  if (!GRPC_CPP_POLARIS_COUNTS_ALLOCATIONS) GTEST_SKIP() << "counted in the plain build";
  const long before = g_allocations.load();
  void* p = ::operator new(16);
  ::operator delete(p);
  EXPECT_EQ(g_allocations.load() - before, 1);
}

}  // namespace
}  // namespace grpc_cpp_polaris
