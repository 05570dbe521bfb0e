#include "sdk/scheduler.h"

namespace grpc_cpp_polaris {

Scheduler::Scheduler(const Clock* clock) : clock_(clock) {
  thread_ = std::thread([this] { Loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t Scheduler::RunAt(absl::Time when, std::function<void()> task) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    tasks_.emplace(std::make_pair(when, id), std::move(task));
    when_.emplace(id, when);
  }
  cv_.notify_all();
  return id;
}

bool Scheduler::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return false;
  tasks_.erase(std::make_pair(it->second, id));
  when_.erase(it);
  return true;
}

size_t Scheduler::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      continue;
    }
    const absl::Time due = tasks_.begin()->first.first;
    if (clock_->Now() < due) {
      // Wakes early when a sooner task is posted or the scheduler stops.
      const uint64_t first_id = tasks_.begin()->first.second;
      clock_->WaitUntil(lock, cv_, due, [this, first_id] {
        return stopping_ || tasks_.empty() || tasks_.begin()->first.second != first_id;
      });
      continue;
    }
    auto first = tasks_.begin();
    std::function<void()> task = std::move(first->second);
    when_.erase(first->first.second);
    tasks_.erase(first);
    lock.unlock();
    task();
    task = nullptr;  // its captures go before the lock is taken again
    lock.lock();
  }
}

Scheduler* Scheduler::Default() {
  static Scheduler* const scheduler = new Scheduler(Clock::Real());
  return scheduler;
}

}  // namespace grpc_cpp_polaris
