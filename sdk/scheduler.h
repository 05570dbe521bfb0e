// Runs tasks at given times on one thread of its own: the breakers' sleep
// windows, active probes, and notifications that must not run on the call
// path (a call's Finish only posts them).
//
// Time comes from an injectable clock: with a FakeClock, a task runs once
// the test has advanced the clock past its time. Tasks run one at a time,
// in time order (ties in the order posted), never under the scheduler's
// lock, so a task may post or cancel others.
#ifndef GRPC_CPP_POLARIS_SDK_SCHEDULER_H_
#define GRPC_CPP_POLARIS_SDK_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/time/time.h"
#include "sdk/clock.h"

namespace grpc_cpp_polaris {

class Scheduler {
 public:
  // `clock` outlives the scheduler.
  explicit Scheduler(const Clock* clock);
  // Stops the thread (after the task running, if any); pending tasks are
  // dropped without running.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `task` once the clock reaches `when`; returns an id for Cancel.
  uint64_t RunAt(absl::Time when, std::function<void()> task);
  // Runs `task` as soon as the thread is free.
  uint64_t RunSoon(std::function<void()> task) {
    return RunAt(absl::InfinitePast(), std::move(task));
  }
  // Drops a task not run yet; false if it ran, runs now or was never posted.
  bool Cancel(uint64_t id);
  // Tasks waiting to run.
  size_t pending() const;

  // The process's scheduler on the real clock;
  // started on first use, never destroyed.
  static Scheduler* Default();

 private:
  void Loop();

  const Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // By (time, id): ids grow, so ties run in the order posted.
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> tasks_;
  std::map<uint64_t, absl::Time> when_;  // id -> time, for Cancel
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_SCHEDULER_H_
