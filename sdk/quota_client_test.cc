#include "sdk/quota_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::ControlPlaneOptions;
using mockplane::WaitUntil;

std::shared_ptr<GlobalQuotaTarget> Target(const std::string& service, uint32_t max) {
  auto target = std::make_shared<GlobalQuotaTarget>();
  target->service = ServiceKey{"default", service};
  target->labels = "|";
  target->quotas.push_back(std::make_unique<RemoteQuota>(max, absl::Seconds(60), 1));
  return target;
}

class QuotaClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlaneOptions options;
    options.clock = &plane_clock_;
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }

  QuotaClientOptions Options() {
    QuotaClientOptions options;
    options.client_id = "client-a";
    options.locate = [address = plane_->ratelimit_address()](const GlobalQuotaTarget&) {
      return address;
    };
    return options;
  }

  // The server's clock, far from this machine's, so that only TimeAdjust can
  // bring the client onto it.
  FakeClock plane_clock_{absl::FromUnixSeconds(4'000'000'000)};
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(QuotaClientTest, BadOptionsNameTheField) {
  QuotaClientOptions options = Options();
  options.client_id.clear();
  EXPECT_EQ(QuotaClient::Start(options).status().message(),
            "QuotaClientOptions.client_id is empty");
  options = Options();
  options.report_interval = absl::ZeroDuration();
  EXPECT_EQ(QuotaClient::Start(options).status().message(),
            "QuotaClientOptions.report_interval must be positive and finite");
  options = Options();
  options.locate = nullptr;
  EXPECT_EQ(QuotaClient::Start(options).status().message(), "QuotaClientOptions.locate is not set");
}

TEST_F(QuotaClientTest, TimeAdjustPutsTheClientOnTheServersClock) {
  auto client = QuotaClient::Start(Options());
  ASSERT_TRUE(client.ok()) << client.status();
  auto target = Target("Echo", 100);
  (*client)->Track(target);
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().time_adjusts > 0; }, absl::Seconds(30)));
  EXPECT_NEAR(static_cast<double>((*client)->NowMs()),
              static_cast<double>(absl::ToUnixMillis(plane_clock_.Now())), 5000.0);
}

TEST_F(QuotaClientTest, ReportsInBatchesAndAppliesTheAnswers) {
  auto client = QuotaClient::Start(Options());
  ASSERT_TRUE(client.ok());
  auto a = Target("Echo", 100);
  auto b = Target("Other", 100);
  (*client)->Track(a);
  (*client)->Track(b);
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().inits == 2; }, absl::Seconds(30)));
  // Another client used 70 of Echo's 100 in this window.
  for (int i = 0; i < 70; ++i) ASSERT_TRUE(a->quotas[0]->TryTake((*client)->NowMs()));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return plane_->RateLimitUsed("default", "Echo", "|", 60) == 70 &&
               a->quotas[0]->Synced((*client)->NowMs());
      },
      absl::Seconds(30)));
  // One client: everything left is its own.
  ASSERT_TRUE(WaitUntil([&] { return a->quotas[0]->Remaining((*client)->NowMs()) == 30; },
                        absl::Seconds(30)));
  EXPECT_EQ((*client)->stats().failures, 0u);
  EXPECT_EQ((*client)->tracked(), 2u);
  // A window that is gone is no longer reported.
  b.reset();
  ASSERT_TRUE(WaitUntil([&] { return (*client)->tracked() == 1; }, absl::Seconds(30)));
}

TEST_F(QuotaClientTest, AnAnswerThatComesTooLateDropsTheStreamAndItIsOpenedAgain) {
  QuotaClientOptions options = Options();
  options.answer_timeout = absl::Milliseconds(200);
  options.reconnect_backoff = absl::Milliseconds(50);
  auto client = QuotaClient::Start(options);
  ASSERT_TRUE(client.ok());
  auto target = Target("Echo", 100);
  (*client)->Track(target);
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().reports > 0; }, absl::Seconds(30)));
  plane_->faults().DelayNext("Service", 1, absl::Seconds(2));
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().failures > 0; }, absl::Seconds(30)));
  const uint64_t connects = (*client)->stats().connects;
  const uint64_t reports = (*client)->stats().reports;
  ASSERT_TRUE(WaitUntil(
      [&] {
        QuotaClient::Stats stats = (*client)->stats();
        return stats.connects > connects && stats.reports > reports;
      },
      absl::Seconds(30)));
  EXPECT_GE((*client)->stats().inits, 2u);  // announced again on the new stream
}

TEST_F(QuotaClientTest, ARefusedWindowKeepsItsShareAndTheOthersAreStillReported) {
  auto client = QuotaClient::Start(Options());
  ASSERT_TRUE(client.ok());
  // No service: polaris-limiter refuses the INIT (400201).
  auto refused = Target("", 10);
  auto good = Target("Echo", 100);
  (*client)->Track(refused);
  (*client)->Track(good);
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().refused >= 1; }, absl::Seconds(30)));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(good->quotas[0]->TryTake((*client)->NowMs()));
  ASSERT_TRUE(WaitUntil([&] { return plane_->RateLimitUsed("default", "Echo", "|", 60) == 5; },
                        absl::Seconds(30)));
  EXPECT_EQ((*client)->stats().inits, 1u);
  EXPECT_EQ((*client)->stats().failures, 0u);
  EXPECT_EQ(refused->quotas[0]->Remaining((*client)->NowMs()), 10);
}

TEST_F(QuotaClientTest, AfterStopTheServerNoLongerCountsAsAnswering) {
  auto client = QuotaClient::Start(Options());
  ASSERT_TRUE(client.ok());
  auto target = Target("Echo", 100);
  (*client)->Track(target);
  ASSERT_TRUE(WaitUntil([&] { return (*client)->Fresh((*client)->NowMs()); }, absl::Seconds(30)));
  (*client)->Stop();
  (*client)->Stop();  // idempotent
  EXPECT_TRUE(WaitUntil([&] { return !(*client)->Fresh((*client)->NowMs()); }, absl::Seconds(30)));
}

TEST_F(QuotaClientTest, AServerThatHangsHoldsUpOnlyItsOwnWindows) {
  // A port that takes connections (the kernel's backlog) but never answers.
  const int hang = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(hang, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(hang, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(hang, 16), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(hang, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string hanging = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  QuotaClientOptions options = Options();
  options.answer_timeout = absl::Seconds(2);
  options.locate = [hanging, good = plane_->ratelimit_address()](const GlobalQuotaTarget& target) {
    return target.service.service == "Hanging" ? hanging : good;
  };
  auto client = QuotaClient::Start(options);
  ASSERT_TRUE(client.ok());
  auto stuck = Target("Hanging", 100);
  auto fine = Target("Echo", 100);
  (*client)->Track(stuck);
  (*client)->Track(fine);
  ASSERT_TRUE(WaitUntil([&] { return fine->Fresh((*client)->NowMs()); }, absl::Seconds(30)));
  // The hanging server has just used up a 2 s timeout; all that time the
  // other kept answering (fresh means an answer within the last second).
  ASSERT_TRUE(WaitUntil([&] { return (*client)->stats().failures >= 1; }, absl::Seconds(30)));
  EXPECT_TRUE(fine->Fresh((*client)->NowMs()));
  EXPECT_FALSE(stuck->Fresh((*client)->NowMs()));
  client->reset();
  close(hang);
}

}  // namespace
}  // namespace grpc_cpp_polaris
