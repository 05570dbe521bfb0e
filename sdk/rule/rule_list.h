// What every rule parser does with its answer: find it, and keep each rule
// that builds or set it aside with its error (logged), so that one bad rule
// never takes the others with it.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_RULE_LIST_H_
#define GRPC_CPP_POLARIS_SDK_RULE_RULE_LIST_H_

#include <string>
#include <utility>
#include <vector>

#include <grpc/support/log.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/model.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {

// The answer received as `type`, or null when there is none.
inline const v1::DiscoverResponse* AnswerOf(const ResourceAnswers& answers, ResourceType type) {
  const ResourceUpdatePtr& update = answers[ResourceIndex(type)];
  return update == nullptr ? nullptr : update->answer.get();
}

// Appends `rule` to `rules`, or, when it did not build, logs its error
// ("ignoring a `kind` rule of `key`") and appends the message to `rejected`.
template <typename Rule>
void KeepOrReject(absl::StatusOr<Rule> rule, const ServiceKey& key, absl::string_view kind,
                  std::vector<Rule>& rules, std::vector<std::string>& rejected) {
  if (!rule.ok()) {
    gpr_log(GPR_ERROR, "polaris: ignoring a %s rule of %s: %s", std::string(kind).c_str(),
            key.ToString().c_str(), rule.status().ToString().c_str());
    rejected.emplace_back(rule.status().message());
    return;
  }
  rules.push_back(*std::move(rule));
}

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_RULE_LIST_H_
