// For parser tests: one answer of the control plane, as a RuleParser reads
// it through the seam.
#ifndef GRPC_CPP_POLARIS_SDK_PARSE_FOR_TEST_H_
#define GRPC_CPP_POLARIS_SDK_PARSE_FOR_TEST_H_

#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "proto/v1/response.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/service_view.h"

namespace grpc_cpp_polaris {
namespace testing {

// `parser`'s rules (of type T) from `answer`, received as `type` for `key`.
template <typename T>
absl::StatusOr<std::shared_ptr<const T>> ParseAnswer(const RuleParser& parser, ResourceType type,
                                                     const ServiceKey& key,
                                                     v1::DiscoverResponse answer) {
  auto update = std::make_shared<ResourceUpdate>();
  update->type = type;
  update->key = key;
  update->answer = std::make_shared<v1::DiscoverResponse>(std::move(answer));
  ResourceAnswers answers;
  answers[ResourceIndex(type)] = update;
  absl::StatusOr<std::shared_ptr<const ParsedRules>> parsed = parser.Parse(key, answers);
  if (!parsed.ok()) return parsed.status();
  return std::static_pointer_cast<const T>(*parsed);
}

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_PARSE_FOR_TEST_H_
