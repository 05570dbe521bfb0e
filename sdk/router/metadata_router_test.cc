#include "sdk/router/metadata_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sdk/router/router_test_util.h"

namespace grpc_cpp_polaris {
namespace {

using ::grpc_cpp_polaris::testing::MakeInstance;
using ::grpc_cpp_polaris::testing::RouterFixture;
using ::testing::UnorderedElementsAre;

class MetadataRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fixture_.SetInstances({MakeInstance("v1", {{"version", "1"}}),
                           MakeInstance("v2", {{"version", "2"}, {"stable", "yes"}}),
                           MakeInstance("plain", {})});
  }
  absl::StatusOr<Candidates> Route(std::map<std::string, std::string> wanted) {
    RouteRequest request;
    request.destination_metadata = std::move(wanted);
    return fixture_.Route(request);
  }

  RouterFixture fixture_;
};

TEST_F(MetadataRouterTest, MatchingInstancesOnly) {
  EXPECT_THAT(fixture_.Ids(Route({{"version", "2"}})), UnorderedElementsAre("v2"));
  EXPECT_EQ(fixture_.Ids(Route({})).size(), 3u);  // no metadata asked: untouched
}

TEST_F(MetadataRouterTest, EachFailoverMode) {
  const std::map<std::string, std::string> missing = {{"version", "3"}};
  absl::StatusOr<Candidates> none = Route(missing);
  EXPECT_TRUE(absl::IsNotFound(none.status()));
  EXPECT_THAT(std::string(none.status().message()), ::testing::HasSubstr("version=3"));

  fixture_.options().metadata.failover = MetadataRouterOptions::Failover::kAll;
  EXPECT_EQ(fixture_.Ids(Route(missing)).size(), 3u);

  fixture_.options().metadata.failover = MetadataRouterOptions::Failover::kNotKey;
  EXPECT_THAT(fixture_.Ids(Route(missing)), UnorderedElementsAre("plain"));

  fixture_.options().metadata.failover = MetadataRouterOptions::Failover::kCustom;
  fixture_.options().metadata.failover_metadata = {{"stable", "yes"}};
  EXPECT_THAT(fixture_.Ids(Route(missing)), UnorderedElementsAre("v2"));
  fixture_.options().metadata.failover_metadata = {{"stable", "no"}};
  EXPECT_TRUE(absl::IsNotFound(Route(missing).status()));
}

}  // namespace
}  // namespace grpc_cpp_polaris
