// The mock rate-limit server through the RateLimitGRPCV2 wire protocol.
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/quota_registry.h"
#include "proto/metric/v2/ratelimit_stub.h"
#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

namespace v2 = ::polaris::metric::v2;

class RateLimitServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ControlPlaneOptions options;
    options.clock = &clock_;
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
  }

  // One client: its own connection and quota stream.
  struct Client {
    explicit Client(const std::string& address)
        : stub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(),
                                         LocalPool())),
          stream(stub.Service(&context)) {}
    static grpc::ChannelArguments LocalPool() {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      return args;
    }
    v2::RateLimitResponse Send(const v2::RateLimitRequest& request) {
      v2::RateLimitResponse response;
      EXPECT_TRUE(stream->Write(request));
      EXPECT_TRUE(stream->Read(&response));
      return response;
    }
    v2::RateLimitStub stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v2::RateLimitRequest, v2::RateLimitResponse>> stream;
  };

  static v2::RateLimitRequest Init(const std::string& client_id, uint32_t max_amount) {
    v2::RateLimitRequest request;
    request.set_cmd(v2::INIT);
    v2::RateLimitInitRequest* init = request.mutable_ratelimitinitrequest();
    init->mutable_target()->set_namespace_("default");
    init->mutable_target()->set_service("Echo");
    init->mutable_target()->set_labels("method:Echo");
    init->set_clientid(client_id);
    v2::QuotaTotal* total = init->add_totals();
    total->set_duration(1);
    total->set_maxamount(max_amount);
    return request;
  }

  // A report stamped with the server's time, as SDKs do after TimeAdjust.
  v2::RateLimitRequest Acquire(uint32_t client_key, uint32_t counter_key, uint32_t used) {
    v2::RateLimitRequest request;
    request.set_cmd(v2::ACQUIRE);
    v2::RateLimitReportRequest* report = request.mutable_ratelimitreportrequest();
    report->set_clientkey(client_key);
    report->set_timestamp(absl::ToUnixMillis(clock_.Now()));
    v2::QuotaSum* use = report->add_quotauses();
    use->set_counterkey(counter_key);
    use->set_used(used);
    return request;
  }

  // BATCH_INIT as polaris-cpp sends it: one sub-request per rule, its
  // windows' label strings ("<method>#<k:v|k:v>", "#" for none) in
  // labels_list, the client id at the top.
  static v2::RateLimitRequest BatchInit(const std::string& client_id,
                                        const std::vector<std::string>& labels_list,
                                        uint32_t max_amount) {
    v2::RateLimitRequest request;
    request.set_cmd(v2::BATCH_INIT);
    v2::RateLimitBatchInitRequest* batch = request.mutable_ratelimitbatchinitrequest();
    batch->set_clientid(client_id);
    v2::RateLimitInitRequest* rule = batch->add_request();
    rule->mutable_target()->set_namespace_("default");
    rule->mutable_target()->set_service("Echo");
    for (const std::string& labels : labels_list) rule->mutable_target()->add_labels_list(labels);
    v2::QuotaTotal* total = rule->add_totals();
    total->set_mode(v2::WHOLE);
    total->set_duration(1);
    total->set_maxamount(max_amount);
    return request;
  }

  FakeClock clock_;
  std::unique_ptr<ControlPlane> plane_;
};

TEST_F(RateLimitServerTest, GlobalQuotaIsSharedAcrossClientsPerWindow) {
  Client a(plane_->ratelimit_address());
  Client b(plane_->ratelimit_address());
  v2::RateLimitInitResponse init_a = a.Send(Init("client-a", 10)).ratelimitinitresponse();
  v2::RateLimitInitResponse init_b = b.Send(Init("client-b", 10)).ratelimitinitresponse();
  ASSERT_EQ(init_a.code(), kLimiterSuccess);
  ASSERT_EQ(init_a.counters_size(), 1);
  const uint32_t counter = init_a.counters(0).counterkey();
  EXPECT_EQ(init_b.counters(0).counterkey(), counter);  // one global counter
  EXPECT_EQ(init_b.counters(0).clientcount(), 2u);
  EXPECT_EQ(init_b.counters(0).left(), 10);
  EXPECT_NE(init_a.clientkey(), init_b.clientkey());

  v2::RateLimitReportResponse first =
      a.Send(Acquire(init_a.clientkey(), counter, 6)).ratelimitreportresponse();
  EXPECT_EQ(first.quotalefts(0).left(), 4);
  v2::RateLimitReportResponse second =
      b.Send(Acquire(init_b.clientkey(), counter, 6)).ratelimitreportresponse();
  EXPECT_EQ(second.quotalefts(0).left(), -2);  // over the global limit
  EXPECT_EQ(plane_->RateLimitUsed("default", "Echo", "method:Echo", 1), 12);

  clock_.Advance(absl::Seconds(1));  // next window
  v2::RateLimitReportResponse next =
      a.Send(Acquire(init_a.clientkey(), counter, 1)).ratelimitreportresponse();
  EXPECT_EQ(next.quotalefts(0).left(), 9);
  EXPECT_EQ(next.timestamp(), absl::ToUnixMillis(clock_.Now()));
}

