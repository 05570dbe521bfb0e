#include "server/heartbeat_hub.h"

#include <algorithm>
#include <utility>

namespace grpc_cpp_polaris {
namespace {

// Clocks whose time passes with real time: the thread can sleep until a
// task is due. Others (tests' fake clocks) are looked at every millisecond.
bool WaitsExactly(const Clock* clock) {
  return clock == Clock::Real() || clock == Clock::Coarse() || clock == Clock::SteadyCoarse();
}

}  // namespace

HeartbeatHub& HeartbeatHub::For(const std::string& address) {
  static std::mutex* mu = new std::mutex;
  static auto* hubs = new std::map<std::string, HeartbeatHub*>;  // never destroyed
  std::lock_guard<std::mutex> lock(*mu);
  HeartbeatHub*& hub = (*hubs)[address];
  if (hub == nullptr) hub = new HeartbeatHub();
  return *hub;
}

HeartbeatHub::~HeartbeatHub() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    thread = std::move(thread_);
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

uint64_t HeartbeatHub::Add(Clock* clock, absl::Time first, absl::Duration interval, Beat beat) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  tasks_.emplace(id, Task{clock, first, interval, std::move(beat)});
  if (!thread_.joinable()) {
    const uint64_t generation = ++generation_;
    thread_ = std::thread([this, generation] { Run(generation); });
  }
  cv_.notify_all();
  return id;
}

void HeartbeatHub::Reregister(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    it->second.reregister = true;
  }
  cv_.notify_all();
}

void HeartbeatHub::Remove(uint64_t id) {
  std::thread ending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_removals_;
    cv_.wait(lock, [&] { return running_id_ != id; });
    --waiting_removals_;
    tasks_.erase(id);
    if (tasks_.empty() && thread_.joinable()) {
      // That thread's generation ends; an Add() from now on starts another.
      ++generation_;
      ending = std::move(thread_);
    }
  }
  cv_.notify_all();
  if (ending.joinable()) ending.join();
}

size_t HeartbeatHub::tasks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

bool HeartbeatHub::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return thread_.joinable();
}

size_t HeartbeatHub::waiting_removals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_removals_;
}

absl::Duration HeartbeatHub::UntilNextLocked() const {
  absl::Duration wait = absl::Seconds(1);  // bounded: re-checked at least this often
  for (const auto& [id, task] : tasks_) {
    if (task.reregister) return absl::ZeroDuration();
    wait = std::min(wait, WaitsExactly(task.clock) ? task.next - task.clock->Now()
                                                   : absl::Milliseconds(1));
  }
  return std::max(wait, absl::ZeroDuration());
}

void HeartbeatHub::Run(uint64_t generation) {
  std::unique_lock<std::mutex> lock(mu_);
  while (generation_ == generation) {
    // The task most overdue, or one asked to register again.
    uint64_t due = 0;
    absl::Duration most_late = absl::ZeroDuration();
    for (auto& [id, task] : tasks_) {
      if (task.reregister) {
        due = id;
        break;
      }
      const absl::Duration late = task.clock->Now() - task.next;
      if (late >= absl::ZeroDuration() && (due == 0 || late > most_late)) {
        due = id;
        most_late = late;
      }
    }
    if (due == 0) {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(UntilNextLocked()));
      continue;
    }
    Task& task = tasks_.at(due);
    const bool reregister = task.reregister;
    task.reregister = false;
    Beat beat = task.beat;
    running_id_ = due;
    lock.unlock();
    beat(reregister);
    lock.lock();
    running_id_ = 0;
    auto it = tasks_.find(due);
    if (it != tasks_.end() && !reregister) {
      Task& done = it->second;
      done.next += done.interval;
      const absl::Time now = done.clock->Now();
      if (done.next < now) done.next = now + done.interval;  // fell behind: skip
    }
    cv_.notify_all();
  }
}

}  // namespace grpc_cpp_polaris
