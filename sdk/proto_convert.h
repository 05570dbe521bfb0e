// Conversion between the wire messages (proto/v1) and the plain model.
#ifndef GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_
#define GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_

#include "proto/v1/response.pb.h"
#include "proto/v1/service.pb.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

// Fields the message leaves unset take the model's defaults (weight 100,
// healthy, not isolated), as a real Polaris server would report them.
Instance InstanceFromProto(const v1::Instance& proto);
void InstanceToProto(const Instance& instance, v1::Instance* proto);

// The instances of an INSTANCE-type DiscoverResponse.
ServiceSnapshotPtr SnapshotFromDiscoverResponse(const v1::DiscoverResponse& response);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_PROTO_CONVERT_H_
