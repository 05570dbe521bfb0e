#include "client/polaris_client.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "sdk/context.h"
#include "client/internal/call_id_filter.h"
#include "client/internal/caller_identity_filter.h"
#include "client/internal/polaris_lb.h"
#include "client/internal/polaris_resolver.h"
#include "src/core/lib/config/core_configuration.h"

namespace grpc_cpp_polaris {
namespace {

std::mutex g_options_mu;
ClientOptions* g_options = nullptr;  // guarded by g_options_mu; null: defaults

// Registers the plugins with gRPC before main(): gRPC builds its
// configuration once, at first use, and refuses registrations after that.
bool RegisterPlugins() {
  grpc_core::CoreConfiguration::RegisterBuilder([](grpc_core::CoreConfiguration::Builder* b) {
    internal::RegisterPolarisResolver(b);
    internal::RegisterPolarisLbPolicy(b);
    internal::RegisterCallerIdentityFilter(b);
    internal::RegisterCallIdFilter(b);
  });
  return true;
}

const bool g_registered = RegisterPlugins();

}  // namespace

absl::Status Init(const ClientOptions& options) {
  const std::string& address = options.control_plane_address;
  const size_t colon = address.rfind(':');
  if (address.empty() || colon == std::string::npos || colon == 0 ||
      colon + 1 == address.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClientOptions.control_plane_address '", address, "' is not of the form host:port"));
  }
  if (options.max_discover_answer_bytes == 0) {
    return absl::InvalidArgumentError("ClientOptions.max_discover_answer_bytes is 0");
  }
  if (absl::Status status = ContextOptionsFor(options, address).Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("ClientOptions: ", status.message()));
  }
  std::lock_guard<std::mutex> lock(g_options_mu);
  delete g_options;
  g_options = new ClientOptions(options);
  return absl::OkStatus();
}

ContextOptions ContextOptionsFor(const ClientOptions& options,
                                 const std::string& control_plane_address) {
  ContextOptions context;
  context.control_plane.address = control_plane_address;
  context.control_plane.max_discover_answer_bytes = options.max_discover_answer_bytes;
  context.caller = options.caller;
  context.learn_location = options.learn_location;
  context.governance = options.governance;
  return context;
}

ClientOptions GetClientOptions() {
  std::lock_guard<std::mutex> lock(g_options_mu);
  return g_options == nullptr ? ClientOptions() : *g_options;
}

bool PluginsRegistered() { return g_registered; }

}  // namespace grpc_cpp_polaris
