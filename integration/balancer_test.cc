// Balancers through the public API: polaris:// channels against the
// mockplane and real echo backends, choosing the balancer in a service
// config or in ClientOptions, with hash keys from SetHashKey or a header.
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/call_options.h"
#include "client/polaris_client.h"
#include "integration/echo_service_fixture.h"
#include "mockplane/wait.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;
using testing::Tally;

std::string BalancerConfig(const std::string& fields) {
  return absl::StrCat(R"({"loadBalancingConfig": [{"polaris": {)", fields, "}}]}");
}

class BalancerTest : public testing::EchoServiceTest {
 protected:
  // The backend each of `keys` keys lands on, with each key's `repeat`
  // calls checked to land on one backend.
  std::map<int, std::string> Placement(echo::EchoServer::Stub& stub, int keys, int repeat,
                                       const char* header = nullptr) {
    std::map<int, std::string> placement;
    for (int key = 0; key < keys; ++key) {
      const std::string value = absl::StrCat("user-", key);
      Tally tally = Count(stub, repeat, [&](grpc::ClientContext* context) {
        if (header != nullptr) {
          context->AddMetadata(header, value);
        } else {
          SetHashKey(context, value);
        }
      });
      EXPECT_EQ(tally.failed, 0) << tally.last_error;
      EXPECT_EQ(tally.by_backend.size(), 1u) << "key " << key << " moved between backends";
      if (!tally.by_backend.empty()) placement[key] = tally.by_backend.begin()->first;
    }
    return placement;
  }
};

TEST_F(BalancerTest, RingHashKeepsEachKeyOnOneInstance) {
  for (const char* name : {"a", "b", "c"}) AddBackend(name, {});
  auto stub = NewStub(BalancerConfig(R"("balancer": "ring_hash")"));
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.size() == 3; },
                        absl::Seconds(10)));
  // 100 keys x 10 calls: 1,000 calls, each key on one backend throughout.
  const std::map<int, std::string> placement = Placement(*stub, 100, 10);
  std::map<std::string, int> keys_per_backend;
  for (const auto& [key, backend] : placement) ++keys_per_backend[backend];
  EXPECT_EQ(keys_per_backend.size(), 3u);  // the keys spread
}

TEST_F(BalancerTest, AddingOneOfNInstancesRemapsAboutOneNth) {
  for (const char* name : {"a", "b", "c", "d"}) AddBackend(name, {});
  auto stub = NewStub(BalancerConfig(R"("balancer": "ring_hash")"));
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 40).by_backend.size() == 4; },
                        absl::Seconds(10)));
  constexpr int kKeys = 2000;
  const std::map<int, std::string> before = Placement(*stub, kKeys, 1);
  AddBackend("e", {});
  // The picker has the new instance once some key lands on it.
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& entry : Placement(*stub, 100, 1)) {
          if (entry.second == "e") return true;
        }
        return false;
      },
      absl::Seconds(10)));
  std::map<int, std::string> after = Placement(*stub, kKeys, 1);
  int moved = 0;
  for (const auto& [key, backend] : before) {
    if (after[key] != backend) {
      ++moved;
      EXPECT_EQ(after[key], "e") << "key " << key << " moved between old instances";
    }
  }
  EXPECT_GT(moved, 0);
  EXPECT_LE(moved, kKeys * (1.0 / 5 + 0.05));
}

TEST_F(BalancerTest, MaglevFromClientOptionsWithAHashKeyHeader) {
  ClientOptions options;
  options.governance.balancer = "maglev";
  options.governance.hash_key_header = "x-user";
  ASSERT_TRUE(Init(options).ok());
  for (const char* name : {"a", "b", "c"}) AddBackend(name, {});
  auto stub = NewStub();
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.size() == 3; },
                        absl::Seconds(10)));
  const std::map<int, std::string> placement = Placement(*stub, 50, 5, "x-user");
  std::map<std::string, int> keys_per_backend;
  for (const auto& [key, backend] : placement) ++keys_per_backend[backend];
  EXPECT_GE(keys_per_backend.size(), 2u);
}

TEST_F(BalancerTest, RoundRobinGivesEachInstanceItsWeightInTurn) {
  AddBackend("light", {}, {}, 100);
  AddBackend("heavy", {}, {}, 300);
  auto stub = NewStub(BalancerConfig(R"("balancer": "round_robin")"));
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 20).by_backend.size() == 2; },
                        absl::Seconds(10)));
  const Tally tally = Count(*stub, 400);
  EXPECT_EQ(tally.failed, 0) << tally.last_error;
  EXPECT_NEAR(tally.by_backend.at("light"), 100, 2);
  EXPECT_NEAR(tally.by_backend.at("heavy"), 300, 2);
}

TEST_F(BalancerTest, LeastRequestSendsFewCallsToASlowInstance) {
  // Latencies well above a call's own cost, so that slow is 10x slower.
  // (also under ThreadSanitizer, which adds a few ms to each call).
  for (const char* name : {"fast-1", "fast-2", "fast-3", "fast-4"}) {
    AddBackend(name, {}, {}, 100, absl::Milliseconds(40));
  }
  AddBackend("slow", {}, {}, 100, absl::Milliseconds(400));
  auto stub = NewStub(BalancerConfig(R"("balancer": "least_request")"));
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 50).by_backend.size() == 5; },
                        absl::Seconds(10)));
  // 16 callers, 30 calls each, in parallel: calls pile up on the slow one,
  // which then gets about 4% of them (weighted random would give it 20%).
  constexpr int kCallers = 16;
  std::vector<Tally> tallies(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] { tallies[i] = Count(*stub, 30); });
  }
  for (std::thread& caller : callers) caller.join();
  Tally all;
  for (const Tally& tally : tallies) {
    all.failed += tally.failed;
    for (const auto& [backend, calls] : tally.by_backend) all.by_backend[backend] += calls;
  }
  EXPECT_EQ(all.failed, 0);
  EXPECT_EQ(all.total(), kCallers * 30);
  EXPECT_LT(all.by_backend["slow"], all.total() / 10)
      << all.by_backend["slow"] << " of " << all.total();
}

// gRPC refuses a channel whose default service config does not parse: it
// logs our message ("polaris LB config: field 'balancer' unknown balancer
// 'fastest' (known: ...)") and fails its calls with INVALID_ARGUMENT.
TEST_F(BalancerTest, AnUnknownBalancerFailsTheChannel) {
  AddBackend("a", {});
  auto stub = NewStub(BalancerConfig(R"("balancer": "fastest")"));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  echo::EchoRequest request;
  echo::EchoResponse response;
  const grpc::Status status = stub->Echo(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
}

}  // namespace
}  // namespace grpc_cpp_polaris
