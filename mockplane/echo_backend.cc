#include "mockplane/echo_backend.h"

#include <utility>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/model.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class EchoBackend::Service final : public echo::EchoServer::CallbackService {
 public:
  Service(std::string name, absl::Duration latency,
          std::shared_ptr<std::atomic<uint64_t>> calls)
      : name_(std::move(name)),
        latency_nanos_(absl::ToInt64Nanoseconds(latency)),
        calls_(std::move(calls)) {}

  void SetFailure(grpc::StatusCode code) { failure_.store(code, std::memory_order_relaxed); }
  void SetLatency(absl::Duration latency) {
    latency_nanos_.store(absl::ToInt64Nanoseconds(latency), std::memory_order_relaxed);
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const echo::EchoRequest* request,
                                 echo::EchoResponse* response) override {
    calls_->fetch_add(1, std::memory_order_relaxed);
    response->set_message(request->message());
    response->set_instance(name_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const grpc::StatusCode code = failure_.load(std::memory_order_relaxed);
    const grpc::Status status =
        code == grpc::StatusCode::OK
            ? grpc::Status::OK
            : grpc::Status(code, absl::StrCat("echo backend ", name_, " fails (fault knob)"));
    const absl::Duration latency = absl::Nanoseconds(latency_nanos_.load(std::memory_order_relaxed));
    if (latency > absl::ZeroDuration()) {
      // Answered when the alarm fires (or at once if the server stops first).
      auto* alarm = new grpc::Alarm();
      alarm->Set(absl::ToChronoTime(absl::Now() + latency), [alarm, reactor, status](bool) {
        reactor->Finish(status);
        delete alarm;
      });
      return reactor;
    }
    reactor->Finish(status);
    return reactor;
  }

  // Answers each message with the backend's name until the caller is done.
  grpc::ServerBidiReactor<echo::EchoRequest, echo::EchoResponse>* Chat(
      grpc::CallbackServerContext* /*context*/) override {
    calls_->fetch_add(1, std::memory_order_relaxed);
    return new ChatReactor(this);
  }

  int64_t open_streams() const { return open_streams_.load(std::memory_order_relaxed); }

 private:
  class ChatReactor final : public grpc::ServerBidiReactor<echo::EchoRequest, echo::EchoResponse> {
   public:
    // Each callback may run on another gRPC thread, ordered by gRPC where
    // ThreadSanitizer does not look (sdk/tsan.h): each releases before it
    // hands the reactor back to gRPC and once more when it returns (OnDone
    // follows every other callback's return).
    explicit ChatReactor(Service* service) : service_(service) {
      service_->open_streams_.fetch_add(1, std::memory_order_relaxed);
      TsanRelease(this);
      StartRead(&request_);
      TsanRelease(this);
    }
    void OnReadDone(bool ok) override {
      TsanAcquire(this);
      if (ok) {
        response_.set_message(request_.message());
        response_.set_instance(service_->name_);
        TsanRelease(this);
        StartWrite(&response_);
      } else {
        TsanRelease(this);
        Finish(grpc::Status::OK);
      }
      TsanRelease(this);
    }
    void OnWriteDone(bool ok) override {
      TsanAcquire(this);
      TsanRelease(this);
      if (ok) {
        StartRead(&request_);
      } else {
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "echo backend: write failed"));
      }
      TsanRelease(this);
    }
    void OnDone() override {
      TsanAcquire(this);
      Service* service = service_;
      delete this;
      service->open_streams_.fetch_sub(1, std::memory_order_relaxed);
      TsanRelease(service);  // the server's Wait() orders this before its end
    }

   private:
    Service* const service_;
    echo::EchoRequest request_;
    echo::EchoResponse response_;
  };

  std::atomic<int64_t> open_streams_{0};
  const std::string name_;
  std::atomic<int64_t> latency_nanos_;
  std::atomic<grpc::StatusCode> failure_{grpc::StatusCode::OK};
  std::shared_ptr<std::atomic<uint64_t>> calls_;
};

EchoBackend::EchoBackend(Options options)
    : options_(std::move(options)), calls_(std::make_shared<std::atomic<uint64_t>>(0)) {}

absl::StatusOr<std::unique_ptr<EchoBackend>> EchoBackend::Start(Options options) {
  std::unique_ptr<EchoBackend> backend(new EchoBackend(std::move(options)));
  backend->service_ = std::make_unique<Service>(backend->options_.name, backend->options_.latency,
                                               backend->calls_);
  // The health service answers probes (process-wide: every server built
  // from now on has it).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  const std::string listen = JoinHostPort(backend->options_.host, backend->options_.port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &backend->port_);
  builder.RegisterService(backend->service_.get());
  if (backend->options_.prepare) backend->options_.prepare(builder);
  backend->server_ = builder.BuildAndStart();
  if (backend->server_ == nullptr || backend->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("echo backend: cannot listen on ", listen));
  }
  return backend;
}

EchoBackend::~EchoBackend() {
  Shutdown(absl::ZeroDuration());
  TsanAcquire(service_.get());
}

void EchoBackend::SetFailure(grpc::StatusCode code) { service_->SetFailure(code); }
void EchoBackend::SetLatency(absl::Duration latency) { service_->SetLatency(latency); }

int64_t EchoBackend::open_streams() const { return service_->open_streams(); }

std::string EchoBackend::address() const { return JoinHostPort(options_.host, port_); }

void EchoBackend::Shutdown(absl::Duration deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
  server_->Wait();
}

absl::StatusOr<std::string> CallEcho(echo::EchoServer::Stub& stub, absl::Duration timeout,
                                     bool wait_for_ready) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(wait_for_ready);
  echo::EchoRequest request;
  request.set_message("ping");
  echo::EchoResponse response;
  grpc::Status status = stub.Echo(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return response.instance();
}

void EchoBackend::SetServing(bool serving) {
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus(serving);
  }
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
