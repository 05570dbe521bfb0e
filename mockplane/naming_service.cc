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
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

using WatchKey = std::pair<DiscoverType, ServiceKey>;

// What a request watches: SERVICES requests a namespace, NAMESPACES the list
// of namespaces, the others one service.
WatchKey WatchKeyOf(const v1::DiscoverRequest& request) {
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

// The request a stream answers for a watch: only what the registries read.
v1::DiscoverRequest RequestFor(const WatchKey& key, bool only_healthy,
                               const std::string& revision) {
  v1::DiscoverRequest request;
  request.set_type(key.first);
  request.mutable_service()->mutable_namespace_()->set_value(key.second.service_namespace);
  request.mutable_service()->mutable_name()->set_value(key.second.service);
  if (!revision.empty()) request.mutable_service()->mutable_revision()->set_value(revision);
  if (only_healthy) request.mutable_filter()->set_onlyhealthyinstance(true);
  return request;
}

}  // namespace

// One Discover stream: answers each request, remembers what it watches, and
// receives pushes for those.
//
// Memory stays bounded whatever the client does: an answer is built only
// when it is about to be written (one at a time, as the callback API
// requires), and while it waits a resource is just a key, so a newer change
// of the same resource replaces the waiting answer instead of queueing
// another. With max_queued_answers_per_stream answers waiting, requests are
// no longer read (HTTP/2 flow control then holds the client back) until the
// client reads answers again. gRPC operations (StartRead, StartWrite,
// Finish) are started outside mu_: their reactions may run inline.
class DiscoverStream final : public AnnotatedBidiReactor {
 public:
  explicit DiscoverStream(NamingService* service) : service_(service) {
    TsanAcquire(&tsan_services_built_key);
    service_->AddStream(this);
    Read(&read_buffer_);
  }

