#include "server/internal/governance_filter.h"

#include <optional>
#include <string>
#include <utility>

#include <grpc/support/log.h>

#include "absl/status/statusor.h"
#include "sdk/peer_address.h"
#include "sdk/tsan.h"
#include "server/queue_interceptor.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/channel/channel_stack_builder.h"
#include "src/core/lib/channel/promise_based_filter.h"
#include "src/core/lib/config/core_configuration.h"
#include "src/core/lib/iomgr/endpoint.h"
#include "src/core/lib/promise/arena_promise.h"
#include "src/core/lib/promise/map.h"
#include "src/core/lib/promise/promise.h"
#include "src/core/lib/surface/channel_init.h"
#include "src/core/lib/surface/channel_stack_type.h"
#include "src/core/lib/transport/metadata_batch.h"
#include "src/core/lib/transport/transport.h"
#include "src/core/lib/transport/transport_impl.h"

namespace grpc_cpp_polaris {
namespace internal {
namespace {

constexpr char kCallGateArg[] = "grpc_cpp_polaris.call_gate";

// The channel argument's value: keeps the gate alive while any server or
// server connection has the argument.
struct GateHandle {
  std::shared_ptr<const CallGate> gate;
};

void* CopyHandle(void* p) {
  TsanAcquire(p);
  auto* copy = new GateHandle(*static_cast<GateHandle*>(p));
  TsanRelease(copy);
  return copy;
}

void DestroyHandle(void* p) {
  TsanAcquire(p);
  delete static_cast<GateHandle*>(p);
}

int CompareHandles(void* a, void* b) {
  const CallGate* x = static_cast<GateHandle*>(a)->gate.get();
  const CallGate* y = static_cast<GateHandle*>(b)->gate.get();
  return x < y ? -1 : (y < x ? 1 : 0);
}

const grpc_arg_pointer_vtable kGateHandleVtable = {CopyHandle, DestroyHandle, CompareHandles};

// The call as the gate's rules see it, over gRPC's metadata.
class MetadataCall final : public InboundCall {
 public:
  MetadataCall(const grpc_metadata_batch& metadata, absl::string_view caller_ip)
      : metadata_(metadata), caller_ip_(caller_ip) {
    if (const grpc_core::Slice* path = metadata.get_pointer(grpc_core::HttpPathMetadata());
        path != nullptr) {
      method_ = path->as_string_view();
    }
  }

  absl::string_view method() const override { return method_; }
  absl::string_view caller_ip() const override { return caller_ip_; }
  std::optional<absl::string_view> Header(absl::string_view key,
                                          std::string* buffer) const override {
    auto value = metadata_.GetStringValue(key, buffer);
    if (!value.has_value()) return std::nullopt;
    return *value;
  }

 private:
  const grpc_metadata_batch& metadata_;
  const absl::string_view caller_ip_;
  absl::string_view method_;
};

class GovernanceFilter final : public grpc_core::ChannelFilter {
 public:
  GovernanceFilter(GovernanceFilter&&) = default;
  // gRPC destroys the stack on whichever thread lets go of it last.
  ~GovernanceFilter() override { TsanAcquire(this); }
  static const grpc_channel_filter kFilter;

  static absl::StatusOr<GovernanceFilter> Create(const grpc_core::ChannelArgs& args,
                                                 ChannelFilter::Args /*filter_args*/) {
    auto* handle = static_cast<GateHandle*>(args.GetVoidPointer(kCallGateArg));
    if (handle == nullptr) {
      return absl::InternalError("polaris governance filter without its channel argument");
    }
    TsanAcquire(handle);
    std::string ip;
    // Server connections carry their transport; its endpoint knows the peer.
    if (auto* transport = args.GetPointer<grpc_transport>(GRPC_ARG_TRANSPORT);
        transport != nullptr) {
      if (grpc_endpoint* endpoint = grpc_transport_get_endpoint(transport); endpoint != nullptr) {
        ip = PeerIp(grpc_endpoint_get_peer(endpoint)).value_or("");
      }
    }
    return GovernanceFilter(handle->gate, std::move(ip));
  }

