// For integration tests: a mockplane, echo backends registered as service
// "Echo", polaris:// stubs to it, and call tallies by backend.
#ifndef GRPC_CPP_POLARIS_INTEGRATION_ECHO_SERVICE_FIXTURE_H_
#define GRPC_CPP_POLARIS_INTEGRATION_ECHO_SERVICE_FIXTURE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace testing {

inline const ServiceKey kEcho{"default", "Echo"};

// Where calls landed: per backend name, and how many failed.
struct Tally {
  std::map<std::string, int> by_backend;
  int failed = 0;
  std::string last_error;
  int total() const {
    int sum = failed;
    for (const auto& entry : by_backend) sum += entry.second;
    return sum;
  }
};

class EchoServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = mockplane::ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    ControlPlaneOptions options;
    options.address = plane_->address();
    registrar_ = std::make_unique<ControlPlaneClient>(options);
    ASSERT_TRUE(Init(ClientOptions()).ok());
  }
  void TearDown() override { ASSERT_TRUE(Init(ClientOptions()).ok()); }

  // Starts a backend named `name` and registers it as an instance of Echo.
  void AddBackend(const std::string& name, std::map<std::string, std::string> metadata,
                  Location location = {}, uint32_t weight = 100,
                  absl::Duration latency = absl::ZeroDuration()) {
    mockplane::EchoBackend::Options options;
    options.name = name;
    options.latency = latency;
    auto backend = mockplane::EchoBackend::Start(options);
    ASSERT_TRUE(backend.ok()) << backend.status();
    InstanceRegistration registration;
    registration.key = kEcho;
    registration.instance.host = "127.0.0.1";
    registration.instance.port = static_cast<uint32_t>((*backend)->port());
    registration.instance.metadata = std::move(metadata);
    registration.instance.location = std::move(location);
    registration.instance.weight = weight;
    registration.ttl_seconds = 0;
    absl::StatusOr<std::string> id = registrar_->RegisterInstance(registration);
    ASSERT_TRUE(id.ok()) << id.status();
    ids_[name] = *id;
    backends_[name] = std::move(*backend);
  }

  // A stub on a fresh polaris://Echo channel, with `service_config` if any.
  std::unique_ptr<echo::EchoServer::Stub> NewStub(const std::string& service_config = "") {
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, plane_->address());
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (!service_config.empty()) args.SetServiceConfigJSON(service_config);
    return echo::EchoServer::NewStub(
        grpc::CreateCustomChannel("polaris://Echo", grpc::InsecureChannelCredentials(), args));
  }

  // `calls` sequential calls, each prepared by `prepare`.
  static Tally Count(echo::EchoServer::Stub& stub, int calls,
                     const std::function<void(grpc::ClientContext*)>& prepare = nullptr) {
    Tally tally;
    for (int i = 0; i < calls; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      context.set_wait_for_ready(true);
      if (prepare) prepare(&context);
      echo::EchoRequest request;
      echo::EchoResponse response;
      grpc::Status status = stub.Echo(&context, request, &response);
      if (status.ok()) {
        ++tally.by_backend[response.instance().substr(0, response.instance().find('@'))];
      } else {
        ++tally.failed;
        tally.last_error = status.error_message();
      }
    }
    return tally;
  }

  std::unique_ptr<mockplane::ControlPlane> plane_;
  std::unique_ptr<ControlPlaneClient> registrar_;
  std::map<std::string, std::unique_ptr<mockplane::EchoBackend>> backends_;
  std::map<std::string, std::string> ids_;
};

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_INTEGRATION_ECHO_SERVICE_FIXTURE_H_