// Two clients driving the server as polaris-cpp does share one quota per
// label string: 20/s for the rule is 20/s in all, not 20/s each.
TEST_F(RateLimitServerTest, BatchInitWithLabelsListSharesOneQuotaPerLabelString) {
  Client a(plane_->ratelimit_address());
  Client b(plane_->ratelimit_address());
  const std::vector<std::string> labels = {"#", "Echo#env:prod|zone:z1"};
  v2::RateLimitBatchInitResponse init_a =
      a.Send(BatchInit("client-a", labels, 20)).ratelimitbatchinitresponse();
  v2::RateLimitBatchInitResponse init_b =
      b.Send(BatchInit("client-b", labels, 20)).ratelimitbatchinitresponse();
  ASSERT_EQ(init_a.code(), kLimiterSuccess);
  ASSERT_EQ(init_a.result_size(), 1);
  const v2::BatchInitResult& result = init_a.result(0);
  EXPECT_EQ(result.code(), kLimiterSuccess);
  EXPECT_EQ(result.target().service(), "Echo");
  EXPECT_TRUE(result.target().labels().empty());
  // One LabeledQuotaCounter per labels_list entry, under that label string.
  ASSERT_EQ(result.counters_size(), 2);
  EXPECT_EQ(result.counters(0).labels(), "#");
  EXPECT_EQ(result.counters(1).labels(), "Echo#env:prod|zone:z1");
  const uint32_t none_key = result.counters(0).counters(0).counterkey();
  const uint32_t labeled_key = result.counters(1).counters(0).counterkey();
  EXPECT_NE(none_key, labeled_key);
  EXPECT_EQ(result.counters(1).counters(0).duration(), 1u);
  EXPECT_EQ(result.counters(1).counters(0).left(), 20);
  // The second client gets the same counters.
  EXPECT_EQ(init_b.result(0).counters(1).counters(0).counterkey(), labeled_key);
  EXPECT_EQ(init_b.result(0).counters(1).counters(0).clientcount(), 2u);

  // Each reports 15 of the shared 20 in one window (BATCH_ACQUIRE, both keys).
  auto report = [&](Client& client, uint32_t client_key) {
    v2::RateLimitRequest request = Acquire(client_key, labeled_key, 15);
    request.set_cmd(v2::BATCH_ACQUIRE);
    v2::QuotaSum* none = request.mutable_ratelimitreportrequest()->add_quotauses();
    none->set_counterkey(none_key);
    none->set_used(1);
    return client.Send(request).ratelimitreportresponse();
  };
  EXPECT_EQ(report(a, init_a.clientkey()).quotalefts(0).left(), 5);
  v2::RateLimitReportResponse second = report(b, init_b.clientkey());
  EXPECT_EQ(second.code(), kLimiterSuccess);
  ASSERT_EQ(second.quotalefts_size(), 2);
  EXPECT_EQ(second.quotalefts(0).counterkey(), labeled_key);
  EXPECT_EQ(second.quotalefts(0).left(), -10);  // 30 of 20: the global limit holds
  EXPECT_EQ(second.quotalefts(1).left(), 18);
  EXPECT_EQ(plane_->RateLimitUsed("default", "Echo", "Echo#env:prod|zone:z1", 1), 30);
}

TEST_F(RateLimitServerTest, BadReportsChangeNoCounter) {
  Client client(plane_->ratelimit_address());
  v2::RateLimitInitResponse init = client.Send(Init("c", 10)).ratelimitinitresponse();
  const uint32_t key = init.counters(0).counterkey();
  // One good key, one never allocated: nothing is charged.
  v2::RateLimitRequest mixed = Acquire(init.clientkey(), key, 3);
  v2::QuotaSum* unknown = mixed.mutable_ratelimitreportrequest()->add_quotauses();
  unknown->set_counterkey((QuotaRegistry::kNodeId << 24) | 999);
  unknown->set_used(1);
  v2::RateLimitReportResponse response = client.Send(mixed).ratelimitreportresponse();
  EXPECT_EQ(response.code(), kLimiterNotFoundLimiter);
  EXPECT_EQ(response.quotalefts_size(), 0);
  EXPECT_EQ(plane_->RateLimitUsed("default", "Echo", "method:Echo", 1), 0);
  // Use stamped in another window is not counted (clients align by TimeAdjust).
  v2::RateLimitRequest stale = Acquire(init.clientkey(), key, 4);
  stale.mutable_ratelimitreportrequest()->set_timestamp(absl::ToUnixMillis(clock_.Now()) - 1000);
  EXPECT_EQ(client.Send(stale).ratelimitreportresponse().quotalefts(0).left(), 10);
  // Missing timestamp, client key or uses.
  v2::RateLimitRequest no_time = Acquire(init.clientkey(), key, 1);
  no_time.mutable_ratelimitreportrequest()->clear_timestamp();
  EXPECT_EQ(client.Send(no_time).ratelimitreportresponse().code(), kLimiterInvalidTimestamp);
  EXPECT_EQ(client.Send(Acquire(0, key, 1)).ratelimitreportresponse().code(),
            kLimiterInvalidClientKey);
  EXPECT_EQ(plane_->RateLimitUsed("default", "Echo", "method:Echo", 1), 0);
  // A malformed key (another node's) is refused and ends the stream, as upstream.
  v2::RateLimitReportResponse malformed =
      client.Send(Acquire(init.clientkey(), 5, 1)).ratelimitreportresponse();
  EXPECT_EQ(malformed.code(), kLimiterInvalidCounterKey);
  v2::RateLimitResponse after;
  EXPECT_FALSE(client.stream->Read(&after));
}

