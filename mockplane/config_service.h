// v1.PolarisConfigGRPC over a ConfigRegistry, on gRPC's callback API:
// WatchConfigFiles is a long poll answered when a watched file is published
// or, with DataNoChange, at the watch timeout; no thread waits meanwhile.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_SERVICE_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_SERVICE_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "mockplane/config_registry.h"
#include "mockplane/fault_injector.h"
#include "proto/v1/grpc_config_api.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

class ConfigService final : public v1::PolarisConfigGRPC::CallbackService {
 public:
  using RequestLog = std::function<void(const std::string&)>;

  // Nothing is owned; all must outlive the service.
  ConfigService(ConfigRegistry* registry, FaultInjector* faults, RequestLog log,
                absl::Duration watch_timeout);

  grpc::ServerUnaryReactor* GetConfigFile(grpc::CallbackServerContext* context,
                                          const v1::ClientConfigFileInfo* request,
                                          v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* CreateConfigFile(grpc::CallbackServerContext* context,
                                             const v1::ConfigFile* request,
                                             v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* UpdateConfigFile(grpc::CallbackServerContext* context,
                                             const v1::ConfigFile* request,
                                             v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* PublishConfigFile(grpc::CallbackServerContext* context,
                                              const v1::ConfigFileRelease* request,
                                              v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* UpsertAndPublishConfigFile(
      grpc::CallbackServerContext* context, const v1::ConfigFilePublishInfo* request,
      v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* WatchConfigFiles(grpc::CallbackServerContext* context,
                                             const v1::ClientWatchConfigFileRequest* request,
                                             v1::ConfigClientResponse* response) override;
  grpc::ServerUnaryReactor* GetConfigFileMetadataList(
      grpc::CallbackServerContext* context, const v1::ConfigFileGroupRequest* request,
      v1::ConfigClientListResponse* response) override;

 private:
  template <typename Response, typename Work>
  grpc::ServerUnaryReactor* Serve(const char* method, const google::protobuf::Message& request,
                                  Response* response, Work work);

  ConfigRegistry* const registry_;
  FaultInjector* const faults_;
  const RequestLog log_;
  const absl::Duration watch_timeout_;
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_CONFIG_SERVICE_H_
