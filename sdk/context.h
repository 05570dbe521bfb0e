// The process-wide governance context: one per configuration (control plane,
// caller identity, governance options), shared by every channel and
// registration that uses it. It owns the connection to the control plane
// (shared in turn by contexts with the same control-plane options), knows
// who the caller is (learning its location from the control plane when not
// given, and watching its own service's rules: its outbound routes), and
// hands out service views with the rules its routers need.
//
//   ContextOptions options;
//   options.control_plane.address = "polaris.internal:8091";
//   options.caller.service = {"default", "Gateway"};
//   absl::StatusOr<std::shared_ptr<Context>> context = Context::Shared(options);
#ifndef GRPC_CPP_POLARIS_SDK_CONTEXT_H_
#define GRPC_CPP_POLARIS_SDK_CONTEXT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sdk/control_plane_client.h"
#include "sdk/governance_options.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

struct ContextOptions {
  ControlPlaneOptions control_plane;
  CallerIdentity caller;
  GovernanceOptions governance;
  // Ask the control plane where this host runs (ReportClient) for the
  // location fields `caller.location` leaves empty.
  bool learn_location = true;

  // InvalidArgument naming the first bad field, including router and
  // balancer names unknown to the registries.
  absl::Status Validate() const;
};

class Context {
 public:
  // The context for `options`, created on first use and shared while anyone
  // holds it.
  static absl::StatusOr<std::shared_ptr<Context>> Shared(const ContextOptions& options);
  // A context of its own (tests, or deliberately separate configurations).
  static absl::StatusOr<std::shared_ptr<Context>> Create(const ContextOptions& options);
  ~Context();

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const ContextOptions& options() const;
  const std::shared_ptr<ControlPlaneClient>& control_plane() const;

  // The caller's identity now: the options' one, with the learned location.
  std::shared_ptr<const CallerIdentity> caller() const;
  // False while the first attempt to learn the location, or the first
  // answers about the caller's own rules, are in flight (one control-plane
  // round trip): channels hold their first routing until then, so that even
  // the first calls are routed as they will be.
  bool caller_settled() const;
  // Calls `listener` (on a context or control-plane client thread) when the
  // caller's identity changes or settles, e.g. once its location is learned.
  // Returns an id for RemoveCallerListener, after which the listener is not
  // running, unless RemoveCallerListener was called from inside a listener:
  // then the notification in progress may still call it once.
  using ListenerId = uint64_t;
  ListenerId AddCallerListener(std::function<void()> listener);
  void RemoveCallerListener(ListenerId id);

  // Watches `key` with the registered rule parsers of `audience`; see
  // ServiceViewWatch. A callee's watch takes a service the control plane
  // does not know yet as one without instances.
  std::unique_ptr<ServiceViewWatch> WatchService(
      const ServiceKey& key, ServiceViewWatch::Callback callback,
      RuleAudience audience = RuleAudience::kCaller) const;

 private:
  // Shared with the thread that learns the location, which may outlive the
  // context by one ReportClient call (it is never waited for, so that the
  // last channel can go away on any thread without blocking it).
  struct State;
  explicit Context(std::shared_ptr<State> state) : state_(std::move(state)) {}
  static void LearnLocation(const std::shared_ptr<State>& state);
  // Watches the caller service's own routing rules (its outbound routes)
  // into CallerIdentity::rules.
  static void WatchCallerRules(const std::shared_ptr<State>& state);
  static void OnCallerRules(const std::shared_ptr<State>& state, const RuleParser* parser,
                            ResourceType type, const absl::StatusOr<ResourceUpdatePtr>& update);
  static void Notify(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

// The IP address this host uses to reach `address` ("host:port"), as the
// control plane sees it on a direct connection; empty if unknown.
std::string LocalAddressTowards(const std::string& address);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_CONTEXT_H_
