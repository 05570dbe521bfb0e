#include "sdk/breaker/fault_detect.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include "mockplane/wait.h"
#include "proto/v1/fault_detector.pb.h"
#include "proto/v1/response.pb.h"
#include "sdk/builtin_governance.h"
#include "sdk/parse_for_test.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace {

const ServiceKey kEcho{"default", "Echo"};

bool Eventually(const std::function<bool()>& done) {
  return mockplane::WaitUntil(done, absl::Seconds(10), absl::Milliseconds(1));
}

std::shared_ptr<const FaultDetectRules> Parse(const v1::FaultDetector& detector) {
  RegisterBuiltinGovernance();  // the probers
  v1::DiscoverResponse answer;
  *answer.mutable_faultdetector() = detector;
  absl::StatusOr<std::shared_ptr<const FaultDetectRules>> parsed = testing::ParseAnswer<FaultDetectRules>(
      *MakeFaultDetectRulesParser(), ResourceType::kFaultDetector, kEcho, answer);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : nullptr;
}

v1::FaultDetectRule* AddRule(v1::FaultDetector* detector, const std::string& id,
                             const std::string& service, v1::FaultDetectRule::Protocol protocol) {
  v1::FaultDetectRule* rule = detector->add_rules();
  rule->set_id(id);
  rule->mutable_target_service()->set_namespace_("default");
  rule->mutable_target_service()->set_service(service);
  rule->set_protocol(protocol);
  return rule;
}

TEST(FaultDetectTest, ProbeTargets) {
  absl::StatusOr<ProbeTarget> target = ProbeTargetOf("10.0.0.1:8080", 0);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->host, "10.0.0.1");
  EXPECT_EQ(target->port, 8080u);
  target = ProbeTargetOf("[::1]:8080", 9090);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->host, "::1");
  EXPECT_EQ(target->port, 9090u);
  EXPECT_FALSE(ProbeTargetOf("10.0.0.1", 0).ok());
  EXPECT_FALSE(ProbeTargetOf("10.0.0.1:0", 0).ok());
  EXPECT_FALSE(ProbeTargetOf("10.0.0.1:99999", 0).ok());
}

TEST(FaultDetectTest, RulesReadAsUpstreamWithDefaultsOrderAndBadOnesOut) {
  v1::FaultDetector detector;
  v1::FaultDetectRule* tcp = AddRule(&detector, "tcp", "Echo", v1::FaultDetectRule::TCP);
  tcp->set_interval(3);
  tcp->set_timeout(250);
  tcp->set_port(7000);
  tcp->mutable_tcp_config()->set_send("0x50494e47");
  tcp->mutable_tcp_config()->add_receive("PONG");
  AddRule(&detector, "any", "*", v1::FaultDetectRule::UNKNOWN);
  AddRule(&detector, "http", "Other", v1::FaultDetectRule::HTTP);  // no "http" prober
  v1::FaultDetectRule* method = AddRule(&detector, "method", "Echo", v1::FaultDetectRule::TCP);
  method->mutable_target_service()->mutable_api()->mutable_path()->mutable_value()->set_value(
      "/echo.EchoServer/Echo");
  std::shared_ptr<const FaultDetectRules> rules = Parse(detector);
  ASSERT_EQ(rules->rules.size(), 2u);
  ASSERT_EQ(rules->rejected.size(), 1u);
  EXPECT_NE(rules->rejected[0].find("FAULT_DETECTOR rules[2] (http): protocol HTTP needs a prober"),
            std::string::npos)
      << rules->rejected[0];
  const FaultDetectRule* echo = rules->Find(kEcho);
  ASSERT_NE(echo, nullptr);
  EXPECT_EQ(echo->id, "tcp");
  EXPECT_EQ(echo->probe.protocol, "tcp");
  EXPECT_EQ(echo->probe.interval, absl::Seconds(3));
  EXPECT_EQ(echo->probe.timeout, absl::Milliseconds(250));
  EXPECT_EQ(echo->probe.port, 7000u);
  EXPECT_EQ(echo->probe.receive, std::vector<std::string>{"PONG"});
  const FaultDetectRule* other = rules->Find(ServiceKey{"default", "Other"});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->id, "any");
  EXPECT_EQ(other->probe.protocol, "grpc");
  EXPECT_EQ(other->probe.interval, absl::Seconds(10));
  EXPECT_EQ(other->probe.timeout, absl::Seconds(1));
}

