// Conversion between the wire messages (proto/v1) and the plain model.
#ifndef GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_
#define GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/v1/response.pb.h"
#include "proto/v1/service.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

// Fields the message leaves unset take the model's defaults (weight 100,
// healthy, not isolated), as a real Polaris server would report them.
Instance InstanceFromProto(const v1::Instance& proto);
void InstanceToProto(const Instance& instance, v1::Instance* proto);

// An instance's ctime as a real Polaris server writes it
// ("2006-01-02 15:04:05", the server's local time, which this reads as the
// local time zone's), or as RFC 3339, or as seconds since the Unix epoch;
// nullopt for anything else (then the instance's age is unknown).
std::optional<absl::Time> ParseInstanceTime(absl::string_view text);
// The server's format, in the local time zone.
std::string FormatInstanceTime(absl::Time time);

// The instances of an INSTANCE-type DiscoverResponse.
ServiceSnapshotPtr SnapshotFromDiscoverResponse(const v1::DiscoverResponse& response);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_
