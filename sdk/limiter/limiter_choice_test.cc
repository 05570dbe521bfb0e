#include "sdk/limiter/limiter_choice.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

// The expected values below were printed by polaris-go's own code: its
// Maglev table loop (plugin/loadbalancer/maglev/table.go), spaolacci/murmur3
// New64WithSeed and Go's hash/fnv New64, run with Debian's Go 1.19.
struct HashVector {
  const char* data;
  uint64_t murmur_seed0;
  uint64_t murmur_seed1;
  uint64_t fnv1;
};
constexpr HashVector kHashVectors[] = {
    {"", 0ULL, 5048724184180415669ULL, 14695981039346656037ULL},
    {"a", 9607679276477937801ULL, 5182201742351716208ULL, 12638153115695167422ULL},
    {"hello", 14688674573012802306ULL, 12073552422324047120ULL, 8883723591023973575ULL},
    {"0123456789abcde", 11974462240020439889ULL, 3033264955993219433ULL, 11754620184069859133ULL},
    {"0123456789abcdef", 5467490433528156583ULL, 18302353421483555649ULL, 5738487263810219201ULL},
    {"0123456789abcdef0", 16943859595160698997ULL, 15528050509447182770ULL,
     15365637331834391491ULL},
    {"e7863ce5c7050494", 1340366955471600139ULL, 1074620282145470000ULL, 18113172203970312475ULL},
    {"3f2a9c0d7b1e45a6b8c9d0e1f2a3b4c5d6e7f809", 11397065758081949862ULL,
     13970149794896912696ULL, 8146060991436892199ULL},
};

TEST(LimiterChoiceTest, HashesAreGos) {
  for (const HashVector& vector : kHashVectors) {
    EXPECT_EQ(Murmur3Hash64(vector.data, 0), vector.murmur_seed0) << vector.data;
    EXPECT_EQ(Murmur3Hash64(vector.data, 1), vector.murmur_seed1) << vector.data;
    EXPECT_EQ(Fnv1Hash64(vector.data), vector.fnv1) << vector.data;
  }
}

Instance Limiter(const std::string& id, const std::string& host, uint32_t weight = 100,
                 const std::string& protocol = "grpc") {
  Instance instance;
  instance.id = id;
  instance.host = host;
  instance.port = 8101;
  instance.weight = weight;
  instance.protocol = protocol;
  return instance;
}

const ServiceKey kEcho{"default", "Echo"};
const ServiceKey kOrders{"prod", "Orders"};

TEST(LimiterChoiceTest, WindowHashIsPolarisGos) {
  EXPECT_EQ(LimiterChoice::WindowHash(kEcho, "|"), 6735775640045730285ULL);
  EXPECT_EQ(LimiterChoice::WindowHash(kEcho, "/echo.EchoServer/Echo|HEADER:user:alice"),
            12757084749797624633ULL);
  EXPECT_EQ(LimiterChoice::WindowHash(kOrders, "|CALLER_IP:10.0.0.3"), 13689970003544279238ULL);
  // No labels: no separator for them.
  EXPECT_EQ(LimiterChoice::WindowHash(kOrders, ""), 7500611381777582482ULL);
}