// A loopback listener; with `reply`, each connection gets it once it has
// sent something.
class Listener {
 public:
  explicit Listener(std::string reply = "") : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t length = sizeof(address);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    if (!reply_.empty()) {
      thread_ = std::thread([this] {
        const int connection = accept(fd_, nullptr, nullptr);
        if (connection < 0) return;
        char buffer[64];
        if (recv(connection, buffer, sizeof(buffer), 0) > 0) {
          received_.assign(buffer, 4);
          send(connection, reply_.data(), reply_.size(), MSG_NOSIGNAL);
        }
        close(connection);
      });
    }
  }
  ~Listener() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  uint32_t port() const { return port_; }
  std::string received() {
    if (thread_.joinable()) thread_.join();
    return received_;
  }

 private:
  const std::string reply_;
  int fd_ = -1;
  uint32_t port_ = 0;
  std::thread thread_;
  std::string received_;
};

TEST(FaultDetectTest, TcpProberConnectsAndChecksTheReply) {
  std::unique_ptr<Prober> tcp = MakeTcpProber();
  ActiveProbeOptions options;
  options.timeout = absl::Seconds(5);
  uint32_t closed_port;
  {
    Listener listener;
    closed_port = listener.port();
    EXPECT_TRUE(tcp->Probe(ProbeTarget{"127.0.0.1", listener.port()}, options).ok());
  }
  const absl::Status refused = tcp->Probe(ProbeTarget{"127.0.0.1", closed_port}, options);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable) << refused;
  options.send = "0x50494e47";  // PING
  options.receive = {"PONG"};
  {
    Listener listener("PONG!");
    EXPECT_TRUE(tcp->Probe(ProbeTarget{"127.0.0.1", listener.port()}, options).ok());
    EXPECT_EQ(listener.received(), "PING");
  }
  {
    Listener listener("NOPE");
    const absl::Status wrong = tcp->Probe(ProbeTarget{"127.0.0.1", listener.port()}, options);
    EXPECT_EQ(wrong.code(), absl::StatusCode::kUnavailable) << wrong;
  }
  EXPECT_EQ(tcp->Probe(ProbeTarget{"", 1}, options).code(),
            absl::StatusCode::kUnavailable);
}

TEST(FaultDetectTest, GrpcProberFailsWithoutAServer) {
  std::unique_ptr<Prober> grpc = MakeGrpcHealthProber();
  uint32_t closed_port;
  { closed_port = Listener().port(); }
  ActiveProbeOptions options;
  options.timeout = absl::Seconds(5);
  EXPECT_FALSE(grpc->Probe(ProbeTarget{"127.0.0.1", closed_port}, options).ok());
}

TEST(FaultDetectTest, ProbingIsOnlyWhereAskedForAndNeedsAKnownProber) {
  RegisterBuiltinGovernance();
  ActiveProbeOptions options;
  EXPECT_EQ(ActiveProbeFor(kEcho, nullptr, options), nullptr);
  options.enabled = true;
  EXPECT_NE(ActiveProbeFor(kEcho, nullptr, options), nullptr);
  options.interval = absl::Seconds(2);
  std::shared_ptr<const ActiveProbe> probe = ActiveProbeFor(kEcho, nullptr, options);
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->interval, absl::Seconds(2));
  EXPECT_EQ(probe->run("not an address").code(), absl::StatusCode::kInvalidArgument);
  options.protocol = "carrier-pigeon";
  EXPECT_EQ(ActiveProbeFor(kEcho, nullptr, options), nullptr);
}

// Breakers that open after `failures` failures in a row and sleep long (only
// probes end an opening within a test).
CircuitBreakingOptions OpensAfter(uint32_t failures) {
  CircuitBreakingOptions options;
  options.instance.consecutive_failures = failures;
  options.instance.error_rate_percent = 0;
  options.instance.sleep_window = absl::Minutes(10);
  return options;
}

