// Sends the caller's identity on every call of a polaris:// channel: its
// service name, namespace and metadata, under the keys of sdk/call_metadata.h,
// for the callee's governance (rate limits, access rules and routing by
// caller service, namespace or metadata).
//
// The resolver puts a CallerMetadata (the entries, made once per identity)
// in the channel arguments it reports; gRPC passes them on to the
// subchannels, and the subchannel filter registered here, present only on
// subchannels that carry the argument, appends the entries to each call's
// initial metadata after the pick (so routing lookups don't scan them). A
// key the application set itself on the call is left as it is. Uses gRPC
// internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALLER_IDENTITY_FILTER_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALLER_IDENTITY_FILTER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "sdk/governance_options.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/config/core_configuration.h"
#include "src/core/lib/gprpp/ref_counted.h"
#include "src/core/lib/gprpp/ref_counted_ptr.h"

namespace grpc_cpp_polaris {
namespace internal {

class CallerMetadata final : public grpc_core::RefCounted<CallerMetadata> {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;

  // The entries for `caller`, or null when it names no service (a process
  // that is not a Polaris service sends nothing).
  static grpc_core::RefCountedPtr<CallerMetadata> For(const CallerIdentity& caller);

  explicit CallerMetadata(Entries entries);
  ~CallerMetadata();
  const Entries& entries() const { return entries_; }

  // Channel argument plumbing: equal identities compare equal, so channels
  // of one process still share subchannels.
  static absl::string_view ChannelArgName() { return "grpc_cpp_polaris.caller_metadata"; }
  static int ChannelArgsCompare(const CallerMetadata* a, const CallerMetadata* b);

 private:
  const Entries entries_;
};

// Adds `caller`'s metadata (if any) to `args`.
grpc_core::ChannelArgs WithCallerMetadata(const grpc_core::ChannelArgs& args,
                                          const CallerIdentity& caller);

void RegisterCallerIdentityFilter(grpc_core::CoreConfiguration::Builder* builder);

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_CALLER_IDENTITY_FILTER_H_
