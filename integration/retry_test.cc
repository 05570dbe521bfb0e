// Retries through the public API: a polaris:// channel whose service config
// has a retry policy, two echo backends of which one fails every call. A
// retry goes to the instance the call has not tried (call_attempts.h), so
// no call fails, with circuit breaking off (every retry counted at the
// backends) and on.
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "client/polaris_client.h"
#include "integration/echo_service_fixture.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;
using testing::Tally;

constexpr char kRetryTwice[] = R"({"methodConfig": [{
  "name": [{"service": "grpc_cpp_polaris.echo.EchoServer"}],
  "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.001s", "maxBackoff": "0.001s",
                  "backoffMultiplier": 1.0, "retryableStatusCodes": ["UNAVAILABLE"]}}]})";

class RetryTest : public testing::EchoServiceTest {
 protected:
  // Two backends, both taking calls; then "bad" fails every call.
  std::unique_ptr<echo::EchoServer::Stub> StartTwo(const std::string& service_config) {
    AddBackend("good", {});
    AddBackend("bad", {});
    auto stub = NewStub(service_config);
    EXPECT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend.size() == 2; },
                          absl::Seconds(20)));
    backends_["bad"]->SetFailure(grpc::StatusCode::UNAVAILABLE);
    return stub;
  }

  // `calls` calls, not wait_for_ready: a failure is a failure.
  static Tally Calls(echo::EchoServer::Stub& stub, int calls) {
    return Count(stub, calls, [](grpc::ClientContext* context) {
      context->set_wait_for_ready(false);
      context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    });
  }
};

TEST_F(RetryTest, WithBreakingOffEveryRetryGoesToTheOtherInstance) {
  ClientOptions options;
  options.governance.circuit_breaking.enabled = false;
  ASSERT_TRUE(Init(options).ok());
  auto stub = StartTwo(kRetryTwice);
  const uint64_t good_before = backends_["good"]->calls();
  const uint64_t bad_before = backends_["bad"]->calls();
  Tally tally = Calls(*stub, 1000);
  const uint64_t good = backends_["good"]->calls() - good_before;
  const uint64_t bad = backends_["bad"]->calls() - bad_before;
  printf("breaking off: %d of 1000 failed; attempts: %lu on good, %lu on bad\n", tally.failed,
         static_cast<unsigned long>(good), static_cast<unsigned long>(bad));
  EXPECT_EQ(tally.failed, 0) << tally.last_error;
  // Every call ended on "good" in one attempt or two: each call that tried
  // "bad" first (about half) was retried on "good", never on "bad" again.
  EXPECT_EQ(good, 1000u);
  EXPECT_GT(bad, 350u);
  EXPECT_LT(bad, 650u);
}

TEST_F(RetryTest, WithBreakingOnNoCallFails) {
  ASSERT_TRUE(Init(ClientOptions()).ok());
  auto stub = StartTwo(kRetryTwice);
  Tally tally = Calls(*stub, 1000);
  EXPECT_EQ(tally.failed, 0) << tally.last_error;
  EXPECT_EQ(tally.by_backend["good"], 1000);
}

// The control: without a retry policy, about half the calls fail.
TEST_F(RetryTest, WithoutARetryPolicyCallsToTheFailingInstanceFail) {
  ClientOptions options;
  options.governance.circuit_breaking.enabled = false;
  ASSERT_TRUE(Init(options).ok());
  auto stub = StartTwo("");
  Tally tally = Calls(*stub, 400);
  EXPECT_GT(tally.failed, 120);
  EXPECT_LT(tally.failed, 280);
}

}  // namespace
}  // namespace grpc_cpp_polaris
