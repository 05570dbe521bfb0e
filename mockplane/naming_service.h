// v1.PolarisGRPC over a NamingRegistry, on gRPC's callback API: no thread per
// Discover stream, and changes are pushed to every stream that asked for the
// changed service.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_

#include <mutex>
#include <set>

#include "absl/base/thread_annotations.h"
#include "mockplane/naming_registry.h"
#include "proto/v1/grpcapi.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class DiscoverStream;

class NamingService final : public v1::PolarisGRPC::CallbackService {
 public:
  // Registers itself as the registry's change listener.
  explicit NamingService(NamingRegistry* registry);
  ~NamingService() override;

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
  grpc::ServerBidiReactor<v1::DiscoverRequest, v1::DiscoverResponse>* Discover(
      grpc::CallbackServerContext* context) override;

 private:
  friend class DiscoverStream;
  void AddStream(DiscoverStream* stream);
  void RemoveStream(DiscoverStream* stream);
  void OnServiceChanged(const ServiceKey& key);

  NamingRegistry* const registry_;
  std::mutex streams_mu_;
  std::set<DiscoverStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_NAMING_SERVICE_H_
