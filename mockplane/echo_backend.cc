#include "mockplane/echo_backend.h"

#include <utility>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class EchoBackend::Service final : public echo::EchoServer::CallbackService {
 public:
  Service(std::string name, absl::Duration latency,
          std::shared_ptr<std::atomic<uint64_t>> calls)
      : name_(std::move(name)), latency_(latency), calls_(std::move(calls)) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const echo::EchoRequest* request,
                                 echo::EchoResponse* response) override {
    calls_->fetch_add(1, std::memory_order_relaxed);
    response->set_message(request->message());
    response->set_instance(name_);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (latency_ > absl::ZeroDuration()) {
      // Answered when the alarm fires (or at once if the server stops first).
      auto* alarm = new grpc::Alarm();
      alarm->Set(absl::ToChronoTime(absl::Now() + latency_), [alarm, reactor](bool) {
        reactor->Finish(grpc::Status::OK);
        delete alarm;
      });
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const std::string name_;
  const absl::Duration latency_;
  std::shared_ptr<std::atomic<uint64_t>> calls_;
};

EchoBackend::EchoBackend(Options options)
    : options_(std::move(options)), calls_(std::make_shared<std::atomic<uint64_t>>(0)) {}

absl::StatusOr<std::unique_ptr<EchoBackend>> EchoBackend::Start(Options options) {
  std::unique_ptr<EchoBackend> backend(new EchoBackend(std::move(options)));
  backend->service_ = std::make_unique<Service>(backend->options_.name, backend->options_.latency,
                                               backend->calls_);
  grpc::ServerBuilder builder;
  const std::string listen = JoinHostPort(backend->options_.host, backend->options_.port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &backend->port_);
  builder.RegisterService(backend->service_.get());
  backend->server_ = builder.BuildAndStart();
  if (backend->server_ == nullptr || backend->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("echo backend: cannot listen on ", listen));
  }
  return backend;
}

EchoBackend::~EchoBackend() { Shutdown(absl::ZeroDuration()); }

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

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
