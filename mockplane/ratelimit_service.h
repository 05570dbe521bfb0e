// polaris.metric.v2.RateLimitGRPCV2 over a QuotaRegistry, served through
// gRPC's generic callback API (its "Service" method cannot be generated):
// /polaris.metric.v2.RateLimitGRPCV2/Service (INIT, BATCH_INIT, ACQUIRE on
// one stream, each request answered in order, after a fault's delay if
// one is injected) and .../TimeAdjust.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_RATELIMIT_SERVICE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_RATELIMIT_SERVICE_H_

#include <grpcpp/generic/async_generic_service.h>

#include "mockplane/fault_injector.h"
#include "mockplane/quota_registry.h"
#include "mockplane/serving.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class RateLimitService final : public grpc::CallbackGenericService {
 public:
  // Nothing is owned; all must outlive the service.
  RateLimitService(QuotaRegistry* quotas, FaultInjector* faults, RequestLog log)
      : quotas_(quotas), faults_(faults), log_(std::move(log)) {}
  ~RateLimitService() override;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;

 private:
  friend class QuotaStream;
  friend class TimeAdjustCall;
  QuotaRegistry* const quotas_;
  FaultInjector* const faults_;
  const RequestLog log_;
  // Released by each reactor as it ends, acquired on destruction (TSan).
  char reactors_done_key_ = 0;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_RATELIMIT_SERVICE_H_
