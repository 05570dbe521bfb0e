// The mock rate-limit server through the RateLimitGRPCV2 wire protocol.
#include <memory>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
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

  static v2::RateLimitRequest Acquire(uint32_t client_key, uint32_t counter_key, uint32_t used) {
    v2::RateLimitRequest request;
    request.set_cmd(v2::ACQUIRE);
    v2::RateLimitReportRequest* report = request.mutable_ratelimitreportrequest();
    report->set_clientkey(client_key);
    v2::QuotaSum* use = report->add_quotauses();
    use->set_counterkey(counter_key);
    use->set_used(used);
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
  ASSERT_EQ(init_a.code(), v1::ExecuteSuccess);
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

TEST_F(RateLimitServerTest, BatchInitAndBadRequests) {
  Client client(plane_->ratelimit_address());
  v2::RateLimitRequest batch;
  batch.set_cmd(v2::BATCH_INIT);
  batch.mutable_ratelimitbatchinitrequest()->set_clientid("c");
  *batch.mutable_ratelimitbatchinitrequest()->add_request() =
      Init("", 5).ratelimitinitrequest();
  v2::RateLimitBatchInitResponse response =
      client.Send(batch).ratelimitbatchinitresponse();
  ASSERT_EQ(response.result_size(), 1);
  EXPECT_EQ(response.result(0).counters(0).counters(0).left(), 5);
  // ACQUIRE on a counter never initialised.
  EXPECT_EQ(client.Send(Acquire(1, 99, 1)).ratelimitreportresponse().code(),
            v1::NotFoundResource);
  v2::RateLimitRequest empty_init = Init("c", 5);
  empty_init.mutable_ratelimitinitrequest()->clear_totals();
  EXPECT_EQ(client.Send(empty_init).ratelimitinitresponse().code(), v1::BadRequest);
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
