#include "mockplane/naming_service.h"

#include <deque>
#include <map>
#include <utility>

namespace grpc_cpp_polaris {
namespace mockplane {

// One Discover stream: answers each request, remembers which services it
// asked for, and receives pushes for those. Writes go out one at a time from
// a queue, as the callback API requires.
class DiscoverStream final
    : public grpc::ServerBidiReactor<v1::DiscoverRequest, v1::DiscoverResponse> {
 public:
  DiscoverStream(NamingService* service) : service_(service) {
    service_->AddStream(this);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      read_done_ = true;
      MaybeFinishLocked();
      return;
    }
    const ServiceKey key{request_.service().namespace_().value(),
                         request_.service().name().value()};
    if (request_.type() == v1::DiscoverRequest::INSTANCE && !key.service.empty()) {
      absl::MutexLock lock(&mu_);
      // Remember the request (its filter) and the revision just answered.
      subscriptions_[key] = request_;
    }
    Answer(request_);
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    queue_.pop_front();
    if (!ok) {
      queue_.clear();
      read_done_ = true;  // the client is gone; stop once reads end too
    }
    writing_ = false;
    if (!queue_.empty() && !finished_) {
      writing_ = true;
      StartWrite(&queue_.front());
      return;
    }
    MaybeFinishLocked();
  }

  void OnDone() override {
    service_->RemoveStream(this);
    delete this;
  }

  // Pushes the current state of `key` if this stream asked for it.
  void OnServiceChanged(const ServiceKey& key) {
    v1::DiscoverRequest request;
    {
      absl::MutexLock lock(&mu_);
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
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    queue_.push_back(service_->registry_->Discover(request));
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (read_done_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  NamingService* const service_;
  v1::DiscoverRequest request_;  // only touched by the read chain
  absl::Mutex mu_;
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
  absl::MutexLock lock(&streams_mu_);
  streams_.insert(stream);
}

void NamingService::RemoveStream(DiscoverStream* stream) {
  absl::MutexLock lock(&streams_mu_);
  streams_.erase(stream);
}

void NamingService::OnServiceChanged(const ServiceKey& key) {
  // Holding streams_mu_ keeps every stream alive while it is told.
  absl::MutexLock lock(&streams_mu_);
  for (DiscoverStream* stream : streams_) stream->OnServiceChanged(key);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
