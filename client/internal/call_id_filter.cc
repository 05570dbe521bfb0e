#include "client/internal/call_id_filter.h"

#include <new>
#include <string>

#include <grpc/impl/codegen/grpc_types.h>

#include "absl/strings/match.h"
#include "sdk/balancer/weighted_random.h"
#include "sdk/call_metadata.h"
#include "src/core/ext/filters/client_channel/client_channel.h"
#include "src/core/lib/channel/channel_stack.h"
#include "src/core/lib/channel/channel_stack_builder.h"
#include "src/core/lib/resource_quota/arena.h"
#include "src/core/lib/slice/slice.h"
#include "src/core/lib/surface/channel_init.h"
#include "src/core/lib/surface/channel_stack_type.h"
#include "src/core/lib/transport/metadata_batch.h"
#include "src/core/lib/transport/transport.h"

namespace grpc_cpp_polaris {
namespace internal {

using grpc_core::Json;

bool HasRetryPolicy(const Json& json) {
  if (json.type() != Json::Type::OBJECT) return false;
  auto method_configs = json.object_value().find("methodConfig");
  if (method_configs == json.object_value().end() ||
      method_configs->second.type() != Json::Type::ARRAY) {
    return false;
  }
  for (const Json& method_config : method_configs->second.array_value()) {
    if (method_config.type() == Json::Type::OBJECT &&
        method_config.object_value().count("retryPolicy") > 0) {
      return true;
    }
  }
  return false;
}

std::optional<uint64_t> ParseCallId(absl::string_view value) {
  if (value.size() != 16) return std::nullopt;
  uint64_t id = 0;
  for (char c : value) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    id = id << 4 | static_cast<uint64_t>(digit);
  }
  return id;
}

uint64_t AttemptRandom(uint64_t id, uint32_t attempt, uint32_t draw) {
  // splitmix64's finalizer over the three.
  uint64_t x = id ^ (uint64_t{attempt} << 32 | draw) * 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

namespace {

struct CallData {
  grpc_core::Arena* arena;
};

void StartTransportStreamOpBatch(grpc_call_element* elem,
                                 grpc_transport_stream_op_batch* batch) {
  if (batch->send_initial_metadata) {
    grpc_metadata_batch* metadata = batch->payload->send_initial_metadata.send_initial_metadata;
    // The value lives in the call's arena, as long as the call.
    char* value = static_cast<char*>(static_cast<CallData*>(elem->call_data)->arena->Alloc(16));
    uint64_t id = FastRandom();
    for (int i = 15; i >= 0; --i, id >>= 4) value[i] = "0123456789abcdef"[id & 15];
    metadata->Append(kCallIdMetadataKey,
                     grpc_core::Slice(grpc_slice_from_static_buffer(value, 16)),
                     [](absl::string_view, const grpc_core::Slice&) {});
  }
  grpc_call_next_op(elem, batch);
}

grpc_error_handle InitCallElem(grpc_call_element* elem, const grpc_call_element_args* args) {
  new (elem->call_data) CallData{args->arena};
  return absl::OkStatus();
}

void DestroyCallElem(grpc_call_element*, const grpc_call_final_info*, grpc_closure*) {}

grpc_error_handle InitChannelElem(grpc_channel_element*, grpc_channel_element_args*) {
  return absl::OkStatus();
}

// gRPC calls it for every filter (it must not be null).
void PostInitChannelElem(grpc_channel_stack*, grpc_channel_element*) {}

void DestroyChannelElem(grpc_channel_element*) {}

const grpc_channel_filter kCallIdFilter = {
    StartTransportStreamOpBatch,
    nullptr,  // make_call_promise: client channel calls use the batch API in 1.51
    grpc_channel_next_op,
    sizeof(CallData),
    InitCallElem,
    grpc_call_stack_ignore_set_pollset_or_pollset_set,
    DestroyCallElem,
    0,  // no channel data
    InitChannelElem,
    PostInitChannelElem,
    DestroyChannelElem,
    grpc_channel_next_get_info,
    "polaris_call_id",
};

// A polaris:// channel whose service config retries.
bool Wanted(const grpc_core::ChannelArgs& args) {
  const absl::optional<absl::string_view> target = args.GetString(GRPC_ARG_SERVER_URI);
  if (!target.has_value() || !absl::StartsWith(*target, "polaris:")) return false;
  const absl::optional<absl::string_view> service_config = args.GetString(GRPC_ARG_SERVICE_CONFIG);
  if (!service_config.has_value()) return false;
  absl::StatusOr<Json> json = Json::Parse(*service_config);
  return json.ok() && HasRetryPolicy(*json);
}

}  // namespace

void RegisterCallIdFilter(grpc_core::CoreConfiguration::Builder* builder) {
  builder->channel_init()->RegisterStage(
      GRPC_CLIENT_CHANNEL, GRPC_CHANNEL_INIT_BUILTIN_PRIORITY,
      [](grpc_core::ChannelStackBuilder* stack) {
        if (Wanted(stack->channel_args())) {
          NoteCallIds();  // picks look for call ids from now on
          stack->PrependFilter(&kCallIdFilter);
        }
        return true;
      });
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
