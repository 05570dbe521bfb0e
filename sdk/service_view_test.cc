#include "sdk/service_view.h"

#include <memory>
#include <mutex>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"
#include "sdk/builtin_governance.h"
#include "sdk/router/routing_rules.h"
#include "sdk/router/rule_builders.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::ControlPlane;
using mockplane::WaitUntil;

const ServiceKey kEcho{"default", "Echo"};

class ViewRecorder {
 public:
  ServiceViewWatch::Callback Callback() {
    return [this](absl::StatusOr<ServiceViewPtr> view) {
      std::lock_guard<std::mutex> lock(mu_);
      views_.push_back(std::move(view));
    };
  }
  std::vector<absl::StatusOr<ServiceViewPtr>> Views() {
    std::lock_guard<std::mutex> lock(mu_);
    return views_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return views_.size();
  }

 private:
  std::mutex mu_;
  std::vector<absl::StatusOr<ServiceViewPtr>> views_;
};

v1::RouteRule HeaderRule(const std::string& id, const std::string& regex) {
  return testing::RulePolicyRule(id, 0,
                                 {testing::Argument(v1::SourceMatch::HEADER, "x-user",
                                                    testing::Match(regex, v1::MatchString::REGEX))},
                                 {testing::Group("Echo", "env", "any", 100)});
}

class ServiceViewTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    RegisterBuiltinGovernance();
    mockplane::ControlPlaneOptions options;
    options.mainline_discover_types_only = GetParam();
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    ControlPlaneOptions client_options;
    client_options.address = plane_->address();
    client_ = std::make_shared<ControlPlaneClient>(client_options);
    InstanceRegistration registration;
    registration.key = kEcho;
    registration.instance.host = "127.0.0.1";
    registration.instance.port = 1001;
    ASSERT_TRUE(client_->RegisterInstance(registration).ok());
  }

  std::unique_ptr<ServiceViewWatch> Watch(ViewRecorder* recorder) {
    return std::make_unique<ServiceViewWatch>(
        client_, kEcho,
        std::vector<const RuleParser*>{*RuleParserRegistry::Global().Find(RoutingRules::kParserName)},
        recorder->Callback());
  }

  std::unique_ptr<ControlPlane> plane_;
  std::shared_ptr<ControlPlaneClient> client_;
};

TEST_P(ServiceViewTest, FirstViewHasInstancesAndRulesTogether) {
  v1::Routing routing;
  *routing.add_rules() = HeaderRule("r1", "^vip");
  plane_->SetRouting(kEcho, routing);
  ViewRecorder recorder;
  auto watch = Watch(&recorder);
  ASSERT_TRUE(WaitUntil([&] { return recorder.size() >= 1; }, absl::Seconds(10)));
  absl::StatusOr<ServiceViewPtr> first = recorder.Views()[0];
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)->instances->instances.size(), 1u);
  std::shared_ptr<const RoutingRules> rules = (*first)->Rules<RoutingRules>();
  ASSERT_NE(rules, nullptr);
  // Served both inside ROUTING and as CUSTOM_ROUTE_RULE (unless the server
  // is mainline's): counted once either way.
  EXPECT_EQ(rules->inbounds.size(), 1u);
  EXPECT_FALSE((*first)->revisions[ResourceIndex(ResourceType::kRouting)].empty());
  EXPECT_EQ((*first)->revisions[ResourceIndex(ResourceType::kCustomRouteRule)].empty(), GetParam());
}

TEST_P(ServiceViewTest, BadRuleKeepsTheLastGoodRulesAndSaysWhy) {
  v1::Routing routing;
  *routing.add_rules() = HeaderRule("r1", "^vip");
  plane_->SetRouting(kEcho, routing);
  ViewRecorder recorder;
  auto watch = Watch(&recorder);
  ASSERT_TRUE(WaitUntil([&] { return recorder.size() >= 1; }, absl::Seconds(10)));

  v1::Routing bad;
  *bad.add_rules() = HeaderRule("r1", "^vip");
  *bad.add_rules() = HeaderRule("r2", "([unclosed");
  plane_->SetRouting(kEcho, bad);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto views = recorder.Views();
        return views.back().ok() && (*views.back())->rejected.count("routing") > 0;
      },
      absl::Seconds(10)));
  ServiceViewPtr view = *recorder.Views().back();
  EXPECT_THAT(std::string(view->rejected.at("routing").message()),
              ::testing::HasSubstr("(r2).routing_config.rules[0].sources[0].arguments[0].value"));
  EXPECT_EQ(view->Rules<RoutingRules>()->inbounds.size(), 1u);  // the last good rules

  // A good rule set again clears the rejection.
  *routing.add_rules() = HeaderRule("r3", "^gold");
  plane_->SetRouting(kEcho, routing);
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto views = recorder.Views();
        return views.back().ok() && (*views.back())->rejected.empty() &&
               (*views.back())->Rules<RoutingRules>()->inbounds.size() == 2;
      },
      absl::Seconds(10)));
}

TEST_P(ServiceViewTest, UnknownServiceIsAnError) {
  ViewRecorder recorder;
  auto watch = std::make_unique<ServiceViewWatch>(
      client_, ServiceKey{"default", "Nope"},
      std::vector<const RuleParser*>{*RuleParserRegistry::Global().Find(RoutingRules::kParserName)},
      recorder.Callback());
  ASSERT_TRUE(WaitUntil([&] { return recorder.size() >= 1; }, absl::Seconds(10)));
  EXPECT_TRUE(absl::IsNotFound(recorder.Views()[0].status())) << recorder.Views()[0].status();
}

INSTANTIATE_TEST_SUITE_P(Servers, ServiceViewTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Mainline" : "WithNewTypes";
                         });

}  // namespace
}  // namespace grpc_cpp_polaris
