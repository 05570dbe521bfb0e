#include "client/internal/off_grpc_thread.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace grpc_cpp_polaris {
namespace internal {
namespace {

struct Queue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> work;  // guarded by mu
  bool started = false;                    // guarded by mu
};

Queue& TheQueue() {
  static Queue* const queue = new Queue();  // never destroyed: outlives the thread
  return *queue;
}

void Loop(Queue* queue) {
  while (true) {
    std::function<void()> work;
    {
      std::unique_lock<std::mutex> lock(queue->mu);
      queue->cv.wait(lock, [queue] { return !queue->work.empty(); });
      work = std::move(queue->work.front());
      queue->work.pop_front();
    }
    work();
  }
}

}  // namespace

void RunOffGrpcThreads(std::function<void()> work) {
  Queue& queue = TheQueue();
  {
    std::lock_guard<std::mutex> lock(queue.mu);
    queue.work.push_back(std::move(work));
    if (!queue.started) {
      queue.started = true;
      std::thread([&queue] { Loop(&queue); }).detach();
    }
  }
  queue.cv.notify_one();
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
