#include "server/queue_interceptor.h"

#include <string>

#include <grpcpp/alarm.h>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace {

class QueueInterceptor final : public grpc::experimental::Interceptor {
 public:
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    TsanAcquire(this);
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const absl::Duration wait = WaitOf(*methods->GetRecvInitialMetadata());
      if (wait > absl::ZeroDuration()) {
        TsanRelease(this);
        // The call goes on from the alarm's thread when its slot comes.
        alarm_.Set(absl::ToChronoTime(absl::Now() + wait), [this, methods](bool) {
          TsanAcquire(this);
          TsanRelease(this);
          methods->Proceed();
        });
        return;
      }
    }
    TsanRelease(this);
    methods->Proceed();
  }

 private:
  static absl::Duration WaitOf(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    auto it = metadata.find(kQueueWaitMetadataKey);
    if (it == metadata.end()) return absl::ZeroDuration();
    int64_t micros = 0;
    if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &micros)) {
      return absl::ZeroDuration();
    }
    return std::min(absl::Microseconds(micros), kMaxQueueWait);
  }

  grpc::Alarm alarm_;
};

class QueueInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit QueueInterceptorFactory(std::shared_ptr<const CallGate> gate) : gate_(std::move(gate)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* /*info*/) override {
    if (!gate_->queueing()) return nullptr;  // no interceptor on calls that cannot wait
    return new QueueInterceptor();
  }

 private:
  std::shared_ptr<const CallGate> gate_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeQueueInterceptorFactory(
    std::shared_ptr<const CallGate> gate) {
  return std::make_unique<QueueInterceptorFactory>(std::move(gate));
}

}  // namespace grpc_cpp_polaris
