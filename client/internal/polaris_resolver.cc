// Resolver for polaris://SERVICE[?namespace=NS]: watches the service's view
// (instances and rules) through the channel's governance context (shared per
// configuration, see sdk/context.h) and reports every instance that may take
// traffic (not isolated, weight > 0), each with its InstanceAttribute, whenever
// the view changes, and again when the caller's identity changes (its
// location learned). Push-based: re-resolution requests are no-ops. The first
// good result is never replaced by an error.

#include "client/internal/polaris_resolver.h"

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/internal/caller_identity_filter.h"
#include "client/internal/instance_attribute.h"
#include "client/internal/off_grpc_thread.h"
#include "client/polaris_client.h"
#include "client/target.h"
#include "sdk/context.h"
#include "sdk/tsan.h"
#include "src/core/ext/filters/client_channel/client_channel.h"
#include "src/core/lib/address_utils/parse_address.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/gprpp/debug_location.h"
#include "src/core/lib/gprpp/orphanable.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/iomgr/resolved_address.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/service_config/service_config_impl.h"
#include "src/core/lib/resolver/resolver.h"
#include "src/core/lib/resolver/resolver_factory.h"
#include "src/core/lib/resolver/server_address.h"
#include "src/core/lib/uri/uri_parser.h"

namespace grpc_cpp_polaris {
namespace internal {
namespace {

// The application's service config, copied for the resolver: the client
// channel removes GRPC_ARG_SERVICE_CONFIG from the resolver's arguments.
// The copy is made before gRPC knows a channel's target, so every channel
// with a service config carries it; as a pointer whose copies all compare
// equal, it never makes two subchannels differ (the client channel strips
// the original for that reason).
constexpr char kApplicationServiceConfigArg[] = "grpc_cpp_polaris.application_service_config";

struct ApplicationServiceConfig {
  std::string json;
};

const grpc_arg_pointer_vtable kApplicationServiceConfigVtable = {
    [](void* p) -> void* {
      return new ApplicationServiceConfig(*static_cast<ApplicationServiceConfig*>(p));
    },
    [](void* p) { delete static_cast<ApplicationServiceConfig*>(p); },
    [](void*, void*) { return 0; },
};

std::string ApplicationServiceConfigOf(const grpc_core::ChannelArgs& args) {
  const auto* config =
      static_cast<const ApplicationServiceConfig*>(args.GetVoidPointer(kApplicationServiceConfigArg));
  return config == nullptr ? "{}" : config->json;
}

// The application's service config (or an empty one) with health checking
// added, unless it has its own healthCheckConfig. Null when the
// application's config does not parse: the channel then reports it itself.
grpc_core::RefCountedPtr<grpc_core::ServiceConfig> HealthCheckingConfig(
    const grpc_core::ChannelArgs& args, const HealthCheckOptions& options) {
  absl::StatusOr<grpc_core::Json> json = grpc_core::Json::Parse(ApplicationServiceConfigOf(args));
  if (!json.ok() || json->type() != grpc_core::Json::Type::OBJECT) return nullptr;
  grpc_core::Json::Object& config = *json->mutable_object();
  if (config.find("healthCheckConfig") == config.end()) {
    config["healthCheckConfig"] =
        grpc_core::Json::Object{{"serviceName", grpc_core::Json(options.service)}};
  }
  absl::StatusOr<grpc_core::RefCountedPtr<grpc_core::ServiceConfig>> parsed =
      grpc_core::ServiceConfigImpl::Create(args, json->Dump());
  if (!parsed.ok()) return nullptr;
  return *std::move(parsed);
}

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
    const std::string address = channel_args_.GetOwnedString(kControlPlaneAddressArg)
                                    .value_or(client_options.control_plane_address);
    absl::StatusOr<std::shared_ptr<Context>> context =
        Context::Shared(ContextOptionsFor(client_options, address));
    if (!context.ok()) {
      ReportError(absl::UnavailableError(absl::StrCat("polaris target '", target_, "': ",
                                                      context.status().message())));
      return;
    }
    context_ = *std::move(context);
    governance_ = std::make_shared<const GovernanceOptions>(context_->options().governance);
    if (governance_->health_check.enabled) {
      service_config_ = HealthCheckingConfig(channel_args_, governance_->health_check);
    }
    bridge_ = std::make_shared<Bridge>();
    bridge_->resolver = this;
    // The watch and the listener hold only the bridge, never a reference to
    // anything of gRPC's: the last reference to the resolver is always
    // dropped inside the work serializer, with an ExecCtx, never on the
    // context's threads.
    caller_listener_ = context_->AddCallerListener([bridge = bridge_] {
      Hop(bridge, [](PolarisResolver* self) { self->OnCallerChangedLocked(); });
    });
    watch_ = context_->WatchService(
        *key_, [bridge = bridge_](absl::StatusOr<ServiceViewPtr> update) {
          // An error of its own: abseil counts a status's references inside
          // uninstrumented code, so one shared with the control plane's
          // threads would show ThreadSanitizer a race (sdk/tsan.h).
          if (!update.ok()) {
            update = absl::Status(update.status().code(), std::string(update.status().message()));
          }
          Hop(bridge, [update = std::move(update)](PolarisResolver* self) {
            self->OnUpdateLocked(update);
          });
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
    // The bridge is cleared: callbacks still running or to come do nothing.
    // The watch and the context may hold the last references to a
    // control-plane connection, which must not be torn down on this thread
    // (see off_grpc_thread.h).
    std::shared_ptr<ServiceViewWatch> watch(std::move(watch_));
    RunOffGrpcThreads([watch = std::move(watch), context = std::move(context_),
                       listener = caller_listener_]() mutable {
      watch.reset();
      if (context != nullptr) context->RemoveCallerListener(listener);
      context.reset();
    });
  }

 private:
  struct Bridge;
  // Runs `work` on the resolver's work serializer, if it is still running.
  static void Hop(const std::shared_ptr<Bridge>& bridge,
                  std::function<void(PolarisResolver*)> work) {
    grpc_core::ExecCtx exec_ctx;
    grpc_core::RefCountedPtr<PolarisResolver> self;
    {
      std::lock_guard<std::mutex> lock(bridge->mu);
      if (bridge->resolver == nullptr) return;  // shut down
      self.reset(static_cast<PolarisResolver*>(
          bridge->resolver->Ref(DEBUG_LOCATION, "update").release()));
    }
    std::shared_ptr<grpc_core::WorkSerializer> serializer = self->work_serializer_;
    std::function<void()> hop = [self = std::move(self), work = std::move(work)]() mutable {
      TsanSerialized serialized(&tsan_work_serializer_key);
      work(self.get());
      self.reset();  // here, inside the serializer
    };
    TsanRelease(&tsan_work_serializer_key);  // the update is handed over
    serializer->Run(std::move(hop), DEBUG_LOCATION);
  }

  void OnCallerChangedLocked() {
    if (shutdown_) return;
    if (pending_view_ != nullptr) {
      ServiceViewPtr view = std::move(pending_view_);
      pending_view_ = nullptr;
      ReportView(view);
    } else if (last_view_ != nullptr) {
      ReportView(last_view_);  // the policy rebuilds its routers for the new caller
    }
  }

  void OnUpdateLocked(const absl::StatusOr<ServiceViewPtr>& update) {
    if (shutdown_) return;
    if (!update.ok()) {
      if (last_view_ != nullptr) {
        gpr_log(GPR_INFO, "polaris resolver %s: keeping last instances: %s", target_.c_str(),
                update.status().ToString().c_str());
        return;
      }
      ReportError(absl::UnavailableError(
          absl::StrCat("polaris service ", key_->ToString(), ": ", update.status().message())));
      return;
    }
    if (!context_->caller_settled()) {
      // Held until the caller's location is known (one control-plane call
      // at most), so that the first calls are routed by it too.
      pending_view_ = *update;
      return;
    }
    pending_view_ = nullptr;
    ReportView(*update);
  }

  void ReportView(const ServiceViewPtr& view) {
    grpc_core::ServerAddressList addresses;
    size_t excluded = 0;
    size_t unhealthy = 0;
    const std::vector<Instance>& instances = view->instances->instances;
    const std::shared_ptr<const CallerIdentity> caller = context_->caller();
    for (uint32_t index = 0; index < instances.size(); ++index) {
      const Instance& instance = instances[index];
      // Unhealthy instances are kept: the routers see them, and recover-all
      // may use them when nothing healthy is left.
      if (instance.isolate || instance.weight == 0) {
        ++excluded;
        continue;
      }
      if (!instance.healthy) ++unhealthy;
      absl::StatusOr<grpc_resolved_address> address =
          grpc_core::StringToSockaddr(instance.Address());
      if (!address.ok()) {
        gpr_log(GPR_ERROR, "polaris resolver %s: instance %s has bad address %s: %s",
                target_.c_str(), instance.id.c_str(), instance.Address().c_str(),
                address.status().ToString().c_str());
        ++excluded;
        continue;
      }
      std::map<const char*, std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>>
          attributes;
      attributes[InstanceAttribute::kKey] =
          std::make_unique<InstanceAttribute>(view, index, caller, governance_);
      addresses.emplace_back(*address, grpc_core::ChannelArgs(), std::move(attributes));
    }
    Result result;
    result.resolution_note = absl::StrCat(
        "polaris service ", key_->ToString(), " revision ", view->instances->revision, ": ",
        addresses.size(), " of ", instances.size(), " instances (", unhealthy, " of them unhealthy; ",
        excluded, " isolated, weight 0 or with a bad address)");
    result.addresses = std::move(addresses);
    // With health checking, the service config is the application's plus a
    // healthCheckConfig; otherwise the channel keeps the application's.
    if (service_config_ != nullptr) result.service_config = service_config_;
    // The calls' caller identity rides on the subchannels' arguments.
    result.args = WithCallerMetadata(channel_args_.Remove(kApplicationServiceConfigArg), *caller);
    last_view_ = view;
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
  // Handed off in ShutdownLocked: the last reference to a context (and its
  // control-plane connection) must not be dropped on gRPC's threads.
  std::shared_ptr<Context> context_;
  std::shared_ptr<const GovernanceOptions> governance_;
  grpc_core::RefCountedPtr<grpc_core::ServiceConfig> service_config_;
  std::shared_ptr<Bridge> bridge_;
  std::unique_ptr<ServiceViewWatch> watch_;
  Context::ListenerId caller_listener_ = 0;
  ServiceViewPtr last_view_;
  ServiceViewPtr pending_view_;
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
  // Keeps a copy of the application's service config where the resolver
  // sees it (see kApplicationServiceConfigArg).
  builder->channel_args_preconditioning()->RegisterStage([](grpc_core::ChannelArgs args) {
    const absl::optional<absl::string_view> config = args.GetString(GRPC_ARG_SERVICE_CONFIG);
    if (!config.has_value()) return args;
    return args.Set(kApplicationServiceConfigArg,
                    grpc_core::ChannelArgs::Pointer(
                        new ApplicationServiceConfig{std::string(*config)},
                        &kApplicationServiceConfigVtable));
  });
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
