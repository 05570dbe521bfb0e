// A one-slot mailbox that delivers values to a callback in order, never
// concurrently, and without any caller's lock held: Post() (cheap, may be
// called under the poster's lock) replaces the pending value; Deliver()
// (called without locks) runs the callback for the newest pending value,
// unless another thread is already delivering, which then picks it up.
// Close() stops deliveries and waits out one in progress on another thread.
#ifndef GRPC_CPP_POLARIS_SDK_MAILBOX_H_
#define GRPC_CPP_POLARIS_SDK_MAILBOX_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"

namespace grpc_cpp_polaris {

template <typename T>
class Mailbox {
 public:
  explicit Mailbox(std::function<void(T)> callback) : callback_(std::move(callback)) {}

  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void Post(T value) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) pending_ = std::move(value);
  }

  void Deliver() {
    std::unique_lock<std::mutex> lock(mu_);
    if (delivering_ || closed_) return;
    delivering_ = true;
    deliverer_ = std::this_thread::get_id();
    while (pending_.has_value() && !closed_) {
      T value = std::move(*pending_);
      pending_.reset();
      lock.unlock();
      callback_(std::move(value));
      lock.lock();
    }
    delivering_ = false;
    deliverer_ = std::thread::id();
    idle_.notify_all();
  }

  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    pending_.reset();
    if (deliverer_ == std::this_thread::get_id()) return;  // from inside the callback
    idle_.wait(lock, [this] { return !delivering_; });
  }

 private:
  const std::function<void(T)> callback_;
  std::mutex mu_;
  std::condition_variable idle_;
  std::optional<T> pending_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread::id deliverer_ ABSL_GUARDED_BY(mu_);
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_MAILBOX_H_
