// Client stub for polaris.metric.v2.RateLimitGRPCV2, written by hand: the
// real method is named "Service", which grpc_cpp_plugin cannot generate (it
// clashes with the generated Service class). Same method paths, same calls
// a generated stub would make.
#ifndef GRPC_CPP_POLARIS_PROTO_METRIC_V2_RATELIMIT_STUB_H_
#define GRPC_CPP_POLARIS_PROTO_METRIC_V2_RATELIMIT_STUB_H_

#include <memory>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/sync_stream.h>

#include "proto/metric/v2/ratelimiter.pb.h"

namespace polaris {
namespace metric {
namespace v2 {

inline constexpr char kRateLimitServiceMethod[] = "/polaris.metric.v2.RateLimitGRPCV2/Service";
inline constexpr char kTimeAdjustMethod[] = "/polaris.metric.v2.RateLimitGRPCV2/TimeAdjust";

class RateLimitStub {
 public:
  explicit RateLimitStub(std::shared_ptr<grpc::ChannelInterface> channel)
      : channel_(std::move(channel)),
        service_(kRateLimitServiceMethod, grpc::internal::RpcMethod::BIDI_STREAMING, channel_),
        time_adjust_(kTimeAdjustMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_) {}

  // The quota stream: INIT / BATCH_INIT, then ACQUIRE reports.
  std::unique_ptr<grpc::ClientReaderWriter<RateLimitRequest, RateLimitResponse>> Service(
      grpc::ClientContext* context) {
    return std::unique_ptr<grpc::ClientReaderWriter<RateLimitRequest, RateLimitResponse>>(
        grpc::internal::ClientReaderWriterFactory<RateLimitRequest, RateLimitResponse>::Create(
            channel_.get(), service_, context));
  }

  // The quota stream on a completion queue; `tag` completes once it starts.
  std::unique_ptr<grpc::ClientAsyncReaderWriter<RateLimitRequest, RateLimitResponse>> AsyncService(
      grpc::ClientContext* context, grpc::CompletionQueue* queue, void* tag) {
    return std::unique_ptr<grpc::ClientAsyncReaderWriter<RateLimitRequest, RateLimitResponse>>(
        grpc::internal::ClientAsyncReaderWriterFactory<RateLimitRequest, RateLimitResponse>::Create(
            channel_.get(), queue, service_, context, /*start=*/true, tag));
  }

  grpc::Status TimeAdjust(grpc::ClientContext* context, const TimeAdjustRequest& request,
                          TimeAdjustResponse* response) {
    return grpc::internal::BlockingUnaryCall<TimeAdjustRequest, TimeAdjustResponse,
                                             google::protobuf::MessageLite,
                                             google::protobuf::MessageLite>(
        channel_.get(), time_adjust_, context, request, response);
  }

 private:
  std::shared_ptr<grpc::ChannelInterface> channel_;
  const grpc::internal::RpcMethod service_;
  const grpc::internal::RpcMethod time_adjust_;
};

}  // namespace v2
}  // namespace metric
}  // namespace polaris

#endif  // GRPC_CPP_POLARIS_PROTO_METRIC_V2_RATELIMIT_STUB_H_
