// Resolver for polaris://SERVICE[?namespace=NS]: watches the service on the
// control plane (one shared ControlPlaneClient per control-plane address) and
// reports the routable instances, each with its InstanceAttribute, whenever
// the control plane reports a new revision. Push-based: re-resolution
// requests are no-ops. The first good result is never replaced by an error.

#include "client/internal/polaris_resolver.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "client/internal/instance_attribute.h"
#include "client/polaris_client.h"
#include "client/target.h"
#include "sdk/control_plane_client.h"
#include "sdk/tsan.h"
#include "src/core/lib/address_utils/parse_address.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/gprpp/debug_location.h"
#include "src/core/lib/gprpp/orphanable.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/iomgr/resolved_address.h"
#include "src/core/lib/resolver/resolver.h"
#include "src/core/lib/resolver/resolver_factory.h"
#include "src/core/lib/resolver/server_address.h"
#include "src/core/lib/uri/uri_parser.h"

namespace grpc_cpp_polaris {
namespace internal {
namespace {

class PolarisResolver final : public grpc_core::Resolver {
 public:
  PolarisResolver(grpc_core::ResolverArgs args, absl::StatusOr<ServiceKey> key)
      : target_(args.uri.ToString()),
        key_(std::move(key)),
        work_serializer_(std::move(args.work_serializer)),
        result_handler_(std::move(args.result_handler)),
        // Channels default to the polaris policy; a loadBalancingConfig in
        // the service config still wins.
        channel_args_(args.args.SetIfUnset(GRPC_ARG_LB_POLICY_NAME, kPolarisLbPolicyName)) {}

  // Every *Locked method runs on the channel's work serializer; the
  // TsanSerialized guards tell ThreadSanitizer so (see sdk/tsan.h).
  void StartLocked() override {
    TsanSerialized serialized(&tsan_work_serializer_key);
    if (!key_.ok()) {
      ReportError(absl::UnavailableError(
          absl::StrCat("invalid polaris target '", target_, "': ", key_.status().message())));
      return;
    }
    const ClientOptions client_options = GetClientOptions();
    ControlPlaneOptions options;
    options.address = channel_args_.GetOwnedString(kControlPlaneAddressArg)
                          .value_or(client_options.control_plane_address);
    options.max_discover_answer_bytes = client_options.max_discover_answer_bytes;
    if (absl::Status valid = options.Validate(); !valid.ok()) {
      ReportError(absl::UnavailableError(absl::StrCat("polaris target '", target_, "': ",
                                                      valid.message())));
      return;
    }
    client_ = ControlPlaneClient::Shared(options);
    bridge_ = std::make_shared<Bridge>();
    bridge_->resolver = this;
    // The watch holds only the bridge, never a reference to anything of
    // gRPC's: the last reference to the resolver is always dropped inside the
    // work serializer, with an ExecCtx, never on the control-plane client's
    // threads.
    watch_id_ = client_->Watch(
        *key_, [bridge = bridge_](absl::StatusOr<ServiceSnapshotPtr> update) {
          grpc_core::ExecCtx exec_ctx;
          grpc_core::RefCountedPtr<PolarisResolver> self;
          {
            std::lock_guard<std::mutex> lock(bridge->mu);
            if (bridge->resolver == nullptr) return;  // shut down
            self.reset(static_cast<PolarisResolver*>(
                bridge->resolver->Ref(DEBUG_LOCATION, "update").release()));
          }
          std::shared_ptr<grpc_core::WorkSerializer> serializer = self->work_serializer_;
          std::function<void()> hop = [self = std::move(self),
                                       update = std::move(update)]() mutable {
            TsanSerialized serialized(&tsan_work_serializer_key);
            self->OnUpdateLocked(update);
            self.reset();  // here, inside the serializer
          };
          TsanRelease(&tsan_work_serializer_key);  // the update is handed over
          serializer->Run(std::move(hop), DEBUG_LOCATION);
        });
  }

  // Push-based: the control plane tells us about every change.
  void RequestReresolutionLocked() override {}

  void ShutdownLocked() override {
    TsanSerialized serialized(&tsan_work_serializer_key);
    shutdown_ = true;
    if (bridge_ != nullptr) {
      std::lock_guard<std::mutex> lock(bridge_->mu);
      bridge_->resolver = nullptr;
    }
    if (client_ != nullptr) {
      client_->Unwatch(watch_id_);
      client_.reset();
    }
  }

