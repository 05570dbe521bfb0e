// The caller's identity on the wire: a polaris:// channel of a process whose
// ClientOptions::caller names a service sends that service, its namespace
// and metadata on every call (unary and streaming) under the keys of
// sdk/call_metadata.h; a process that names none sends nothing, a value
// the application set on the call wins, and channels not dialled through
// polaris:// send nothing.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/call_metadata.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;

// What one call carried of the caller keys: every value sent per key.
using Seen = std::map<std::string, std::vector<std::string>>;

// Echo and Chat that record the caller keys of each call.
class Recorder final : public echo::EchoServer::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const echo::EchoRequest*,
                    echo::EchoResponse* response) override {
    Record(*context);
    response->set_instance("recorder");
    return grpc::Status::OK;
  }
  grpc::Status Chat(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<echo::EchoResponse, echo::EchoRequest>* stream) override {
    Record(*context);
    echo::EchoRequest request;
    while (stream->Read(&request)) {
      echo::EchoResponse response;
      response.set_instance("recorder");
      if (!stream->Write(response)) break;
    }
    return grpc::Status::OK;
  }

  std::vector<Seen> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  void Record(const grpc::ServerContext& context) {
    Seen seen;
    for (const char* key :
         {kCallerServiceMetadataKey, kCallerNamespaceMetadataKey, kCallerMetadataMetadataKey}) {
      auto range = context.client_metadata().equal_range(key);
      for (auto it = range.first; it != range.second; ++it) {
        seen[key].emplace_back(it->second.data(), it->second.size());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(std::move(seen));
  }

  std::mutex mu_;
  std::vector<Seen> calls_;
};

class CallerIdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&recorder_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ControlPlaneOptions options;
    options.address = plane_->address();
    registrar_ = std::make_unique<ControlPlaneClient>(options);
    InstanceRegistration registration;
    registration.key = ServiceKey{"default", "Recorder"};
    registration.instance.host = "127.0.0.1";
    registration.instance.port = static_cast<uint32_t>(port_);
    registration.ttl_seconds = 0;
    ASSERT_TRUE(registrar_->RegisterInstance(registration).ok());
  }
  void TearDown() override {
    server_->Shutdown();
    ASSERT_TRUE(Init(ClientOptions()).ok());
  }

  // A polaris:// stub in a process whose caller is `caller`.
  std::unique_ptr<echo::EchoServer::Stub> Stub(const CallerIdentity& caller) {
    ClientOptions options;
    options.control_plane_address = plane_->address();
    options.caller = caller;
    EXPECT_TRUE(Init(options).ok());
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return echo::EchoServer::NewStub(
        grpc::CreateCustomChannel("polaris://Recorder", grpc::InsecureChannelCredentials(), args));
  }

  static grpc::Status Call(echo::EchoServer::Stub& stub, const char* own_service = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    context.set_wait_for_ready(true);
    if (own_service != nullptr) context.AddMetadata(kCallerServiceMetadataKey, own_service);
    echo::EchoRequest request;
    echo::EchoResponse response;
    return stub.Echo(&context, request, &response);
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<ControlPlaneClient> registrar_;
  Recorder recorder_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

CallerIdentity Shop() {
  CallerIdentity caller;
  caller.service = ServiceKey{"prod", "Shop"};
  caller.metadata = {{"env", "blue"}, {"odd&key", "a=b"}};
  return caller;
}

TEST_F(CallerIdentityTest, EveryUnaryAndStreamingCallCarriesTheCaller) {
  auto stub = Stub(Shop());
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(Call(*stub).ok());
  {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stream = stub->Chat(&context);
    echo::EchoRequest request;
    echo::EchoResponse response;
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }

  const std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), static_cast<size_t>(kCalls + 1));
  const std::string metadata = EncodeLabels(Shop().metadata);
  for (const Seen& seen : calls) {
    EXPECT_EQ(seen.at(kCallerServiceMetadataKey), std::vector<std::string>{"Shop"});
    EXPECT_EQ(seen.at(kCallerNamespaceMetadataKey), std::vector<std::string>{"prod"});
    EXPECT_EQ(seen.at(kCallerMetadataMetadataKey), std::vector<std::string>{metadata});
  }
  absl::StatusOr<std::map<std::string, std::string>> decoded = DecodeLabels(metadata);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, Shop().metadata);
}

TEST_F(CallerIdentityTest, AValueTheApplicationSetIsKept) {
  auto stub = Stub(Shop());
  ASSERT_TRUE(Call(*stub, "Gateway").ok());
  const std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].at(kCallerServiceMetadataKey), std::vector<std::string>{"Gateway"});
  EXPECT_EQ(calls[0].at(kCallerNamespaceMetadataKey), std::vector<std::string>{"prod"});
}

TEST_F(CallerIdentityTest, NoCallerServiceSendsNothing) {
  CallerIdentity anonymous;
  anonymous.metadata = {{"env", "blue"}};
  auto stub = Stub(anonymous);
  ASSERT_TRUE(Call(*stub).ok());
  const std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].empty());
}

TEST_F(CallerIdentityTest, ChannelsNotDialledThroughPolarisSendNothing) {
  auto polaris = Stub(Shop());  // the identity is configured in the process
  ASSERT_TRUE(Call(*polaris).ok());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto direct = echo::EchoServer::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials(), args));
  ASSERT_TRUE(Call(*direct).ok());
  const std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].count(kCallerServiceMetadataKey), 1u);
  EXPECT_TRUE(calls[1].empty());
}

}  // namespace
}  // namespace grpc_cpp_polaris
