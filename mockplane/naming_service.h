// v1.PolarisGRPC over a NamingRegistry, on gRPC's callback API: no thread per
// Discover stream, and changes are pushed to every stream that asked for the
// changed service. Consults a FaultInjector on every request.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_

#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "mockplane/fault_injector.h"
#include "mockplane/naming_registry.h"
#include "mockplane/rule_registry.h"
#include "mockplane/serving.h"
#include "proto/v1/grpcapi.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class DiscoverStream;

// Discover is served raw, so that a request that does not parse ends the
// stream with INVALID_ARGUMENT (the typed API cannot tell it from the
// client's half-close).
using NamingServiceBase = v1::PolarisGRPC::WithCallbackMethod_ReportClient<
    v1::PolarisGRPC::WithCallbackMethod_RegisterInstance<
        v1::PolarisGRPC::WithCallbackMethod_DeregisterInstance<
            v1::PolarisGRPC::WithRawCallbackMethod_Discover<
                v1::PolarisGRPC::WithCallbackMethod_Heartbeat<v1::PolarisGRPC::Service>>>>>;

class NamingService final : public NamingServiceBase {
 public:
  // Registers itself as the registries' change listener. Nothing is owned;
  // all must outlive the service. `limits` bounds each Discover stream.
  NamingService(NamingRegistry* registry, RuleRegistry* rules, FaultInjector* faults,
                RequestLog log, NamingLimits limits);
  ~NamingService() override;

  // Ends every open Discover stream with `status`.
  void BreakStreams(const absl::Status& status);

  grpc::ServerUnaryReactor* ReportClient(grpc::CallbackServerContext* context,
                                         const v1::Client* request,
                                         v1::Response* response) override;
  grpc::ServerUnaryReactor* RegisterInstance(grpc::CallbackServerContext* context,
                                             const v1::Instance* request,
                                             v1::Response* response) override;
  grpc::ServerUnaryReactor* DeregisterInstance(grpc::CallbackServerContext* context,
                                               const v1::Instance* request,
                                               v1::Response* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::Instance* request,
                                      v1::Response* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Discover(
      grpc::CallbackServerContext* context) override;

  DiscoverStreamStats StreamStats();

 private:
  friend class DiscoverStream;
  // The current answer to a Discover request of any kind.
  NamingRegistry::DiscoverResponsePtr AnswerDiscover(const v1::DiscoverRequest& request);
  void OnChanged(DiscoverType type, const ServiceKey& key);
  void AddStream(DiscoverStream* stream);
  void RemoveStream(DiscoverStream* stream);
  // Runs `visit` on every open stream, each kept alive meanwhile.
  void ForEachStream(const std::function<void(DiscoverStream*)>& visit);

  NamingRegistry* const registry_;
  RuleRegistry* const rules_;
  FaultInjector* const faults_;
  const RequestLog log_;
  const NamingLimits limits_;
  std::mutex streams_mu_;
  std::set<DiscoverStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_
