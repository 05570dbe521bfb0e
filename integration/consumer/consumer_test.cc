// Uses the public client, server and mockplane APIs from another workspace.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "server/registration.h"

namespace {

TEST(ConsumerTest, DialsARegisteredServiceByName) {
  auto plane = grpc_cpp_polaris::mockplane::ControlPlane::Start();
  ASSERT_TRUE(plane.ok()) << plane.status();
  auto backend = grpc_cpp_polaris::mockplane::EchoBackend::Start({"consumer-backend"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  grpc_cpp_polaris::RegisterOptions options;
  options.service = "ConsumerEcho";
  options.control_plane_address = (*plane)->address();
  auto registration =
      grpc_cpp_polaris::Register(*(*backend)->server(), (*backend)->port(), options);
  ASSERT_TRUE(registration.ok()) << registration.status();

  grpc::ChannelArguments args;
  args.SetString(grpc_cpp_polaris::kControlPlaneAddressArg, (*plane)->address());
  auto channel = grpc::CreateCustomChannel("polaris://ConsumerEcho",
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = grpc_cpp_polaris::echo::EchoServer::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc_cpp_polaris::echo::EchoRequest request;
  request.set_message("hi");
  grpc_cpp_polaris::echo::EchoResponse response;
  grpc::Status status = stub->Echo(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.instance(), "consumer-backend");
}

}  // namespace
