// The "grpc" prober: gRPC's health Check (grpc.health.v1) on a channel of
// its own (not sharing the application's connections, whose backoff would
// answer for the instance), SERVING within the timeout.
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "sdk/breaker/fault_detect.h"

namespace grpc_cpp_polaris {
namespace {

class GrpcHealthProber final : public Prober {
 public:
  absl::string_view name() const override { return "grpc"; }

  absl::Status Probe(const ProbeTarget& target, const ActiveProbeOptions& options) const override {
    const std::string address = target.host.find(':') != std::string::npos
                                    ? absl::StrCat("ipv6:[", target.host, "]:", target.port)
                                    : absl::StrCat(target.host, ":", target.port);
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    std::unique_ptr<grpc::health::v1::Health::Stub> stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(options.service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat("health check of ", address, ": ", status.error_message()));
    }
    if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::UnavailableError(absl::StrCat(
          "health check of ", address, ": ",
          grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())));
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<Prober> MakeGrpcHealthProber() { return std::make_unique<GrpcHealthProber>(); }

}  // namespace grpc_cpp_polaris
