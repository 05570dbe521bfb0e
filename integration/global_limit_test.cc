// GLOBAL rate limits through the public API: three servers installed with
// PolarisServer share one RATE_LIMIT amount through the mockplane's
// rate-limit server (polaris.metric.v2, reported in batches), and each falls
// back to its local share (amount / instances) once that server is stopped.
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "mockplane/wait.h"
#include "proto/echo/echo.grpc.pb.h"
#include "proto/v1/ratelimit.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/limiter/rule_builders_for_test.h"
#include "server/polaris_server.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::EchoBackend;
using mockplane::kSanitized;
using mockplane::WaitUntil;

const ServiceKey kEcho{"default", echo::EchoServer::service_full_name()};
constexpr int kServers = 3;
constexpr uint32_t kRate = 150;  // per second, for the three together

v1::Rule GlobalRule(const std::string& id, uint32_t max) {
  v1::Rule rule = testing::QpsRule(kEcho, id, max, 1);
  rule.set_type(v1::Rule::GLOBAL);
  return rule;
}

class GlobalLimitTest : public ::testing::Test {
 protected:
  struct Server {
    std::unique_ptr<PolarisServer> polaris;
    std::unique_ptr<EchoBackend> backend;
    std::unique_ptr<echo::EchoServer::Stub> stub;
  };

  void SetUp() override {
    auto plane = ControlPlane::Start();
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }
  void TearDown() override {
    for (Server& server : servers_) {
      if (server.polaris != nullptr) {
        EXPECT_TRUE(server.polaris->Shutdown().ok());
      }
      server.backend.reset();
      server.polaris.reset();
    }
  }

  // `address` empty: the rate-limit server is found through naming.
  void StartServers(int count, const std::string& address) {
    for (int i = 0; i < count; ++i) {
      Server server;
      EchoBackend::Options options;
      options.name = "server-" + std::to_string(i);
      options.prepare = [&](grpc::ServerBuilder& builder) {
        ServerOptions server_options;
        server_options.registration.control_plane_address = plane_->address();
        server_options.registration.host = "127.0.0.1";
        server_options.registration.deregister_propagation_delay = absl::ZeroDuration();
        server_options.global_limits.address = address;
        auto installed = PolarisServer::Install(builder, server_options);
        ASSERT_TRUE(installed.ok()) << installed.status();
        server.polaris = std::move(*installed);
        server.polaris->RegisterService<echo::EchoServer>();
      };
      auto backend = EchoBackend::Start(options);
      ASSERT_TRUE(backend.ok()) << backend.status();
      server.backend = std::move(*backend);
      ASSERT_NE(server.polaris, nullptr);
      ASSERT_TRUE(server.polaris->Start(*server.backend->server(), server.backend->port()).ok());
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      server.stub = echo::EchoServer::NewStub(grpc::CreateCustomChannel(
          server.backend->address(), grpc::InsecureChannelCredentials(), args));
      servers_.push_back(std::move(server));
    }
    // Every server's limiter knows all the instances (its local share) and
    // has its window announced to the rate-limit server.
    for (Server& server : servers_) {
      ASSERT_TRUE(WaitUntil(
          [&] {
            auto governance = server.polaris->gate().Current(kEcho);
            return governance != nullptr && governance->limiter != nullptr &&
                   governance->limiter->options().instances == static_cast<uint32_t>(count);
          },
          absl::Seconds(30)));
    }
  }

