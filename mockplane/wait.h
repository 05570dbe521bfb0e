// Bounded polling for tests: wait until a condition holds or a deadline passes;
// and whether the build is sanitized.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_WAIT_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_WAIT_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// Whether this is a sanitizer build (ASan, TSan): many times slower, so
// tests scale their load down or their timing bounds up.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// Returns true as soon as `condition` holds; false after `timeout`.
inline bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout,
                      absl::Duration poll = absl::Milliseconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_WAIT_H_
