// Carries a Polaris instance from the resolver to the LB policy, attached to
// each grpc_core::ServerAddress. Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_

#include <memory>
#include <string>

#include "sdk/model.h"
#include "src/core/lib/resolver/server_address.h"

namespace grpc_cpp_polaris {
namespace internal {

class InstanceAttribute final : public grpc_core::ServerAddress::AttributeInterface {
 public:
  // Attribute key; attributes are looked up by this pointer.
  static const char* const kKey;

  // `instance` points into `snapshot`, which keeps it alive.
  InstanceAttribute(ServiceSnapshotPtr snapshot, const Instance* instance)
      : snapshot_(std::move(snapshot)), instance_(instance) {}

  const Instance& instance() const { return *instance_; }

  std::unique_ptr<AttributeInterface> Copy() const override {
    return std::make_unique<InstanceAttribute>(snapshot_, instance_);
  }
  int Cmp(const AttributeInterface* other) const override;
  std::string ToString() const override;

  // The instance attached to `address`, or nullptr.
  static const Instance* Get(const grpc_core::ServerAddress& address);

 private:
  ServiceSnapshotPtr snapshot_;
  const Instance* instance_;
};

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_
