// Retries that go elsewhere. gRPC 1.51 retries a call by picking again, and
// the picker sees nothing of the earlier attempts but their number
// (grpc-previous-rpc-attempts), so a retry lands on the instance that just
// failed as often as chance has it.
//
// On polaris:// channels whose service config has a retry policy, this
// filter (at the top of the channel, above gRPC's retry code) gives each
// call a random id in its initial metadata (kCallIdMetadataKey, 16 hex
// digits), which gRPC replays on every attempt. The picker then draws each
// attempt's instance from (id, attempt number) instead of at random: a
// retry replays the earlier attempts' draws and avoids the instances they
// chose whenever another candidate exists. The id also reaches the server,
// where it tells the attempts of one call apart from other calls (an
// idempotency key).
//
// Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALL_ID_FILTER_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALL_ID_FILTER_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"
#include "src/core/lib/config/core_configuration.h"
#include "src/core/lib/json/json.h"

namespace grpc_cpp_polaris {
namespace internal {

// Whether a method config of the service config `json` has a retryPolicy.
bool HasRetryPolicy(const grpc_core::Json& json);

// The id in a call's kCallIdMetadataKey value (16 lowercase hex digits), or
// nothing when it is not one.
std::optional<uint64_t> ParseCallId(absl::string_view value);

// The value drawn for attempt `attempt` of call `id` (`draw` > 0: a
// redraw), uniform over 64 bits.
uint64_t AttemptRandom(uint64_t id, uint32_t attempt, uint32_t draw = 0);

void RegisterCallIdFilter(grpc_core::CoreConfiguration::Builder* builder);

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALL_ID_FILTER_H_