// The breakers' side: an open instance is probed every interval while it
// stays open; an answer half-opens it at once.
TEST(FaultDetectTest, AnOpenInstanceIsProbedUntilItAnswers) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  const ServiceKey service{"default", "Probed"};
  ServiceBreakers breakers(service, OpensAfter(2), &clock, &scheduler);
  std::atomic<int> probes{0};
  std::atomic<bool> answers{false};
  std::mutex mu;
  std::string probed;
  auto probe = std::make_shared<ActiveProbe>();
  probe->interval = absl::Seconds(5);
  probe->run = [&](const std::string& address) {
    {
      std::lock_guard<std::mutex> lock(mu);
      probed = address;
    }
    ++probes;
    return answers ? absl::OkStatus() : absl::UnavailableError("down");
  };
  breakers.SetProbe(probe);
  std::vector<std::shared_ptr<InstanceHealth>> healths = breakers.Sync({"10.0.0.1:1", "10.0.0.2:1"});
  InstanceHealth& bad = *healths[0];
  const BreakerCounters before = GetBreakerCounters(service);
  for (int i = 0; i < 2; ++i) bad.Record(CallOutcome::kFailure, bad.breaker().round(), false);
  ASSERT_EQ(bad.breaker().state(), BreakerState::kOpen);
  EXPECT_EQ(probes.load(), 0);  // not before the interval
  // A failed probe is followed by the next one being scheduled (pending:
  // it and the sleep window's end), which must happen before the clock
  // moves on.
  auto probed_and_rescheduled = [&](int n) {
    return Eventually([&] { return probes.load() == n && scheduler.pending() == 2; });
  };
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(probed_and_rescheduled(1));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(probed, "10.0.0.1:1");
  }
  EXPECT_EQ(bad.breaker().state(), BreakerState::kOpen);
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(probed_and_rescheduled(2));
  answers = true;
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(Eventually([&] { return bad.breaker().state() == BreakerState::kHalfOpen; }));
  EXPECT_EQ(probes.load(), 3);
  const BreakerCounters after = GetBreakerCounters(service);
  EXPECT_EQ(after.probes_failed - before.probes_failed, 2u);
  EXPECT_EQ(after.probes_succeeded - before.probes_succeeded, 1u);
  // Half-open: no more probes (the loop ended with the opening).
  clock.Advance(absl::Seconds(30));
  ASSERT_TRUE(Eventually([&] { return scheduler.pending() <= 1; }));  // the sleep window's end
  EXPECT_EQ(probes.load(), 3);
}

TEST(FaultDetectTest, ProbingSwitchedOnLaterCoversInstancesAlreadyOpenOnce) {
  FakeClock clock;
  Scheduler scheduler(&clock);
  ServiceBreakers breakers(ServiceKey{"default", "Later"}, OpensAfter(1), &clock, &scheduler);
  std::vector<std::shared_ptr<InstanceHealth>> healths = breakers.Sync({"10.0.0.1:1", "10.0.0.2:1"});
  healths[0]->Record(CallOutcome::kFailure, healths[0]->breaker().round(), false);
  ASSERT_EQ(healths[0]->breaker().state(), BreakerState::kOpen);
  std::atomic<int> probes{0};
  auto probe = std::make_shared<ActiveProbe>();
  probe->interval = absl::Seconds(1);
  probe->run = [&](const std::string&) {
    ++probes;
    return absl::UnavailableError("down");
  };
  // Switched on, off and on again: still one loop for the opening.
  breakers.SetProbe(probe);
  breakers.SetProbe(nullptr);
  breakers.SetProbe(probe);
  for (int i = 1; i <= 3; ++i) {
    clock.Advance(absl::Seconds(1));
    // Probed, and the next probe scheduled (with the sleep window's end:
    // two pending) before the clock moves on.
    ASSERT_TRUE(Eventually([&] { return probes.load() >= i && scheduler.pending() == 2; }));
  }
  EXPECT_EQ(probes.load(), 3);
}

}  // namespace
}  // namespace grpc_cpp_polaris