 private:
  void OnUpdateLocked(const absl::StatusOr<ServiceSnapshotPtr>& update) {
    if (shutdown_) return;
    if (!update.ok()) {
      if (reported_snapshot_) {
        gpr_log(GPR_INFO, "polaris resolver %s: keeping last instances: %s", target_.c_str(),
                update.status().ToString().c_str());
        return;
      }
      ReportError(absl::UnavailableError(
          absl::StrCat("polaris service ", key_->ToString(), ": ", update.status().message())));
      return;
    }
    ReportSnapshot(*update);
  }

  void ReportSnapshot(const ServiceSnapshotPtr& snapshot) {
    grpc_core::ServerAddressList addresses;
    size_t unroutable = 0;
    for (const Instance& instance : snapshot->instances) {
      if (!instance.Routable()) {
        ++unroutable;
        continue;
      }
      absl::StatusOr<grpc_resolved_address> address =
          grpc_core::StringToSockaddr(instance.Address());
      if (!address.ok()) {
        gpr_log(GPR_ERROR, "polaris resolver %s: instance %s has bad address %s: %s",
                target_.c_str(), instance.id.c_str(), instance.Address().c_str(),
                address.status().ToString().c_str());
        ++unroutable;
        continue;
      }
      std::map<const char*, std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>>
          attributes;
      attributes[InstanceAttribute::kKey] =
          std::make_unique<InstanceAttribute>(snapshot, &instance);
      addresses.emplace_back(*address, grpc_core::ChannelArgs(), std::move(attributes));
    }
    Result result;
    result.resolution_note =
        absl::StrCat("polaris service ", key_->ToString(), " revision ", snapshot->revision, ": ",
                     addresses.size(), " routable of ", snapshot->instances.size(),
                     " instances (", unroutable, " unhealthy, isolated or weight 0)");
    result.addresses = std::move(addresses);
    result.args = channel_args_;
    reported_snapshot_ = true;
    result_handler_->ReportResult(std::move(result));
  }

  void ReportError(absl::Status status) {
    Result result;
    result.addresses = status;
    result.service_config = status;
    result.args = channel_args_;
    result_handler_->ReportResult(std::move(result));
  }

  // What the watch callback holds: the resolver while it is running.
  struct Bridge {
    std::mutex mu;
    PolarisResolver* resolver = nullptr;  // guarded by mu
  };

  const std::string target_;
  const absl::StatusOr<ServiceKey> key_;
  std::shared_ptr<grpc_core::WorkSerializer> work_serializer_;
  std::unique_ptr<ResultHandler> result_handler_;
  const grpc_core::ChannelArgs channel_args_;
  std::shared_ptr<ControlPlaneClient> client_;
  std::shared_ptr<Bridge> bridge_;
  ControlPlaneClient::WatchId watch_id_ = 0;
  bool reported_snapshot_ = false;
  bool shutdown_ = false;
};

class PolarisResolverFactory final : public grpc_core::ResolverFactory {
 public:
  absl::string_view scheme() const override { return kPolarisScheme; }

  // Every polaris: URI is accepted here so that a malformed one fails its
  // calls with a message naming the problem, not a generic "invalid target".
  bool IsValidUri(const grpc_core::URI& /*uri*/) const override { return true; }

  grpc_core::OrphanablePtr<grpc_core::Resolver> CreateResolver(
      grpc_core::ResolverArgs args) const override {
    absl::StatusOr<ServiceKey> key = ParsePolarisTarget(ToTargetUri(args.uri));
    return grpc_core::MakeOrphanable<PolarisResolver>(std::move(args), std::move(key));
  }

  // The :authority of calls is the service name.
  std::string GetDefaultAuthority(const grpc_core::URI& uri) const override {
    absl::StatusOr<ServiceKey> key = ParsePolarisTarget(ToTargetUri(uri));
    return key.ok() ? key->service : std::string("polaris.invalid");
  }

 private:
  static TargetUri ToTargetUri(const grpc_core::URI& uri) {
    TargetUri target{uri.authority(), uri.path(), {}};
    for (const grpc_core::URI::QueryParam& param : uri.query_parameter_pairs()) {
      target.query.emplace_back(param.key, param.value);
    }
    return target;
  }
};

}  // namespace

void RegisterPolarisResolver(grpc_core::CoreConfiguration::Builder* builder) {
  builder->resolver_registry()->RegisterResolverFactory(
      std::make_unique<PolarisResolverFactory>());
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
