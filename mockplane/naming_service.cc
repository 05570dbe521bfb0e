#include "mockplane/naming_service.h"

#include <mutex>
#include <atomic>
#include <deque>
#include <map>
#include <utility>
#include <vector>

namespace grpc_cpp_polaris {
namespace mockplane {

// One Discover stream: answers each request, remembers which services it
// asked for, and receives pushes for those. Writes go out one at a time from
// a queue, as the callback API requires. gRPC operations (StartWrite, Finish)
// are started outside mu_: their reactions may run inline on this thread.
class DiscoverStream final
    : public grpc::ServerBidiReactor<v1::DiscoverRequest, v1::DiscoverResponse> {
 public:
  explicit DiscoverStream(NamingService* service) : service_(service) {
    service_->AddStream(this);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      bool finish;
      {
        std::lock_guard<std::mutex> lock(mu_);
        read_done_ = true;
        finish = ShouldFinishLocked();
      }
      if (finish) Finish(grpc::Status::OK);
      return;
    }
    const ServiceKey key{request_.service().namespace_().value(),
                         request_.service().name().value()};
    if (request_.type() == v1::DiscoverRequest::INSTANCE && !key.service.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      subscriptions_[key] = request_;  // its filter, for later pushes
    }
    Answer(request_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    const v1::DiscoverResponse* next = nullptr;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.pop_front();
      if (!ok) {
        queue_.clear();
        read_done_ = true;  // the client is gone
      }
      if (!queue_.empty() && !finished_) {
        next = &queue_.front();
      } else {
        writing_ = false;
        finish = ShouldFinishLocked();
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override {
    service_->RemoveStream(this);
    Unref();
  }

  // Pushers hold a reference while they notify outside the service's lock.
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Pushes the current state of `key` if this stream asked for it.
  void OnServiceChanged(const ServiceKey& key) {
    v1::DiscoverRequest request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = subscriptions_.find(key);
      if (it == subscriptions_.end() || finished_) return;
      request = it->second;
    }
    request.mutable_service()->clear_revision();
    Answer(request);
  }

 private:
  // Reads the registry under this stream's lock, so that the responses queued
  // on one stream never go back in revision.
  void Answer(const v1::DiscoverRequest& request) {
    const v1::DiscoverResponse* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      // std::deque keeps references to its elements valid across push_back.
      queue_.push_back(service_->registry_->Discover(request));
      if (writing_) return;
      writing_ = true;
      next = &queue_.front();
    }
    StartWrite(next);
  }

  // True once, when the stream should end: reads over, nothing being written.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!read_done_ || writing_ || finished_) return false;
    finished_ = true;
    return true;
  }

  NamingService* const service_;
  std::atomic<int> refs_{1};  // gRPC's, dropped in OnDone
  v1::DiscoverRequest request_;  // only touched by the read chain
  std::mutex mu_;
  std::map<ServiceKey, v1::DiscoverRequest> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::DiscoverResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

NamingService::NamingService(NamingRegistry* registry) : registry_(registry) {
  registry_->SetChangeListener([this](const ServiceKey& key) { OnServiceChanged(key); });
}

NamingService::~NamingService() { registry_->SetChangeListener(nullptr); }

namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* NamingService::ReportClient(grpc::CallbackServerContext* context,
                                                      const v1::Client* request,
                                                      v1::Response* response) {
  *response = registry_->ReportClient(*request);
  return Done(context);
}

grpc::ServerUnaryReactor* NamingService::RegisterInstance(grpc::CallbackServerContext* context,
                                                          const v1::Instance* request,
                                                          v1::Response* response) {
  *response = registry_->Register(*request);
  return Done(context);
}

grpc::ServerUnaryReactor* NamingService::DeregisterInstance(
    grpc::CallbackServerContext* context, const v1::Instance* request, v1::Response* response) {
  *response = registry_->Deregister(*request);
  return Done(context);
}

grpc::ServerUnaryReactor* NamingService::Heartbeat(grpc::CallbackServerContext* context,
                                                   const v1::Instance* request,
                                                   v1::Response* response) {
  *response = registry_->Heartbeat(*request);
  return Done(context);
}

grpc::ServerBidiReactor<v1::DiscoverRequest, v1::DiscoverResponse>* NamingService::Discover(
    grpc::CallbackServerContext* /*context*/) {
  return new DiscoverStream(this);
}

void NamingService::AddStream(DiscoverStream* stream) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.insert(stream);
}

void NamingService::RemoveStream(DiscoverStream* stream) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.erase(stream);
}

void NamingService::OnServiceChanged(const ServiceKey& key) {
  std::vector<DiscoverStream*> streams;
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    for (DiscoverStream* stream : streams_) {
      stream->Ref();  // alive until told, even if it ends meanwhile
      streams.push_back(stream);
    }
  }
  for (DiscoverStream* stream : streams) {
    stream->OnServiceChanged(key);
    stream->Unref();
  }
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
