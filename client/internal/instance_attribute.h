// Carries a Polaris instance from the resolver to the LB policy, attached to
// each grpc_core::ServerAddress: the service view it belongs to (instances
// and parsed rules of one moment), its index there, and what the policy's
// routers need of the channel's governance context: the caller's identity
// and the governance options. Plain data only, never the context itself:
// the policy (and the addresses it keeps) may be destroyed on gRPC's
// executor threads, where tearing down a control-plane connection would
// deadlock. Uses gRPC internals: channel plugins only.
#ifndef GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_
#define GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "sdk/governance_options.h"
#include "sdk/model.h"
#include "sdk/service_view.h"
#include "src/core/lib/resolver/server_address.h"

namespace grpc_cpp_polaris {
namespace internal {

class InstanceAttribute final : public grpc_core::ServerAddress::AttributeInterface {
 public:
  // Attribute key; attributes are looked up by this pointer.
  static const char* const kKey;

  InstanceAttribute(ServiceViewPtr view, uint32_t index,
                    std::shared_ptr<const CallerIdentity> caller,
                    std::shared_ptr<const GovernanceOptions> governance)
      : view_(std::move(view)),
        index_(index),
        caller_(std::move(caller)),
        governance_(std::move(governance)) {}

  const Instance& instance() const { return view_->instances->instances[index_]; }
  const ServiceViewPtr& view() const { return view_; }
  uint32_t index() const { return index_; }
  const std::shared_ptr<const CallerIdentity>& caller() const { return caller_; }
  const std::shared_ptr<const GovernanceOptions>& governance() const { return governance_; }

  std::unique_ptr<AttributeInterface> Copy() const override {
    return std::make_unique<InstanceAttribute>(view_, index_, caller_, governance_);
  }
  int Cmp(const AttributeInterface* other) const override;
  std::string ToString() const override;

  // The attribute of `address`, or nullptr.
  static const InstanceAttribute* Get(const grpc_core::ServerAddress& address);

 private:
  ServiceViewPtr view_;
  uint32_t index_;
  std::shared_ptr<const CallerIdentity> caller_;
  std::shared_ptr<const GovernanceOptions> governance_;
};

}  // namespace internal
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_CLIENT_INTERNAL_INSTANCE_ATTRIBUTE_H_
