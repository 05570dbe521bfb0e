// HeartbeatHub: the one heartbeat path of a process per control plane.
// Every Registration (one per service a server registers) is a task of its
// control plane's hub, and one thread runs them all, each every TTL by its
// own clock, instead of a thread per registration. The thread exists while
// there are tasks.
//
// Beats of one hub run one at a time, so a control plane that stalls delays
// its own registrations' beats by at most its RPC timeout each (with the
// defaults, TTL 5 s, timeout 3 s and unhealthy after 3 TTLs, a handful of
// registrations stay healthy through a stall); other control planes' hubs
// are not held up.
#ifndef GRPC_CPP_POLARIS_SERVER_HEARTBEAT_HUB_H_
#define GRPC_CPP_POLARIS_SERVER_HEARTBEAT_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "sdk/clock.h"

namespace grpc_cpp_polaris {

class HeartbeatHub {
 public:
  // `reregister`: the control plane connection came back, so the task
  // should register again before beating.
  using Beat = std::function<void(bool reregister)>;

  // The process's hub for the control plane at `address` (never destroyed).
  static HeartbeatHub& For(const std::string& address);

  HeartbeatHub() = default;
  ~HeartbeatHub();
  HeartbeatHub(const HeartbeatHub&) = delete;
  HeartbeatHub& operator=(const HeartbeatHub&) = delete;

  // Runs `beat` at `first`, then every `interval` (by schedule, not drifting
  // with each beat's time), all by `clock` (not owned; outlives the task).
  // Returns the task's id.
  uint64_t Add(Clock* clock, absl::Time first, absl::Duration interval, Beat beat);
  // The task beats as soon as possible, with `reregister` set.
  void Reregister(uint64_t id);
  // Removes the task; returns once no beat of it runs. Not from a beat.
  void Remove(uint64_t id);

  size_t tasks() const;
  // Whether the hub's thread is running (it runs while there are tasks).
  bool running() const;
  // Remove() calls waiting for a beat to finish (for tests).
  size_t waiting_removals() const;

 private:
  struct Task {
    Clock* clock;
    absl::Time next;
    absl::Duration interval;
    Beat beat;
    bool reregister = false;
  };
  // Runs until `generation_` moves past `generation`.
  void Run(uint64_t generation);
  // How long the thread may sleep before a task may be due.
  absl::Duration UntilNextLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Task> tasks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t running_id_ ABSL_GUARDED_BY(mu_) = 0;  // the beat in progress
  size_t waiting_removals_ ABSL_GUARDED_BY(mu_) = 0;
  // Each thread runs for one generation; a new one starts the next.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SERVER_HEARTBEAT_HUB_H_
