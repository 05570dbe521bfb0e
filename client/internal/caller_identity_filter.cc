#include "client/internal/caller_identity_filter.h"

#include <new>

#include "sdk/call_metadata.h"
#include "sdk/tsan.h"
#include "src/core/lib/channel/channel_stack.h"
#include "src/core/lib/channel/channel_stack_builder.h"
#include "src/core/lib/slice/slice.h"
#include "src/core/lib/surface/channel_init.h"
#include "src/core/lib/surface/channel_stack_type.h"
#include "src/core/lib/transport/metadata_batch.h"
#include "src/core/lib/transport/transport.h"

namespace grpc_cpp_polaris {
namespace internal {

using grpc_core::RefCountedPtr;

RefCountedPtr<CallerMetadata> CallerMetadata::For(const CallerIdentity& caller) {
  if (caller.service.service.empty()) return nullptr;
  Entries entries = {{kCallerServiceMetadataKey, caller.service.service},
                     {kCallerNamespaceMetadataKey, caller.service.service_namespace}};
  if (!caller.metadata.empty()) {
    entries.emplace_back(kCallerMetadataMetadataKey, EncodeLabels(caller.metadata));
  }
  return grpc_core::MakeRefCounted<CallerMetadata>(std::move(entries));
}

// gRPC hands the entries between its threads (channel arguments, channel
// stacks, calls) where ThreadSanitizer does not look: see sdk/tsan.h.
CallerMetadata::CallerMetadata(Entries entries) : entries_(std::move(entries)) {
  TsanRelease(this);
}

CallerMetadata::~CallerMetadata() { TsanAcquire(this); }

int CallerMetadata::ChannelArgsCompare(const CallerMetadata* a, const CallerMetadata* b) {
  if (a->entries_ < b->entries_) return -1;
  if (b->entries_ < a->entries_) return 1;
  return 0;
}

grpc_core::ChannelArgs WithCallerMetadata(const grpc_core::ChannelArgs& args,
                                          const CallerIdentity& caller) {
  RefCountedPtr<CallerMetadata> metadata = CallerMetadata::For(caller);
  return metadata == nullptr ? args.Remove(CallerMetadata::ChannelArgName())
                             : args.SetObject(std::move(metadata));
}

namespace {

struct ChannelData {
  RefCountedPtr<CallerMetadata> caller;
};

struct CallData {};

void StartTransportStreamOpBatch(grpc_call_element* elem,
                                 grpc_transport_stream_op_batch* batch) {
  if (batch->send_initial_metadata) {
    const auto* data = static_cast<const ChannelData*>(elem->channel_data);
    TsanAcquire(data);
    const CallerMetadata& caller = *data->caller;
    grpc_metadata_batch* metadata = batch->payload->send_initial_metadata.send_initial_metadata;
    std::string buffer;
    for (const auto& [key, value] : caller.entries()) {
      if (metadata->GetStringValue(key, &buffer).has_value()) continue;  // the application's
      // Short values (up to 23 bytes) are copied inline, without allocating.
      metadata->Append(key, grpc_core::Slice::FromCopiedString(value),
                       [](absl::string_view, const grpc_core::Slice&) {});
    }
    TsanRelease(&caller);
    TsanRelease(data);
  }
  grpc_call_next_op(elem, batch);
}

grpc_error_handle InitCallElem(grpc_call_element* elem, const grpc_call_element_args*) {
  new (elem->call_data) CallData();
  return absl::OkStatus();
}

void DestroyCallElem(grpc_call_element*, const grpc_call_final_info*, grpc_closure*) {}

grpc_error_handle InitChannelElem(grpc_channel_element* elem, grpc_channel_element_args* args) {
  auto* data = new (elem->channel_data) ChannelData();
  data->caller =
      grpc_core::ChannelArgs::FromC(args->channel_args).GetObjectRef<CallerMetadata>();
  if (data->caller == nullptr) {
    return absl::InternalError("polaris caller identity filter without its channel argument");
  }
  TsanAcquire(data->caller.get());
  TsanRelease(data);
  return absl::OkStatus();
}

// gRPC calls it for every filter (it must not be null).
void PostInitChannelElem(grpc_channel_stack*, grpc_channel_element*) {}

void DestroyChannelElem(grpc_channel_element* elem) {
  auto* data = static_cast<ChannelData*>(elem->channel_data);
  TsanAcquire(data);
  data->~ChannelData();
}

const grpc_channel_filter kCallerIdentityFilter = {
    StartTransportStreamOpBatch,
    nullptr,  // make_call_promise: subchannel calls use the batch API in 1.51
    grpc_channel_next_op,
    sizeof(CallData),
    InitCallElem,
    grpc_call_stack_ignore_set_pollset_or_pollset_set,
    DestroyCallElem,
    sizeof(ChannelData),
    InitChannelElem,
    PostInitChannelElem,
    DestroyChannelElem,
    grpc_channel_next_get_info,
    "polaris_caller_identity",
};

}  // namespace

void RegisterCallerIdentityFilter(grpc_core::CoreConfiguration::Builder* builder) {
  builder->channel_init()->RegisterStage(
      GRPC_CLIENT_SUBCHANNEL, GRPC_CHANNEL_INIT_BUILTIN_PRIORITY,
      [](grpc_core::ChannelStackBuilder* stack) {
        if (stack->channel_args().GetObject<CallerMetadata>() != nullptr) {
          stack->PrependFilter(&kCallerIdentityFilter);
        }
        return true;
      });
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
