#include "mockplane/config_service.h"

#include <atomic>
#include <optional>
#include <utility>

#include <grpcpp/alarm.h>

#include "absl/time/clock.h"
#include "mockplane/serving.h"
#include "mockplane/wire_codes.h"
#include "proto/v1/code.pb.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

// A long-poll WatchConfigFiles call. It completes once, first of: a publish
// of a watched file, the watch timeout, or cancellation. Reference counted:
// gRPC's reference (dropped in OnDone), the alarm's and the watch's.
class WatchReactor final : public grpc::ServerUnaryReactor {
 public:
  WatchReactor(ConfigRegistry* registry, v1::ConfigClientResponse* response)
      : registry_(registry), response_(response) {}

  void Start(const v1::ClientWatchConfigFileRequest& request, absl::Duration timeout) {
    // The alarm first, so that nothing else can race with setting it.
    refs_.fetch_add(1);  // the alarm's; its callback runs even when cancelled
    TsanRelease(this);
    alarm_.Set(absl::ToChronoTime(absl::Now() + timeout), [this](bool) {
      TsanAcquire(this);
      Complete(Unchanged());
      Unref();
    });
    refs_.fetch_add(1);  // the watch's
    ConfigRegistry::WatchId id = 0;
    std::optional<v1::ConfigClientResponse> now = registry_->Watch(
        request,
        [this](const v1::ConfigClientResponse& changed) {
          Complete(changed);
          Unref();
        },
        &id);
    if (now.has_value()) {
      Unref();  // no watch was registered
      Complete(*now);
      TsanRelease(this);  // in the handler: the call is not bound, not done
      return;
    }
    watch_id_.store(id);
    // Completed (timed out, cancelled) while registering: withdraw the watch.
    if (completed_.load() && registry_->RemoveWatch(id)) Unref();
  }

  // Ends the call now with `status` (an injected failure).
  void Fail(const grpc::Status& status) {
    if (!completed_.exchange(true)) FinishWith(status);
  }

  void OnCancel() override {
    TsanAcquire(this);
    Complete(Unchanged());
  }

  void OnDone() override {
    TsanAcquire(this);
    Unref();
  }

 private:
  void Complete(const v1::ConfigClientResponse& response) {
    if (completed_.exchange(true)) return;
    // Whoever completes first stops the others: the watch and the alarm.
    if (registry_->RemoveWatch(watch_id_.load())) Unref();
    alarm_.Cancel();
    *response_ = response;
    FinishWith(grpc::Status::OK);
  }

  // The response is gRPC's, handed between its threads: the annotations
  // tell ThreadSanitizer (see sdk/tsan.h).
  void FinishWith(const grpc::Status& status) {
    TsanRelease(this);
    Finish(status);
  }

  void Unref() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  static v1::ConfigClientResponse Unchanged() {
    return WithCode<v1::ConfigClientResponse>(v1::DataNoChange);
  }

  ConfigRegistry* const registry_;
  v1::ConfigClientResponse* const response_;
  grpc::Alarm alarm_;
  std::atomic<int> refs_{1};  // gRPC's
  std::atomic<bool> completed_{false};
  std::atomic<ConfigRegistry::WatchId> watch_id_{0};
};

}  // namespace

ConfigService::ConfigService(ConfigRegistry* registry, FaultInjector* faults, RequestLog log,
                             absl::Duration watch_timeout)
    : registry_(registry),
      faults_(faults),
      log_(std::move(log)),
      watch_timeout_(watch_timeout) {}

template <typename Response, typename Work>
grpc::ServerUnaryReactor* ConfigService::Serve(const char* method,
                                               const google::protobuf::Message& request,
                                               Response* response, Work work) {
  return ServeUnary(faults_, log_, method, request, [response, work]() {
    *response = work();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ConfigService::GetConfigFile(grpc::CallbackServerContext* /*context*/,
                                                       const v1::ClientConfigFileInfo* request,
                                                       v1::ConfigClientResponse* response) {
  return Serve("GetConfigFile", *request, response, [this, request] {
    return registry_->Get(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::CreateConfigFile(grpc::CallbackServerContext* /*context*/,
                                                          const v1::ConfigFile* request,
                                                          v1::ConfigClientResponse* response) {
  return Serve("CreateConfigFile", *request, response, [this, request] {
    return registry_->Create(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::UpdateConfigFile(grpc::CallbackServerContext* /*context*/,
                                                          const v1::ConfigFile* request,
                                                          v1::ConfigClientResponse* response) {
  return Serve("UpdateConfigFile", *request, response, [this, request] {
    return registry_->Update(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::PublishConfigFile(
    grpc::CallbackServerContext* /*context*/, const v1::ConfigFileRelease* request,
    v1::ConfigClientResponse* response) {
  return Serve("PublishConfigFile", *request, response, [this, request] {
    return registry_->Publish(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::UpsertAndPublishConfigFile(
    grpc::CallbackServerContext* /*context*/, const v1::ConfigFilePublishInfo* request,
    v1::ConfigClientResponse* response) {
  return Serve("UpsertAndPublishConfigFile", *request, response, [this, request] {
    return registry_->UpsertAndPublish(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::GetConfigFileMetadataList(
    grpc::CallbackServerContext* /*context*/, const v1::ConfigFileGroupRequest* request,
    v1::ConfigClientListResponse* response) {
  return Serve("GetConfigFileMetadataList", *request, response, [this, request] {
    return registry_->List(*request);
  });
}

grpc::ServerUnaryReactor* ConfigService::WatchConfigFiles(
    grpc::CallbackServerContext* /*context*/, const v1::ClientWatchConfigFileRequest* request,
    v1::ConfigClientResponse* response) {
  TsanAcquire(&tsan_services_built_key);
  LogRequest(log_, "WatchConfigFiles", *request);
  const Fault fault = faults_->Take("WatchConfigFiles");
  auto* reactor = new WatchReactor(registry_, response);
  if (!fault.status.ok()) {
    reactor->Fail(ToGrpc(fault.status));
    TsanRelease(reactor);  // in the handler: the call is not bound, not done
    return reactor;
  }
  reactor->Start(*request, watch_timeout_ + fault.delay);
  return reactor;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
