#include "sdk/router/metadata_router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace grpc_cpp_polaris {
namespace {

bool HasAll(const Instance& instance, const std::map<std::string, std::string>& wanted) {
  for (const auto& [key, value] : wanted) {
    auto it = instance.metadata.find(key);
    if (it == instance.metadata.end() || it->second != value) return false;
  }
  return true;
}

class MetadataRouter final : public Router {
 public:
  MetadataRouter(ServiceKey callee, MetadataRouterOptions options)
      : callee_(std::move(callee)), options_(std::move(options)) {}

  absl::string_view name() const override { return "metadata"; }
  void CollectKeys(RouteKeys* keys) const override { keys->destination_metadata = true; }

  absl::Status Route(const RouteState& state, const RouteRequest& request,
                     RouteOutcome* outcome) const override {
    Candidates* candidates = &outcome->candidates;
    const std::map<std::string, std::string>& wanted = request.destination_metadata;
    if (wanted.empty()) return absl::OkStatus();
    Candidates matched = Select(state, *candidates, [&](const Instance& instance) {
      return HasAll(instance, wanted);
    });
    if (!matched.empty()) {
      *candidates = std::move(matched);
      return absl::OkStatus();
    }
    Candidates failover;
    switch (options_.failover) {
      case MetadataRouterOptions::Failover::kAll:
        return absl::OkStatus();
      case MetadataRouterOptions::Failover::kNotKey:
        failover = Select(state, *candidates, [&](const Instance& instance) {
          for (const auto& entry : wanted) {
            if (instance.metadata.count(entry.first) == 0) return true;
          }
          return false;
        });
        break;
      case MetadataRouterOptions::Failover::kCustom:
        failover = Select(state, *candidates, [&](const Instance& instance) {
          return HasAll(instance, options_.failover_metadata);
        });
        break;
      case MetadataRouterOptions::Failover::kNone:
        break;
    }
    if (failover.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "polaris: no instance of ", callee_.ToString(), " has metadata {",
          absl::StrJoin(wanted, ", ", absl::PairFormatter("=")), "}"));
    }
    *candidates = std::move(failover);
    return absl::OkStatus();
  }

 private:
  template <typename Predicate>
  static Candidates Select(const RouteState& state, const Candidates& candidates,
                           Predicate predicate) {
    Candidates selected;
    for (const Candidate& candidate : candidates) {
      if (predicate(state.instance(candidate.index))) selected.push_back(candidate);
    }
    return selected;
  }

  const ServiceKey callee_;
  const MetadataRouterOptions options_;
};

class MetadataRouterFactory final : public RouterFactory {
 public:
  absl::string_view name() const override { return "metadata"; }
  absl::StatusOr<std::unique_ptr<Router>> Build(const ServiceView& view,
                                                const CallerIdentity& /*caller*/,
                                                const GovernanceOptions& options) const override {
    return std::make_unique<MetadataRouter>(view.key, options.metadata);
  }
};

}  // namespace

std::unique_ptr<RouterFactory> MakeMetadataRouterFactory() {
  return std::make_unique<MetadataRouterFactory>();
}

}  // namespace grpc_cpp_polaris
