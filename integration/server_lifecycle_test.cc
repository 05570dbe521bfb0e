// Lossless offline and online of servers installed with PolarisServer,
// through the public API: health NOT_SERVING before the instance leaves the
// control plane, Offline()/Online(), a rolling restart of three backends
// under unary and streaming load through polaris:// that fails no call, and
// the SIGTERM path in a child process.
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/polaris_client.h"
#include "mockplane/child_process.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/v1/lossless.pb.h"
#include "server/admin_client_for_test.h"
#include "server/polaris_server.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::WaitUntil;

const ServiceKey kApp{"default", "LosslessEcho"};

class ServerLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    ClientOptions options;
    options.control_plane_address = plane_->address();
    ASSERT_TRUE(Init(options).ok());
  }
  void TearDown() override {
    for (auto& backend : backends_) {
      if (backend.polaris != nullptr) (void)backend.polaris->Shutdown();
    }
    backends_.clear();
    ASSERT_TRUE(Init(ClientOptions()).ok());
  }

  struct Governed {
    std::unique_ptr<PolarisServer> polaris;
    std::unique_ptr<EchoBackend> backend;
  };

  // A backend registered as the application kApp.
  Governed StartGoverned(const std::string& name,
                         absl::Duration propagation = absl::Milliseconds(500),
                         bool admin = false,
                         const std::function<void(ServerOptions&)>& tweak = nullptr,
                         bool start = true, const std::string& host = "127.0.0.1") {
    Governed governed;
    EchoBackend::Options options;
    options.name = name;
    options.host = host;
    options.prepare = [&](grpc::ServerBuilder& builder) {
      ServerOptions server_options;
      server_options.registration.service = kApp.service;
      server_options.registration.control_plane_address = plane_->address();
      server_options.registration.host = host;
      server_options.registration.deregister_propagation_delay = propagation;
      if (admin) server_options.admin = AdminOptions{};
      if (tweak) tweak(server_options);
      auto installed = PolarisServer::Install(builder, server_options);
      EXPECT_TRUE(installed.ok()) << installed.status();
      if (installed.ok()) governed.polaris = std::move(*installed);
    };
    auto backend = EchoBackend::Start(options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok() || governed.polaris == nullptr) return governed;
    governed.backend = std::move(*backend);
    if (!start) return governed;
    absl::Status started = governed.polaris->Start(*governed.backend->server(),
                                                   governed.backend->port());
    EXPECT_TRUE(started.ok()) << started;
    return governed;
  }

  bool Registered(const EchoBackend& backend) const {
    for (const Instance& instance : plane_->Instances(kApp)) {
      if (instance.port == static_cast<uint32_t>(backend.port())) return true;
    }
    return false;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::vector<Governed> backends_;
};