  void OnReadDone(bool ok) override {
    TsanReaction reaction(read_key(), done_key());
    if (!ok) {
      End(grpc::Status::OK);  // the client is done sending
      return;
    }
    v1::DiscoverRequest request;
    if (!grpc::SerializationTraits<v1::DiscoverRequest>::Deserialize(&read_buffer_, &request)
             .ok()) {
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "Discover: the request is not a valid v1.DiscoverRequest"));
      return;
    }
    LogRequest(service_->log_, "Discover", request);
    const Fault fault = service_->faults_->Take("Discover");
    if (!fault.status.ok()) {
      End(ToGrpc(fault.status));
      return;
    }
    if (!Watch(request)) return;
    if (fault.delay > absl::ZeroDuration()) {
      // Answer late; the next read waits until then, keeping answers in order.
      // The alarm's closure holds only `this` (stored inside the
      // std::function: nothing for ThreadSanitizer to see handed over).
      // The stream does not finish meanwhile: the read chain goes on from
      // the alarm, which is no reaction, so gRPC would not wait for it.
      Ref();
      delayed_key_ = WatchKeyOf(request);
      delayed_revision_ = request.service().revision().value();
      {
        std::lock_guard<std::mutex> lock(mu_);
        delaying_ = true;
      }
      TsanRelease(read_key());
      delays_.emplace_back();  // a fresh alarm: the last one may still be running
      delays_.back().Set(absl::ToChronoTime(absl::Now() + fault.delay), [this](bool) {
        {
          TsanReaction reaction(read_key(), done_key());
          Enqueue(delayed_key_, delayed_revision_);
          ContinueReading();  // the read is started before the stream may finish
          bool finish;
          grpc::Status status;
          {
            std::lock_guard<std::mutex> lock(mu_);
            delaying_ = false;
            finish = ShouldFinishLocked();
            status = end_status_;
          }
          if (finish) FinishWith(status);
        }
        Unref();  // may delete this
      });
      return;
    }
    Enqueue(WatchKeyOf(request), request.service().revision().value());
    ContinueReading();
  }

  void OnWriteDone(bool ok) override {
    TsanReaction reaction(write_key(), done_key());
    grpc::ByteBuffer* next = nullptr;
    bool read = false;
    bool finish = false;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {  // the client is gone
        queued_.clear();
        order_.clear();
        ending_ = true;
      }
      next = NextWriteLocked();
      if (paused_ && !ending_ && queued_.size() < service_->limits_.max_queued_answers_per_stream) {
        paused_ = false;
        read = true;
      }
      if (next == nullptr) finish = ShouldFinishLocked();
      status = end_status_;
    }
    if (next != nullptr) Write(next);
    if (read) Read(&read_buffer_);
    if (finish) FinishWith(status);
  }

  void OnDone() override {
    TsanAcquire(done_key());  // after every reaction and Finish
    service_->RemoveStream(this);
    Unref();
  }

  // Pushers hold a reference while they work outside the service's lock.
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Pushes the current state of (type, key) if this stream watches it.
  void OnChanged(DiscoverType type, const ServiceKey& key) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (watches_.count({type, key}) == 0 || finished_) return;
    }
    Enqueue({type, key}, "");
  }

  // Ends the stream with `status` once the waiting answers are out (at once
  // if none).
  void End(const grpc::Status& status) {
    bool finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ending_) end_status_ = status;
      ending_ = true;
      finish = ShouldFinishLocked();
    }
    if (finish) FinishWith(status);
  }

  void AddStats(DiscoverStreamStats* stats) {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats->streams;
    stats->queued_answers += queued_.size();
    if (paused_) ++stats->paused_streams;
  }

 private:
  // Remembers what `request` watches (with its filter) for later pushes;
  // false if the stream ended because it watches too much.
  bool Watch(const v1::DiscoverRequest& request) {
    const WatchKey key = WatchKeyOf(request);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (watches_.count(key) > 0 || watches_.size() < service_->limits_.max_watches_per_stream) {
        watches_[key] = request.filter().onlyhealthyinstance();
        return true;
      }
    }
    End(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat("Discover: a stream watches at most ",
                                  service_->limits_.max_watches_per_stream,
                                  " resources (max_watches_per_stream)")));
    return false;
  }

  void ContinueReading() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_) return;
      if (queued_.size() >= service_->limits_.max_queued_answers_per_stream) {
        paused_ = true;  // OnWriteDone reads again
        return;
      }
    }
    Read(&read_buffer_);
  }

  // Queues an answer for `key` (answering `revision`; empty for a push),
  // replacing one that is still waiting.
  void Enqueue(const WatchKey& key, const std::string& revision) {
    grpc::ByteBuffer* next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_) return;
      auto inserted = queued_.insert_or_assign(key, revision);
      if (inserted.second) order_.push_back(key);
      next = NextWriteLocked();
    }
    if (next != nullptr) Write(next);
  }

  // Builds the next answer into write_buffer_ if nothing is being written.
  // The registries are read under this stream's lock, so that the answers of
  // one stream never go back in revision.
  grpc::ByteBuffer* NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || order_.empty()) return nullptr;
    const WatchKey key = order_.front();
    order_.pop_front();
    auto it = queued_.find(key);
    const std::string revision = std::move(it->second);
    queued_.erase(it);
    NamingRegistry::DiscoverResponsePtr answer =
        service_->AnswerDiscover(RequestFor(key, watches_[key], revision));
    bool own_buffer = false;
    write_buffer_.Clear();  // the previous answer's
    if (!grpc::SerializationTraits<v1::DiscoverResponse>::Serialize(*answer, &write_buffer_,
                                                                     &own_buffer)
             .ok()) {
      return nullptr;  // cannot happen for a message we built
    }
    writing_ = true;
    return &write_buffer_;
  }

  // True once, when the stream should end: ending, nothing left to write,
  // no read about to be started by a delay's alarm.
  bool ShouldFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!ending_ || writing_ || delaying_ || !order_.empty() || finished_) return false;
    finished_ = true;
    return true;
  }

  NamingService* const service_;
  std::atomic<int> refs_{1};  // gRPC's, dropped in OnDone
  grpc::ByteBuffer read_buffer_;  // only touched by the read chain
  std::deque<grpc::Alarm> delays_;  // injected answer delays (read chain)
  WatchKey delayed_key_;            // what the pending one answers
  std::string delayed_revision_;
  std::mutex mu_;
  // Watched resources, with their onlyHealthyInstance filter.
  std::map<WatchKey, bool> watches_ ABSL_GUARDED_BY(mu_);
  // Answers waiting to be written: the revision to answer per resource, in
  // the order they were first queued.
  std::map<WatchKey, std::string> queued_ ABSL_GUARDED_BY(mu_);
  std::deque<WatchKey> order_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer write_buffer_ ABSL_GUARDED_BY(mu_);  // the answer being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;  // not reading: too many answers waiting
  bool delaying_ ABSL_GUARDED_BY(mu_) = false;  // the read chain waits for an alarm
  bool ending_ ABSL_GUARDED_BY(mu_) = false;  // reads over, or asked to end
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

NamingService::NamingService(NamingRegistry* registry, RuleRegistry* rules,
                             FaultInjector* faults, RequestLog log, NamingLimits limits)
    : registry_(registry), rules_(rules), faults_(faults), log_(std::move(log)), limits_(limits) {
  auto on_changed = [this](DiscoverType type, const ServiceKey& key) { OnChanged(type, key); };
  registry_->SetChangeListener(on_changed);
  rules_->SetChangeListener(on_changed);
}

NamingService::~NamingService() {
  registry_->SetChangeListener(nullptr);
  rules_->SetChangeListener(nullptr);
  // After the last stream's RemoveStream, which gRPC ran on its threads.
  std::lock_guard<std::mutex> lock(streams_mu_);
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

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NamingService::Discover(
    grpc::CallbackServerContext* /*context*/) {
  return new DiscoverStream(this);
}

DiscoverStreamStats NamingService::StreamStats() {
  DiscoverStreamStats stats;
  ForEachStream([&stats](DiscoverStream* stream) { stream->AddStats(&stats); });
  return stats;
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