  // Each of `servers` gets `per_second` calls a second, paced, from the
  // next whole second (the rate-limit server's windows start on them) for
  // `seconds`; returns the calls each had admitted in that time.
  std::vector<int64_t> Load(const std::vector<int>& servers, int per_second, int seconds) {
    const absl::Time start = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 1);
    const absl::Time end = start + absl::Seconds(seconds);
    std::vector<std::atomic<int64_t>> admitted(servers.size());
    std::atomic<int64_t> limited{0}, other{0};
    std::vector<std::thread> callers;
    for (size_t s = 0; s < servers.size(); ++s) {
      callers.emplace_back([&, s] {
        echo::EchoServer::Stub& stub = *servers_[servers[s]].stub;
        const absl::Duration gap = absl::Seconds(1) / per_second;
        // Bounded: one call per gap from `start` to `end`.
        for (absl::Time next = start; next < end; next += gap) {
          absl::SleepFor(next - absl::Now());  // pacing the offered load
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
          echo::EchoRequest request;
          echo::EchoResponse response;
          grpc::Status status = stub.Echo(&context, request, &response);
          if (absl::Now() >= end) break;
          if (status.ok()) {
            admitted[s].fetch_add(1);
          } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            limited.fetch_add(1);
          } else {
            other.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    EXPECT_EQ(other.load(), 0);
    EXPECT_GT(limited.load(), 0) << "the callers did not offer more than the limit";
    std::vector<int64_t> result;
    for (auto& count : admitted) result.push_back(count.load());
    return result;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::vector<Server> servers_;
};

TEST_F(GlobalLimitTest, ThreeServersTogetherAdmitTheGlobalRate) {
  plane_->SetRateLimit(kEcho, testing::Limits({GlobalRule("global-150", kRate)}));
  StartServers(kServers, plane_->ratelimit_address());
  std::vector<uint64_t> reports_before;
  for (const Server& server : servers_) {
    reports_before.push_back(server.polaris->quota_client()->stats().reports);
  }
  // 3 x 200/s offered against 150/s in total, over 5 s.
  std::vector<int64_t> admitted = Load({0, 1, 2}, 200, 5);
  const int64_t total = admitted[0] + admitted[1] + admitted[2];
  // Within 5% (sanitized builds, whose report round trips are many times
  // slower on CI's two cores, within 10%).
  EXPECT_NEAR(total, 5 * kRate, 5 * kRate * (kSanitized ? 0.10 : 0.05))
      << admitted[0] << " + " << admitted[1] << " + " << admitted[2];
  // The servers reported in batches, not per call: at most one report per
  // 40 ms interval (6 s at most of waiting and load), for ~250 calls each.
  for (size_t i = 0; i < servers_.size(); ++i) {
    const uint64_t reports =
        servers_[i].polaris->quota_client()->stats().reports - reports_before[i];
    EXPECT_GT(reports, 0u);
    EXPECT_LE(reports, 6 * 1000 / 40u);
  }
  // Equal demand, equal parts.
  for (int64_t each : admitted) EXPECT_NEAR(each, 5 * kRate / kServers, 5 * kRate / kServers * 0.2);
  std::cout << "admitted in 5 s: " << admitted[0] << " + " << admitted[1] << " + " << admitted[2]
            << " = " << total << " (limit " << 5 * kRate << ")" << std::endl;
}

TEST_F(GlobalLimitTest, ABusyServerTakesWhatTheIdleOnesLeave) {
  plane_->SetRateLimit(kEcho, testing::Limits({GlobalRule("global-150", kRate)}));
  StartServers(kServers, plane_->ratelimit_address());
  // One server gets 200/s, the others nothing: it admits far beyond its
  // local share of 50/s, close to the whole 150/s.
  std::vector<int64_t> admitted = Load({0}, 200, 3);
  EXPECT_GE(admitted[0], 3 * kRate * 0.9);
  EXPECT_LE(admitted[0], 3 * kRate * 1.05);
  std::cout << "one busy server admitted in 3 s: " << admitted[0] << std::endl;
}

TEST_F(GlobalLimitTest, WithTheRateLimitServerStoppedEachServerKeepsToItsLocalShare) {
  plane_->SetRateLimit(kEcho, testing::Limits({GlobalRule("global-150", kRate)}));
  StartServers(kServers, plane_->ratelimit_address());
  ASSERT_TRUE(WaitUntil([&] { return servers_[0].polaris->quota_client()->stats().reports > 0; },
                        absl::Seconds(30)));
  plane_->StopRateLimitServer();
  const QuotaClient& quota = *servers_[0].polaris->quota_client();
  ASSERT_TRUE(WaitUntil([&] { return !quota.Fresh(quota.NowMs()); }, absl::Seconds(30)));
  // 200/s offered at one server: it admits its share, 150 / 3 per second.
  std::vector<int64_t> admitted = Load({0}, 200, 3);
  EXPECT_NEAR(admitted[0], 3 * kRate / kServers, 3 * kRate / kServers * 0.05);
  EXPECT_GT(quota.stats().failures, 0u);
  std::cout << "without the rate-limit server, admitted in 3 s: " << admitted[0] << std::endl;
}

TEST_F(GlobalLimitTest, TheRateLimitServerIsFoundThroughNaming) {
  // The mockplane's rate-limit server registers itself as
  // Polaris/polaris.limiter (protocol grpc), as polaris-limiter does.
  // polaris-limiter registers its HTTP port there too: never a window's
  // server (these point at closed ports; a window sent to one would never
  // be reported).
  const ServiceKey limiter_service{"Polaris", "polaris.limiter"};
  ASSERT_EQ(plane_->Instances(limiter_service).size(), 1u);
  for (uint32_t port : {9u, 13u, 17u, 19u, 21u}) {
    InstanceRegistration http;
    http.key = limiter_service;
    http.instance.host = "127.0.0.1";
    http.instance.port = port;
    http.instance.protocol = "http";
    http.ttl_seconds = 0;  // healthy throughout
    ASSERT_TRUE(ControlPlaneClient::Shared(plane_->address())->RegisterInstance(http).ok());
  }
  plane_->SetRateLimit(kEcho, testing::Limits({GlobalRule("global-150", kRate)}));
  StartServers(1, /*address=*/"");
  const QuotaClient& quota = *servers_[0].polaris->quota_client();
  ASSERT_TRUE(WaitUntil([&] { return quota.stats().reports > 0; }, absl::Seconds(30)));
  EXPECT_TRUE(quota.Fresh(quota.NowMs()));
  EXPECT_EQ(quota.stats().inits, 1u);
  EXPECT_EQ(quota.stats().failures, 0u);  // no window went to an HTTP port
}

}  // namespace
}  // namespace grpc_cpp_polaris
