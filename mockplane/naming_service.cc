#include "mockplane/naming_service.h"

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>

#include "absl/strings/str_cat.h"

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
      End(grpc::Status::OK);
      return;
    }
    LogRequest(service_->log_, "Discover", request_);
    const Fault fault = service_->faults_->Take("Discover");
    if (!fault.status.ok()) {
      End(ToGrpc(fault.status));
      return;
    }
    {
      // Remember the request (with its filter) for later pushes.
      std::lock_guard<std::mutex> lock(mu_);
      subscriptions_[SubscriptionOf(request_)] = request_;
    }
    if (fault.delay > absl::ZeroDuration()) {
      // Answer late; the next read waits until then, keeping answers in order.
      Ref();
      delay_.Set(absl::ToChronoTime(absl::Now() + fault.delay), [this](bool) {
        Answer(request_);
        ContinueReading();
        Unref();
      });
      return;
    }
    Answer(request_);
    ContinueReading();
  }

  void OnWriteDone(bool ok) override {
    const v1::DiscoverResponse* next = nullptr;
    bool finish = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.pop_front();
      if (!ok) {
        queue_.clear();
        ending_ = true;  // the client is gone
      }
      if (!queue_.empty() && !finished_) {
        next = queue_.front().get();
      } else {
        writing_ = false;
        finish = ShouldFinishLocked();
        status = end_status_;
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(status);
  }

  void OnDone() override {
    service_->RemoveStream(this);
    Unref();
  }

  // Pushers hold a reference while they work outside the service's lock.
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Pushes the current state of (type, key) if this stream asked for it.
  void OnChanged(DiscoverType type, const ServiceKey& key) {
    v1::DiscoverRequest request;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = subscriptions_.find({type, key});
      if (it == subscriptions_.end() || finished_) return;
      request = it->second;
    }
    request.mutable_service()->clear_revision();
    Answer(request);
  }

  // Ends the stream with `status` once queued writes are out (at once if none).
  void End(const grpc::Status& status) {
    bool finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ending_) end_status_ = status;
      ending_ = true;
      finish = ShouldFinishLocked();
    }
    if (finish) Finish(status);
  }

 private:
  void ContinueReading() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_) return;
    }
    StartRead(&request_);
  }

  // Reads the registry under this stream's lock, so that the responses queued
  // on one stream never go back in revision.
  void Answer(const v1::DiscoverRequest& request) {
    const v1::DiscoverResponse* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_) return;
      // The front answer stays alive (and unchanged) until its write is done.
      queue_.push_back(service_->AnswerDiscover(request));
      if (writing_) return;
      writing_ = true;
      next = queue_.front().get();
    }
    StartWrite(next);
  }

  // True once, when the stream should end: ending, nothing being written.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!ending_ || writing_ || finished_) return false;
    finished_ = true;
    return true;
  }

  NamingService* const service_;
  std::atomic<int> refs_{1};  // gRPC's, dropped in OnDone
  v1::DiscoverRequest request_;  // only touched by the read chain
  grpc::Alarm delay_;            // injected answer delay
  std::mutex mu_;
  // What a request subscribes to: SERVICES requests watch a namespace,
  // NAMESPACES requests the list of namespaces.
  static std::pair<DiscoverType, ServiceKey> SubscriptionOf(const v1::DiscoverRequest& request) {
    switch (request.type()) {
      case v1::DiscoverRequest::NAMESPACES:
        return {request.type(), ServiceKey{"", ""}};
      case v1::DiscoverRequest::SERVICES:
        return {request.type(), ServiceKey{request.service().namespace_().value(), ""}};
      default:
        return {request.type(), ServiceKey{request.service().namespace_().value(),
                                           request.service().name().value()}};
    }
  }

  std::map<std::pair<DiscoverType, ServiceKey>, v1::DiscoverRequest> subscriptions_
      ABSL_GUARDED_BY(mu_);
  std::deque<NamingRegistry::DiscoverResponsePtr> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;  // reads over, or asked to end
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

NamingService::NamingService(NamingRegistry* registry, RuleRegistry* rules,
                             FaultInjector* faults, RequestLog log)
    : registry_(registry), rules_(rules), faults_(faults), log_(std::move(log)) {
  auto on_changed = [this](DiscoverType type, const ServiceKey& key) { OnChanged(type, key); };
  registry_->SetChangeListener(on_changed);
  rules_->SetChangeListener(on_changed);
}

NamingService::~NamingService() {
  registry_->SetChangeListener(nullptr);
  rules_->SetChangeListener(nullptr);
}

void NamingService::OnChanged(DiscoverType type, const ServiceKey& key) {
  ForEachStream([type, &key](DiscoverStream* stream) { stream->OnChanged(type, key); });
}

NamingRegistry::DiscoverResponsePtr NamingService::AnswerDiscover(
    const v1::DiscoverRequest& request) {
  if (RuleRegistry::Serves(request.type())) return rules_->Discover(request);
  return registry_->Discover(request);
}

grpc::ServerUnaryReactor* NamingService::ReportClient(grpc::CallbackServerContext* /*context*/,
                                                      const v1::Client* request,
                                                      v1::Response* response) {
  return ServeUnary(faults_, log_, "ReportClient", *request, [this, request, response] {
    *response = registry_->ReportClient(*request);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NamingService::RegisterInstance(grpc::CallbackServerContext* /*context*/,
                                                          const v1::Instance* request,
                                                          v1::Response* response) {
  return ServeUnary(faults_, log_, "RegisterInstance", *request, [this, request, response] {
    *response = registry_->Register(*request);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NamingService::DeregisterInstance(
    grpc::CallbackServerContext* /*context*/, const v1::Instance* request,
    v1::Response* response) {
  return ServeUnary(faults_, log_, "DeregisterInstance", *request, [this, request, response] {
    *response = registry_->Deregister(*request);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* NamingService::Heartbeat(grpc::CallbackServerContext* /*context*/,
                                                   const v1::Instance* request,
                                                   v1::Response* response) {
  return ServeUnary(faults_, log_, "Heartbeat", *request, [this, request, response] {
    const std::string id =
        request->id().value().empty()
            ? NamingRegistry::InstanceId(
                  ServiceKey{request->namespace_().value(), request->service().value()},
                  request->host().value(), request->port().value())
            : request->id().value();
    if (faults_->HeartbeatsFrozen(id)) {
      return absl::UnavailableError(absl::StrCat("heartbeats of ", id, " frozen by test"));
    }
    *response = registry_->Heartbeat(*request);
    return absl::OkStatus();
  });
}

grpc::ServerBidiReactor<v1::DiscoverRequest, v1::DiscoverResponse>* NamingService::Discover(
    grpc::CallbackServerContext* /*context*/) {
  return new DiscoverStream(this);
}

void NamingService::BreakStreams(const absl::Status& status) {
  ForEachStream([&status](DiscoverStream* stream) { stream->End(ToGrpc(status)); });
}

void NamingService::AddStream(DiscoverStream* stream) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.insert(stream);
}

void NamingService::RemoveStream(DiscoverStream* stream) {
  std::lock_guard<std::mutex> lock(streams_mu_);
  streams_.erase(stream);
}

void NamingService::ForEachStream(const std::function<void(DiscoverStream*)>& visit) {
  std::vector<DiscoverStream*> streams;
  {
    std::lock_guard<std::mutex> lock(streams_mu_);
    for (DiscoverStream* stream : streams_) {
      stream->Ref();  // alive until visited, even if it ends meanwhile
      streams.push_back(stream);
    }
  }
  for (DiscoverStream* stream : streams) {
    visit(stream);
    stream->Unref();
  }
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