TEST_F(RateLimitServerTest, InitRequestsAreValidatedWithTheRealCodes) {
  Client client(plane_->ratelimit_address());
  auto code_of = [&](const v2::RateLimitRequest& request) {
    return client.Send(request).ratelimitinitresponse().code();
  };
  v2::RateLimitRequest no_totals = Init("c", 5);
  no_totals.mutable_ratelimitinitrequest()->clear_totals();
  EXPECT_EQ(code_of(no_totals), kLimiterInvalidTotalLimit);
  v2::RateLimitRequest no_client = Init("", 5);
  EXPECT_EQ(code_of(no_client), kLimiterInvalidClientId);
  v2::RateLimitRequest zero_duration = Init("c", 5);
  zero_duration.mutable_ratelimitinitrequest()->mutable_totals(0)->set_duration(0);
  EXPECT_EQ(code_of(zero_duration), kLimiterInvalidDuration);
  v2::RateLimitRequest no_service = Init("c", 5);
  no_service.mutable_ratelimitinitrequest()->mutable_target()->clear_service();
  EXPECT_EQ(code_of(no_service), kLimiterInvalidServiceName);
  v2::RateLimitRequest share = Init("c", 5);
  share.mutable_ratelimitinitrequest()->set_mode(v2::BATCH_SHARE);
  EXPECT_EQ(code_of(share), kLimiterInvalidMode);
  // A BATCH_INIT rule without labels_list fails alone.
  v2::RateLimitRequest batch = BatchInit("c", {}, 5);
  v2::RateLimitBatchInitResponse response = client.Send(batch).ratelimitbatchinitresponse();
  EXPECT_EQ(response.code(), kLimiterSuccess);
  EXPECT_EQ(response.result(0).code(), kLimiterInvalidLabels);
  v2::RateLimitRequest empty_batch;
  empty_batch.set_cmd(v2::BATCH_INIT);
  empty_batch.mutable_ratelimitbatchinitrequest()->set_clientid("c");
  EXPECT_EQ(client.Send(empty_batch).ratelimitbatchinitresponse().code(),
            kLimiterInvalidBatchInitReq);
}

TEST_F(RateLimitServerTest, DivideTotalsScaleWithClients) {
  Client a(plane_->ratelimit_address());
  Client b(plane_->ratelimit_address());
  v2::RateLimitRequest divide = Init("client-a", 10);
  divide.mutable_ratelimitinitrequest()->mutable_totals(0)->set_mode(v2::DIVIDE);
  EXPECT_EQ(a.Send(divide).ratelimitinitresponse().counters(0).left(), 10);
  divide.mutable_ratelimitinitrequest()->set_clientid("client-b");
  EXPECT_EQ(b.Send(divide).ratelimitinitresponse().counters(0).left(), 20);
}

TEST_F(RateLimitServerTest, TimeAdjustReportsServerTime) {
  v2::RateLimitStub stub(
      grpc::CreateChannel(plane_->ratelimit_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v2::TimeAdjustResponse response;
  ASSERT_TRUE(stub.TimeAdjust(&context, v2::TimeAdjustRequest(), &response).ok());
  EXPECT_EQ(response.servertimestamp(), absl::ToUnixMillis(clock_.Now()));
}

TEST_F(RateLimitServerTest, FaultsEndTheStream) {
  Client client(plane_->ratelimit_address());
  plane_->faults().FailNext("Service", 1, absl::UnavailableError("quota server down"));
  ASSERT_TRUE(client.stream->Write(Init("c", 5)));
  v2::RateLimitResponse response;
  EXPECT_FALSE(client.stream->Read(&response));
  grpc::Status status = client.stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "quota server down");
}

TEST_F(RateLimitServerTest, UnknownMethodIsUnimplemented) {
  auto channel =
      grpc::CreateChannel(plane_->ratelimit_address(), grpc::InsecureChannelCredentials());
  grpc::internal::RpcMethod method("/polaris.metric.v2.RateLimitGRPCV2/Nope",
                                   grpc::internal::RpcMethod::NORMAL_RPC, channel);
  grpc::ClientContext context;
  v2::TimeAdjustResponse response;
  grpc::Status status =
      grpc::internal::BlockingUnaryCall<v2::TimeAdjustRequest, v2::TimeAdjustResponse,
                                        google::protobuf::MessageLite,
                                        google::protobuf::MessageLite>(
          channel.get(), method, &context, v2::TimeAdjustRequest(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
