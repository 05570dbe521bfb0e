#include "sdk/stats/instance_stats.h"

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

TEST(ServiceStatsTest, SharedPerServiceAndInstanceWhileHeld) {
  const ServiceKey echo{"default", "Echo"};
  std::shared_ptr<ServiceStats> a = ServiceStatsRegistry::Global().For(echo);
  std::shared_ptr<ServiceStats> b = ServiceStatsRegistry::Global().For(echo);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, ServiceStatsRegistry::Global().For(ServiceKey{"other", "Echo"}));
  std::shared_ptr<InstanceStats> one = a->For("10.0.0.1:80");
  EXPECT_EQ(one, b->For("10.0.0.1:80"));
  EXPECT_NE(one, a->For("10.0.0.2:80"));
  a.reset();
  b.reset();
  // Nobody holds the service's stats: a new holder starts afresh.
  std::shared_ptr<ServiceStats> c = ServiceStatsRegistry::Global().For(echo);
  EXPECT_EQ(c->For("10.0.0.1:80"), c->For("10.0.0.1:80"));
}

TEST(ServiceStatsTest, RetainForgetsInstancesNobodyHolds) {
  ServiceStats stats;
  std::shared_ptr<InstanceStats> held = stats.For("a:1");
  held->in_flight = 3;
  stats.For("b:1")->in_flight = 5;
  stats.Retain({});  // neither is current, but a:1 is held
  EXPECT_EQ(stats.For("a:1")->in_flight.load(), 3);
  EXPECT_EQ(stats.For("b:1")->in_flight.load(), 0);  // forgotten, fresh
}

}  // namespace
}  // namespace grpc_cpp_polaris