// Three limiter nodes of equal weight (listed out of id order: the table
// is built in id order whatever the order of the answer).
TEST(LimiterChoiceTest, PicksTheServerPolarisGoPicks) {
  const std::string a = "9b0c4a4de9a6a2f1c0c6d0ea8a1e5f4d3c2b1a09";
  const std::string b = "1f3e5d7c9b2a4f6e8d0c1b3a5f7e9d2c4b6a8f01";
  const std::string c = "c7d2e9f0a1b8c3d4e5f6a7b8c9d0e1f2a3b4c5d6";
  LimiterChoice choice = LimiterChoice::Build(
      "Polaris", {Limiter(a, "10.0.0.1"), Limiter(b, "10.0.0.2"), Limiter(c, "10.0.0.3")});
  EXPECT_EQ(choice.ids(), (std::vector<std::string>{b, a, c}));
  EXPECT_EQ(choice.SlotCounts(), (std::vector<uint32_t>{21846, 21846, 21845}));
  const std::map<std::string, std::string> expected = {
      {"|", "10.0.0.1:8101"},
      {"/echo.EchoServer/Echo|HEADER:user:alice", "10.0.0.3:8101"},
      {"/echo.EchoServer/Echo|HEADER:user:bob", "10.0.0.3:8101"},
      {"/echo.EchoServer/Chat|", "10.0.0.3:8101"},
  };
  for (const auto& [labels, address] : expected) {
    EXPECT_EQ(choice.Pick(LimiterChoice::WindowHash(kEcho, labels)), address) << labels;
  }
  EXPECT_EQ(choice.Pick(LimiterChoice::WindowHash(kOrders, "|CALLER_IP:10.0.0.1")),
            "10.0.0.2:8101");
  EXPECT_EQ(choice.Pick(LimiterChoice::WindowHash(kOrders, "|CALLER_IP:10.0.0.3")),
            "10.0.0.3:8101");
  EXPECT_EQ(choice.Pick(LimiterChoice::WindowHash(
                kOrders, "/shop.Orders/Create|CALLER_SERVICE:prod:Frontend")),
            "10.0.0.2:8101");
}

TEST(LimiterChoiceTest, WeightsShareTheTableAsInPolarisGo) {
  LimiterChoice choice = LimiterChoice::Build(
      "Polaris", {Limiter("a1b2c3d4e5f60718", "10.0.0.1", 100),
                  Limiter("0f1e2d3c4b5a6978", "10.0.0.2", 100),
                  Limiter("ffee00112233aabb", "10.0.0.3", 300),
                  Limiter("5943708ebbb5d2e1", "10.0.0.4", 50)});
  // In id order: 0f1e…, 5943…, a1b2…, ffee….
  EXPECT_EQ(choice.SlotCounts(), (std::vector<uint32_t>{11916, 5958, 11916, 35747}));
  EXPECT_EQ(choice.Pick(LimiterChoice::WindowHash(kEcho, "|")), "10.0.0.3:8101");
}

// polaris-limiter registers its HTTP port beside its gRPC one; only gRPC
// instances keep windows (in the Polaris namespace the real server's
// "protocol" label must say so, as polaris-go routes there).
TEST(LimiterChoiceTest, OnlyGrpcInstancesThatMayTakeTraffic) {
  Instance http = Limiter("h", "10.0.0.9", 100, "http");
  Instance unlabelled = Limiter("u", "10.0.0.8", 100, "");
  Instance labelled = Limiter("l", "10.0.0.7", 100, "");
  labelled.metadata["protocol"] = "grpc";
  Instance isolated = Limiter("i", "10.0.0.6");
  isolated.isolate = true;
  Instance idle = Limiter("w", "10.0.0.5", 0);
  Instance sick = Limiter("s", "10.0.0.4");
  sick.healthy = false;
  const std::vector<Instance> cluster = {http, unlabelled, labelled, isolated, idle, sick};
  EXPECT_EQ(LimiterChoice::Build("Polaris", cluster).ids(), (std::vector<std::string>{"l"}));
  // Elsewhere (a rule's own cluster) an instance that names no protocol counts.
  EXPECT_EQ(LimiterChoice::Build("prod", cluster).ids(), (std::vector<std::string>{"l", "u"}));
  // When none is healthy, health is not asked (isolation and weight still are).
  labelled.healthy = false;
  EXPECT_EQ(LimiterChoice::Build("Polaris", {http, labelled, isolated, sick}).ids(),
            (std::vector<std::string>{"l", "s"}));
  LimiterChoice none = LimiterChoice::Build("Polaris", {http, isolated, idle});
  EXPECT_TRUE(none.ids().empty());
  EXPECT_EQ(none.Pick(123), "");
}

}  // namespace
}  // namespace grpc_cpp_polaris
