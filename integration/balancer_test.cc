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
#include "proto/v1/lossless.pb.h"
#include "sdk/clock.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;
using testing::Tally;

std::string BalancerConfig(const std::string& fields) {
  return absl::StrCat(R"({"loadBalancingConfig": [{"polaris": {)", fields, "}}]}");
}

class BalancerTest : public testing::EchoServiceTest {
 protected:
  // The share of `name`'s calls among `calls` sequential calls.
  static double ShareOf(echo::EchoServer::Stub& stub, const std::string& name, int calls) {
    Tally tally = Count(stub, calls);
    EXPECT_EQ(tally.failed, 0) << tally.last_error;
    return static_cast<double>(tally.by_backend[name]) / calls;
  }

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

// A call may choose its own balancer over the channel's (weighted random
// here): ring hash keeps its key on one instance, round robin gives each
// instance its turn, and grpc-go-polaris' camelCase names work too.
TEST_F(BalancerTest, EachCallMayChooseItsBalancer) {
  for (const char* name : {"a", "b", "c"}) AddBackend(name, {});
  auto stub = NewStub();
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.size() == 3; },
                        absl::Seconds(10)));
  for (const char* balancer : {"ring_hash", "ringHash", "maglev"}) {
    for (const char* key : {"user-1", "user-2", "user-3"}) {
      Tally tally = Count(*stub, 100, [&](grpc::ClientContext* context) {
        ASSERT_TRUE(SetBalancer(context, balancer).ok());
        SetHashKey(context, key);
      });
      EXPECT_EQ(tally.failed, 0) << tally.last_error;
      EXPECT_EQ(tally.by_backend.size(), 1u) << balancer << " " << key;
    }
  }
  // Round robin: 300 calls in turn, 100 each (a picker rebuilt meanwhile
  // starts its turns over: a few off).
  Tally turns = Count(*stub, 300, [](grpc::ClientContext* context) {
    ASSERT_TRUE(SetBalancer(context, "round_robin").ok());
  });
  EXPECT_EQ(turns.failed, 0) << turns.last_error;
  for (const char* name : {"a", "b", "c"}) EXPECT_NEAR(turns.by_backend[name], 100, 10) << name;
  // Without a choice the channel's own balancer spreads one key anywhere.
  Tally spread = Count(*stub, 300, [](grpc::ClientContext* context) { SetHashKey(context, "user-1"); });
  EXPECT_EQ(spread.by_backend.size(), 3u);
  // An unknown name: refused by SetBalancer, and failed by the channel
  // when sent as raw metadata.
  grpc::ClientContext context;
  const absl::Status refused = SetBalancer(&context, "fastest");
  EXPECT_EQ(refused.code(), absl::StatusCode::kNotFound) << refused;
  EXPECT_NE(refused.message().find("ring_hash"), absl::string_view::npos) << refused;
  Tally bad = Count(*stub, 1, [](grpc::ClientContext* context) {
    context->AddMetadata("polaris.balancer.request.lbpolicy", "fastest");
  });
  EXPECT_EQ(bad.failed, 1);
  EXPECT_NE(bad.last_error.find("unknown balancer 'fastest'"), std::string::npos) << bad.last_error;
}

// A LOSSLESS rule's warm-up, for the instances with metadata warmup=on.
TEST_F(BalancerTest, WarmUpFromALosslessRuleRampsANewInstancesShare) {
  AddBackend("a", {});
  AddBackend("b", {});
  v1::LosslessRule rule;
  rule.set_id("warm");
  (*rule.mutable_metadata())["warmup"] = "on";
  rule.mutable_losslessonline()->mutable_warmup()->set_enable(true);
  rule.mutable_losslessonline()->mutable_warmup()->set_intervalsecond(8);
  rule.mutable_losslessonline()->mutable_warmup()->set_curvature(1);
  plane_->SetLossless(testing::kEcho, rule);
  // The channel's first view waits for every rule type: it has the rule.
  auto stub = NewStub();
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.size() == 2; },
                        absl::Seconds(10)));
  const absl::Time added = absl::Now();
  AddBackend("new", {{"warmup", "on"}});
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.count("new") > 0; },
                        absl::Seconds(10)));
  // Its share, 1,000 calls at a time, from its first calls to after the
  // window: weight 100 * age / 8 s against 200. Full weight is 1/3.
  std::vector<std::pair<absl::Duration, double>> shares;
  for (int i = 0; i < 200 && absl::Now() - added < absl::Seconds(11); ++i) {
    const absl::Duration at = absl::Now() - added;
    shares.emplace_back(at, ShareOf(*stub, "new", 1000));
  }
  ASSERT_GE(shares.size(), 3u);
  std::string trace;
  for (const auto& [at, share] : shares) absl::StrAppend(&trace, absl::FormatDuration(at), ": ", share, "\n");
  // (ctime has whole seconds: the instance may look up to 1 s older.)
  EXPECT_LT(shares.front().second, 0.2) << trace;
  double early = 0, late = 0;
  int early_n = 0, late_n = 0;
  for (const auto& [at, share] : shares) {
    if (at < absl::Seconds(2)) {
      early += share;
      ++early_n;
    } else if (at > absl::Seconds(9.5)) {
      late += share;
      ++late_n;
    }
  }
  ASSERT_GT(early_n, 0) << trace;
  ASSERT_GT(late_n, 0) << trace;
  EXPECT_LT(early / early_n, 0.2) << trace;
  EXPECT_NEAR(late / late_n, 1.0 / 3, 0.05) << trace;
}

// Warm-up from the options in code, timed by the control plane's clock: a
// and b registered an hour before the new instance take their full weight.
TEST_F(BalancerTest, WarmUpFromOptionsLeavesOldInstancesAlone) {
  FakeClock clock(absl::Now() - absl::Hours(1));
  // The control plane reads the clock on its own thread: stopped before the
  // clock goes, however the test ends.
  struct StopFirst {
    std::unique_ptr<mockplane::ControlPlane>& plane;
    ~StopFirst() { plane.reset(); }
  } stop_first{plane_};
  mockplane::ControlPlaneOptions plane_options;
  plane_options.clock = &clock;
  auto plane = mockplane::ControlPlane::Start(plane_options);
  ASSERT_TRUE(plane.ok()) << plane.status();
  plane_ = std::move(*plane);
  ControlPlaneOptions registrar;
  registrar.address = plane_->address();
  registrar_ = std::make_unique<ControlPlaneClient>(registrar);
  ClientOptions options;
  options.governance.warmup.enabled = true;
  options.governance.warmup.window = absl::Seconds(100);
  options.governance.warmup.curvature = 1;
  ASSERT_TRUE(Init(options).ok());
  AddBackend("a", {});
  AddBackend("b", {});
  clock.Advance(absl::Hours(1) - absl::Seconds(10));  // "new" is 10 s old
  AddBackend("new", {});
  auto stub = NewStub();
  ASSERT_TRUE(WaitUntil([&] { return Count(*stub, 30).by_backend.size() == 3; },
                        absl::Seconds(10)));
  // new: weight ~10-11 of 100 (its age grows while the test runs), against
  // 200: about 5 %; without warm-up it would be 1/3.
  const double share = ShareOf(*stub, "new", 3000);
  EXPECT_GT(share, 0.02);
  EXPECT_LT(share, 0.09);
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