  grpc_core::ArenaPromise<grpc_core::ServerMetadataHandle> MakeCallPromise(
      grpc_core::CallArgs call_args, grpc_core::NextPromiseFactory next) override {
    TsanAcquire(this);
    grpc_metadata_batch& metadata = *call_args.client_initial_metadata;
    metadata.Remove(kQueueWaitMetadataKey);  // only the filter sets it
    LimitDecision decision = gate_->Admit(MetadataCall(metadata, caller_ip_));
    if (!decision.admitted()) {
      return grpc_core::Immediate(grpc_core::ServerMetadataFromStatus(decision.status));
    }
    if (decision.wait > absl::ZeroDuration()) {
      // A filter's promise cannot wait on 1.51's server: the queue
      // interceptor holds the call (server/queue_interceptor.h).
      metadata.Append(kQueueWaitMetadataKey,
                      grpc_core::Slice::FromCopiedString(
                          std::to_string(absl::ToInt64Microseconds(decision.wait))),
                      [](absl::string_view, const grpc_core::Slice&) {});
    }
    if (decision.permits.empty()) return next(std::move(call_args));
    return Hold(next(std::move(call_args)), std::move(decision.permits));
  }

 private:
  GovernanceFilter(std::shared_ptr<const CallGate> gate, std::string caller_ip)
      : gate_(std::move(gate)), caller_ip_(std::move(caller_ip)) {}

  // gRPC moves the filter into its channel stack, then hands the stack to
  // the threads that run calls: see sdk/tsan.h.
  void PostInit() override { TsanRelease(this); }

  // A call's permits, in its promise. gRPC creates the promise on one
  // thread and may destroy it on another, ordered where ThreadSanitizer
  // does not look (sdk/tsan.h).
  struct HeldPermits {
    explicit HeldPermits(absl::InlinedVector<Permit, 1> held) : permits(std::move(held)) {
      TsanRelease(this);
    }
    HeldPermits(HeldPermits&& other) noexcept : permits(std::move(other.permits)) {
      TsanRelease(this);
    }
    ~HeldPermits() { TsanAcquire(this); }
    absl::InlinedVector<Permit, 1> permits;
  };

  // The call's promise, holding `permits` until it is done or dropped
  // (cancelled, deadline exceeded, connection gone).
  template <typename Promise>
  static grpc_core::ArenaPromise<grpc_core::ServerMetadataHandle> Hold(
      Promise promise, absl::InlinedVector<Permit, 1> permits) {
    return grpc_core::Map(std::move(promise),
                          [held = HeldPermits(std::move(permits))](
                              grpc_core::ServerMetadataHandle md) { return md; });
  }

  std::shared_ptr<const CallGate> gate_;
  std::string caller_ip_;
};

const grpc_channel_filter GovernanceFilter::kFilter =
    grpc_core::MakePromiseBasedFilter<GovernanceFilter, grpc_core::FilterEndpoint::kServer>(
        "polaris_server_governance");

bool RegisterFilter() {
  grpc_core::CoreConfiguration::RegisterBuilder([](grpc_core::CoreConfiguration::Builder* b) {
    b->channel_init()->RegisterStage(
        GRPC_SERVER_CHANNEL, GRPC_CHANNEL_INIT_BUILTIN_PRIORITY,
        [](grpc_core::ChannelStackBuilder* stack) {
          if (stack->channel_args().GetVoidPointer(kCallGateArg) != nullptr) {
            stack->PrependFilter(&GovernanceFilter::kFilter);
          }
          return true;
        });
  });
  return true;
}

// Before main(): gRPC builds its configuration once, at first use.
const bool g_registered = RegisterFilter();

}  // namespace

void AddCallGate(grpc::ChannelArguments* args, std::shared_ptr<const CallGate> gate) {
  auto* handle = new GateHandle{std::move(gate)};
  TsanRelease(handle);
  // ChannelArguments copies the value through the vtable; ours goes.
  args->SetPointerWithVtable(kCallGateArg, handle, &kGateHandleVtable);
  DestroyHandle(handle);
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
