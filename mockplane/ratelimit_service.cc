#include "mockplane/ratelimit_service.h"

#include <grpcpp/alarm.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "proto/metric/v2/ratelimit_stub.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

template <typename Message>
bool Decode(grpc::ByteBuffer* buffer, Message* message) {
  return grpc::SerializationTraits<Message>::Deserialize(buffer, message).ok();
}

template <typename Message>
grpc::ByteBuffer Encode(const Message& message) {
  grpc::ByteBuffer buffer;
  bool own = false;
  grpc::SerializationTraits<Message>::Serialize(message, &buffer, &own);
  return buffer;
}

}  // namespace

// The quota stream: one answer per request, in order (read, answer, read...).
class QuotaStream final : public AnnotatedBidiReactor {
 public:
  explicit QuotaStream(RateLimitService* service) : service_(service) { Read(&in_); }

  void OnReadDone(bool ok) override {
    TsanReaction reaction(read_key(), done_key());
    if (!ok) {
      FinishWith(grpc::Status::OK);
      return;
    }
    v2::RateLimitRequest request;
    if (!Decode(&in_, &request)) {
      FinishWith(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a RateLimitRequest"));
      return;
    }
    LogRequest(service_->log_, "Service", request);
    const Fault fault = service_->faults_->Take("Service");
    if (!fault.status.ok()) {
      FinishWith(ToGrpc(fault.status));
      return;
    }
    v2::RateLimitResponse response;
    response.set_cmd(request.cmd());
    switch (request.cmd()) {
      case v2::INIT:
        *response.mutable_ratelimitinitresponse() =
            service_->quotas_->Init(request.ratelimitinitrequest());
        break;
      case v2::BATCH_INIT:
        *response.mutable_ratelimitbatchinitresponse() =
            service_->quotas_->BatchInit(request.ratelimitbatchinitrequest());
        break;
      case v2::ACQUIRE:
      case v2::BATCH_ACQUIRE:
        *response.mutable_ratelimitreportresponse() =
            service_->quotas_->Report(request.ratelimitreportrequest());
        break;
      default:
        FinishWith(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unknown RateLimitCmd"));
        return;
    }
    out_ = Encode(response);
    if (fault.delay > absl::ZeroDuration()) {
      // Answered when the alarm fires. No operation is pending meanwhile and
      // Finish has not been called, so the reactor outlives the alarm even if
      // the client gives up: the write then fails and ends the call.
      auto* alarm = new grpc::Alarm();
      TsanRelease(&delay_key_);
      alarm->Set(absl::ToChronoTime(absl::Now() + fault.delay), [this, alarm](bool) {
        TsanAcquire(&delay_key_);
        Write(&out_);
        // The write may complete, and the reactor be deleted, before this
        // returns: nothing below touches it, and OnDone acquires this.
        TsanRelease(done_key());
        delete alarm;
      });
      return;
    }
    if (response.has_ratelimitreportresponse() &&
        response.ratelimitreportresponse().code() == kLimiterInvalidCounterKey) {
      // As the real server: a report with a malformed key ends the stream.
      WriteAndFinish(&out_, grpc::Status::OK);
      return;
    }
    Write(&out_);
  }

  void OnWriteDone(bool ok) override {
    TsanReaction reaction(write_key(), done_key());
    if (!ok) {
      FinishWith(grpc::Status::OK);
      return;
    }
    Read(&in_);
  }

  void OnDone() override {
    TsanAcquire(done_key());  // before reading service_
    TsanRelease(&service_->reactors_done_key_);
    AnnotatedBidiReactor::OnDone();
  }


 private:
  RateLimitService* const service_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  char delay_key_ = 0;
};

// TimeAdjust: a unary call carried by a generic stream.
class TimeAdjustCall final : public AnnotatedBidiReactor {
 public:
  explicit TimeAdjustCall(RateLimitService* service) : service_(service) { Read(&in_); }

  void OnReadDone(bool ok) override {
    TsanReaction reaction(read_key(), done_key());
    v2::TimeAdjustRequest request;
    if (!ok || !Decode(&in_, &request)) {
      FinishWith(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no TimeAdjustRequest"));
      return;
    }
    LogRequest(service_->log_, "TimeAdjust", request);
    const Fault fault = service_->faults_->Take("TimeAdjust");
    if (!fault.status.ok()) {
      FinishWith(ToGrpc(fault.status));
      return;
    }
    v2::TimeAdjustResponse response;
    response.set_servertimestamp(service_->quotas_->NowMs());
    out_ = Encode(response);
    WriteAndFinish(&out_, grpc::Status::OK);
  }

  void OnDone() override {
    TsanAcquire(done_key());  // before reading service_
    TsanRelease(&service_->reactors_done_key_);
    AnnotatedBidiReactor::OnDone();
  }


 private:
  RateLimitService* const service_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
};

RateLimitService::~RateLimitService() {
  // Every reactor that used this service has ended (the server waited for
  // them); gRPC's own synchronisation is invisible to TSan.
  TsanAcquire(&reactors_done_key_);
}

grpc::ServerGenericBidiReactor* RateLimitService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  TsanAcquire(&tsan_services_built_key);
  if (context->method() == v2::kRateLimitServiceMethod) return new QuotaStream(this);
  if (context->method() == v2::kTimeAdjustMethod) return new TimeAdjustCall(this);
  class Unimplemented final : public AnnotatedBidiReactor {
   public:
    explicit Unimplemented(const std::string& method) {
      FinishWith(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + method));
    }
  };
  return new Unimplemented(context->method());
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