grpc::health::v1::HealthCheckResponse::ServingStatus Check(const EchoBackend& backend) {
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(backend.address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Calls through polaris:// while servers come and go, and what became of them.
struct Load {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> unary_ok{0}, unary_failed{0}, streams_ok{0}, streams_failed{0};
  std::string last_error;  // written by whoever fails (tests read it after join)
  std::mutex error_mu;

  void Failed(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(error_mu);
    last_error = status.error_message();
  }
};

void UnaryLoad(echo::EchoServer::Stub& stub, Load& load) {
  for (int i = 0; i < 10'000'000 && !load.stop.load(); ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    echo::EchoRequest request;
    echo::EchoResponse response;
    grpc::Status status = stub.Echo(&context, request, &response);
    if (status.ok()) {
      load.unary_ok.fetch_add(1);
    } else {
      load.unary_failed.fetch_add(1);
      load.Failed(status);
    }
  }
}

void StreamingLoad(echo::EchoServer::Stub& stub, Load& load) {
  for (int i = 0; i < 10'000'000 && !load.stop.load(); ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    auto stream = stub.Chat(&context);
    bool exchanged = true;
    for (int m = 0; m < 5 && exchanged; ++m) {
      echo::EchoRequest request;
      request.set_message("m");
      echo::EchoResponse response;
      exchanged = stream->Write(request) && stream->Read(&response);
    }
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.ok() && exchanged) {
      load.streams_ok.fetch_add(1);
    } else {
      load.streams_failed.fetch_add(1);
      load.Failed(status);
    }
  }
}

TEST_F(ServerLifecycleTest, NotServingComesBeforeTheInstanceLeaves) {
  Governed governed = StartGoverned("a");
  ASSERT_NE(governed.backend, nullptr);
  ASSERT_TRUE(Registered(*governed.backend));
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(governed.backend->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::health::v1::HealthCheckRequest request;
  auto watch = health->Watch(&context, request);
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  // The deregistration is held at the control plane for a while: if it were
  // sent first, NOT_SERVING could only come after it.
  plane_->faults().DelayNext("DeregisterInstance", 1, absl::Seconds(2));  // < rpc_timeout
  std::thread offline([&] { EXPECT_TRUE(governed.polaris->Offline().ok()); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(Registered(*governed.backend));
  offline.join();
  EXPECT_FALSE(Registered(*governed.backend));
  context.TryCancel();
  (void)watch->Finish();
}

TEST_F(ServerLifecycleTest, OfflineAndOnlineAgain) {
  Governed governed = StartGoverned("a");
  ASSERT_NE(governed.backend, nullptr);
  ASSERT_TRUE(governed.polaris->online());
  ASSERT_TRUE(governed.polaris->Offline().ok());
  EXPECT_TRUE(governed.polaris->Offline().ok());  // idempotent
  EXPECT_FALSE(governed.polaris->online());
  EXPECT_FALSE(Registered(*governed.backend));
  EXPECT_EQ(Check(*governed.backend), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  ASSERT_TRUE(governed.polaris->Online().ok());
  EXPECT_TRUE(governed.polaris->online());
  EXPECT_TRUE(Registered(*governed.backend));
  EXPECT_EQ(Check(*governed.backend), grpc::health::v1::HealthCheckResponse::SERVING);

  ASSERT_TRUE(governed.polaris->Shutdown().ok());
  EXPECT_FALSE(Registered(*governed.backend));
  EXPECT_EQ(governed.polaris->Online().code(), absl::StatusCode::kFailedPrecondition);
}

// Lossless online: the instance registers only once its readiness check
// passes, so no call reaches it before.
TEST_F(ServerLifecycleTest, NoCallReachesAnInstanceBeforeItsReadinessCheckPasses) {
  backends_.push_back(StartGoverned("a"));
  auto stub = echo::EchoServer::NewStub(
      grpc::CreateChannel("polaris://" + kApp.service, grpc::InsecureChannelCredentials()));
  Load load;
  std::thread caller([&] { UnaryLoad(*stub, load); });
  ASSERT_TRUE(WaitUntil([&] { return load.unary_ok.load() > 50; }, absl::Seconds(20)));

  std::atomic<int> polls{0};
  std::atomic<bool> ready{false};
  backends_.push_back(StartGoverned("b", absl::Milliseconds(500), false, [&](ServerOptions& o) {
    o.online.readiness = [&] {
      ++polls;
      return ready.load();
    };
    o.online.readiness_interval = absl::Milliseconds(10);
  }));
  EchoBackend& b = *backends_.back().backend;
  ASSERT_TRUE(WaitUntil([&] { return polls.load() >= 5; }, absl::Seconds(20)));
  EXPECT_FALSE(Registered(b));
  EXPECT_FALSE(backends_.back().polaris->online());
  EXPECT_EQ(b.calls(), 0u);
  ready = true;
  EXPECT_TRUE(WaitUntil([&] { return Registered(b); }, absl::Seconds(20)));
  EXPECT_TRUE(WaitUntil([&] { return b.calls() > 0; }, absl::Seconds(20)));
  // online() turns true once Register() has returned, after the control
  // plane already lists the instance.
  EXPECT_TRUE(WaitUntil([&] { return backends_.back().polaris->online(); }, absl::Seconds(20)));
  load.stop = true;
  caller.join();
  EXPECT_EQ(load.unary_failed.load(), 0) << load.last_error;
}

v1::LosslessRule DelayRule(v1::DelayRegister::DelayStrategy strategy) {
  v1::LosslessRule rule;
  rule.set_id("delay");
  rule.set_service(kApp.service);
  rule.set_namespace_(kApp.service_namespace);
  v1::DelayRegister* delay = rule.mutable_losslessonline()->mutable_delayregister();
  delay->set_enable(true);
  delay->set_strategy(strategy);
  return rule;
}

TEST_F(ServerLifecycleTest, ALosslessRuleDelaysRegistrationByTime) {
  v1::LosslessRule rule = DelayRule(v1::DelayRegister::DELAY_BY_TIME);
  rule.mutable_losslessonline()->mutable_delayregister()->set_intervalsecond(1);
  plane_->SetLossless(kApp, rule);
  Governed governed = StartGoverned("a", absl::ZeroDuration(), false, nullptr, false);
  ASSERT_NE(governed.backend, nullptr);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(governed.polaris->Start(*governed.backend->server(), governed.backend->port()).ok());
  ASSERT_TRUE(WaitUntil([&] { return Registered(*governed.backend); }, absl::Seconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  backends_.push_back(std::move(governed));
}

TEST_F(ServerLifecycleTest, ALosslessRuleDelaysRegistrationUntilTheServersHealthIsServing) {
  v1::LosslessRule rule = DelayRule(v1::DelayRegister::DELAY_BY_HEALTH_CHECK);
  rule.mutable_losslessonline()->mutable_delayregister()->set_healthcheckintervalsecond("1");
  plane_->SetLossless(kApp, rule);
  // Listening on [::1] only: the health check reaches the server through
  // its in-process channel, whatever it listens on.
  Governed governed = StartGoverned("a", absl::ZeroDuration(), false, nullptr, false, "::1");
  ASSERT_NE(governed.backend, nullptr);
  governed.backend->SetServing(false);  // e.g. still loading
  ASSERT_TRUE(governed.polaris->Start(*governed.backend->server(), governed.backend->port()).ok());
  // Several health checks come and go (1 s apart) without a registration.
  const absl::Time start = absl::Now();
  EXPECT_FALSE(WaitUntil([&] { return Registered(*governed.backend); }, absl::Milliseconds(2500)));
  governed.backend->SetServing(true);
  ASSERT_TRUE(WaitUntil([&] { return Registered(*governed.backend); }, absl::Seconds(20)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(2500));
  backends_.push_back(std::move(governed));
}

TEST_F(ServerLifecycleTest, OfflineBeforeADelayedRegistrationCancelsIt) {
  std::atomic<int> polls{0};
  Governed governed = StartGoverned("a", absl::ZeroDuration(), false, [&](ServerOptions& o) {
    o.online.readiness = [&] {
      ++polls;
      return false;
    };
    o.online.readiness_interval = absl::Milliseconds(10);
  });
  ASSERT_NE(governed.backend, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return polls.load() >= 2; }, absl::Seconds(20)));
  ASSERT_TRUE(governed.polaris->Offline().ok());
  ASSERT_TRUE(governed.polaris->Online().ok());  // the operator's word wins over readiness
  EXPECT_TRUE(Registered(*governed.backend));
  backends_.push_back(std::move(governed));
}

// What an orchestrator does through the admin port.
TEST_F(ServerLifecycleTest, TheAdminPortTakesTheInstanceOutOfTrafficAndBack) {
  Governed governed = StartGoverned("a", absl::ZeroDuration(), /*admin=*/true);
  ASSERT_NE(governed.backend, nullptr);
  const int port = governed.polaris->admin_port();
  ASSERT_GT(port, 0);
  using testing::AdminRequestForTest;
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/readiness"),
            std::make_pair(200, std::string("ready\n")));
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/health"),
            std::make_pair(200, std::string("online\n")));

  EXPECT_EQ(AdminRequestForTest(port, "POST", "/offline"),
            std::make_pair(200, std::string("offline\n")));
  EXPECT_FALSE(Registered(*governed.backend));
  EXPECT_EQ(Check(*governed.backend), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/readiness").first, 503);
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/health"),
            std::make_pair(200, std::string("offline\n")));

  EXPECT_EQ(AdminRequestForTest(port, "GET", "/online"),
            std::make_pair(200, std::string("online\n")));
  EXPECT_TRUE(Registered(*governed.backend));
  EXPECT_EQ(Check(*governed.backend), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(AdminRequestForTest(port, "DELETE", "/offline").first, 405);
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/metrics").first, 404);

  ASSERT_TRUE(governed.polaris->Shutdown().ok());
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/health").first, 503);
  EXPECT_EQ(AdminRequestForTest(port, "GET", "/online").first, 503);
}

// Each of three backends is replaced in turn under load.
TEST_F(ServerLifecycleTest, ARollingRestartUnderUnaryAndStreamingLoadFailsNoCall) {
  for (const char* name : {"a", "b", "c"}) {
    backends_.push_back(StartGoverned(name));
    ASSERT_NE(backends_.back().backend, nullptr);
  }
  auto stub = echo::EchoServer::NewStub(
      grpc::CreateChannel("polaris://" + kApp.service, grpc::InsecureChannelCredentials()));
  Load load;
  std::vector<std::thread> callers;
  callers.emplace_back([&] { UnaryLoad(*stub, load); });
  callers.emplace_back([&] { UnaryLoad(*stub, load); });
  callers.emplace_back([&] { StreamingLoad(*stub, load); });
  ASSERT_TRUE(WaitUntil([&] { return load.unary_ok.load() > 100 && load.streams_ok.load() > 10; },
                        absl::Seconds(20)));
  for (size_t i = 0; i < 3; ++i) {
    const std::string name = std::string(1, static_cast<char>('a' + i)) + "2";
    ASSERT_TRUE(backends_[i].polaris->Shutdown().ok());
    backends_[i] = StartGoverned(name);
    ASSERT_NE(backends_[i].backend, nullptr);
    // The replacement takes traffic before the next one goes.
    const uint64_t served = backends_[i].backend->calls();
    ASSERT_TRUE(WaitUntil([&] { return backends_[i].backend->calls() > served + 10; },
                          absl::Seconds(20)));
  }
  load.stop = true;
  for (std::thread& caller : callers) caller.join();
  printf("rolling restart: %lld unary calls, %lld streams, %lld + %lld failed\n",
         static_cast<long long>(load.unary_ok.load()),
         static_cast<long long>(load.streams_ok.load()),
         static_cast<long long>(load.unary_failed.load()),
         static_cast<long long>(load.streams_failed.load()));
  EXPECT_EQ(load.unary_failed.load(), 0) << load.last_error;
  EXPECT_EQ(load.streams_failed.load(), 0) << load.last_error;
  EXPECT_GT(load.streams_ok.load(), 10);
}

// The SIGTERM path in a real process: ShutdownOnSignal takes it out of
// traffic, lets calls finish and stops it; callers see no failure.
TEST_F(ServerLifecycleTest, SigtermStopsAChildProcessGracefully) {
  const ServiceKey echo{"default", "EchoServerGRPC"};
  auto child = mockplane::ChildProcess::Start(
      {mockplane::RunfilesPath("integration/echo_server_process"), plane_->address(), "child",
       "5", "governed"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> ready = (*child)->ReadLine();
  ASSERT_TRUE(ready.ok()) << ready.status();
  ASSERT_EQ(ready->rfind("READY ", 0), 0u) << *ready;
  // A second instance in this process, for calls to go to meanwhile.
  EchoBackend::Options options;
  options.name = "local";
  options.prepare = [&](grpc::ServerBuilder& builder) {
    ServerOptions server_options;
    server_options.registration.service = echo.service;
    server_options.registration.control_plane_address = plane_->address();
    server_options.registration.host = "127.0.0.1";
    auto installed = PolarisServer::Install(builder, server_options);
    ASSERT_TRUE(installed.ok());
    backends_.push_back(Governed{std::move(*installed), nullptr});
  };
  auto local = EchoBackend::Start(options);
  ASSERT_TRUE(local.ok());
  ASSERT_TRUE(backends_.back().polaris->Start(*(*local)->server(), (*local)->port()).ok());
  backends_.back().backend = std::move(*local);
  ASSERT_EQ(plane_->Instances(echo).size(), 2u);

  auto stub = echo::EchoServer::NewStub(
      grpc::CreateChannel("polaris://" + echo.service, grpc::InsecureChannelCredentials()));
  Load load;
  std::vector<std::thread> callers;
  callers.emplace_back([&] { UnaryLoad(*stub, load); });
  callers.emplace_back([&] { StreamingLoad(*stub, load); });
  ASSERT_TRUE(WaitUntil([&] { return load.unary_ok.load() > 100; }, absl::Seconds(20)));
  ASSERT_EQ(kill((*child)->pid(), SIGTERM), 0);
  absl::StatusOr<std::string> stopped = (*child)->ReadLine();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(*stopped, "STOPPED 15");
  EXPECT_EQ(plane_->Instances(echo).size(), 1u);  // deregistered on its way out
  const int64_t after = load.unary_ok.load();
  ASSERT_TRUE(WaitUntil([&] { return load.unary_ok.load() > after + 100; }, absl::Seconds(20)));
  load.stop = true;
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(load.unary_failed.load(), 0) << load.last_error;
  EXPECT_EQ(load.streams_failed.load(), 0) << load.last_error;
}

}  // namespace
}  // namespace grpc_cpp_polaris
