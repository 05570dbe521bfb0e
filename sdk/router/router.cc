#include "sdk/router/router.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace grpc_cpp_polaris {

absl::string_view RouteRequest::method() const {
  absl::string_view path_view(path);
  const size_t slash = path_view.rfind('/');
  return slash == absl::string_view::npos ? path_view : path_view.substr(slash + 1);
}

namespace {

constexpr absl::string_view kHeaderPrefix = "$header.";
constexpr absl::string_view kCallerMetadataPrefix = "$caller_metadata.";

std::optional<absl::string_view> Find(const std::map<std::string, std::string>& map,
                                      absl::string_view key) {
  auto it = map.find(std::string(key));
  if (it == map.end()) return std::nullopt;
  return absl::string_view(it->second);
}

}  // namespace

std::optional<absl::string_view> CallAttribute(const RouteState& state,
                                               const RouteRequest& request,
                                               absl::string_view key) {
  if (key == "$method") return request.method();
  if (key == "$path") return absl::string_view(request.path);
  if (key == "$caller_ip") {
    if (state.caller->ip.empty()) return std::nullopt;
    return absl::string_view(state.caller->ip);
  }
  if (absl::StartsWith(key, kHeaderPrefix)) {
    return Find(request.headers, key.substr(kHeaderPrefix.size()));
  }
  if (absl::StartsWith(key, kCallerMetadataPrefix)) {
    return Find(state.caller->metadata, key.substr(kCallerMetadataPrefix.size()));
  }
  if (absl::StartsWith(key, "$")) return std::nullopt;  // $query., $cookie.: not on gRPC calls
  std::optional<absl::string_view> label = Find(request.labels, key);
  if (label.has_value()) return label;
  return Find(state.caller->metadata, key);
}

void AddCallAttributeKey(absl::string_view key, RouteKeys* keys) {
  if (key == "$method" || key == "$path") {
    keys->path = true;
  } else if (absl::StartsWith(key, kHeaderPrefix)) {
    keys->headers.insert(std::string(key.substr(kHeaderPrefix.size())));
  } else if (!absl::StartsWith(key, "$")) {
    keys->labels = true;
  }
}

RouterRegistry& RouterRegistry::Global() {
  static RouterRegistry* const registry = new RouterRegistry();
  return *registry;
}

absl::StatusOr<std::unique_ptr<RouterChain>> RouterChain::Build(const ServiceView& view,
                                                               const CallerIdentity& caller,
                                                               const GovernanceOptions& options) {
  auto chain = std::unique_ptr<RouterChain>(new RouterChain());
  chain->recover_all_ = options.recover_all;
  for (const std::string& name : options.routers) {
    absl::StatusOr<const RouterFactory*> factory = RouterRegistry::Global().Find(name);
    if (!factory.ok()) return factory.status();
    absl::StatusOr<std::unique_ptr<Router>> router = (*factory)->Build(view, caller, options);
    if (!router.ok()) return router.status();
    if (*router == nullptr) continue;
    (*router)->CollectKeys(&chain->keys_);
    chain->routers_.push_back(*std::move(router));
  }
  return chain;
}

absl::StatusOr<RouteOutcome> RouterChain::Route(const RouteState& state,
                                                const RouteRequest& request) const {
  const std::vector<Instance>& instances = state.view->instances->instances;
  RouteOutcome outcome;
  Candidates& candidates = outcome.candidates;
  candidates.reserve(instances.size());
  // Isolated and weight-0 instances never take traffic, whatever the rules.
  for (uint32_t i = 0; i < instances.size(); ++i) {
    if (!instances[i].isolate && instances[i].weight > 0) {
      candidates.push_back(Candidate{i, instances[i].weight, false});
    }
  }
  for (const auto& router : routers_) {
    absl::Status status = router->Route(state, request, &outcome);
    if (!status.ok()) return status;
  }
  // The final filter.
  Candidates available;
  available.reserve(candidates.size());
  for (const Candidate& candidate : candidates) {
    if (state.Available(candidate.index)) available.push_back(candidate);
  }
  if (!available.empty() || !recover_all_) candidates = std::move(available);
  return outcome;
}

}  // namespace grpc_cpp_polaris
