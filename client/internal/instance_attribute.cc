#include "client/internal/instance_attribute.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace internal {

const char* const InstanceAttribute::kKey = "grpc_cpp_polaris.instance";

int InstanceAttribute::Cmp(const AttributeInterface* other) const {
  const Instance& a = *instance_;
  const Instance& b = static_cast<const InstanceAttribute*>(other)->instance();
  auto tie = [](const Instance& i) {
    return std::tie(i.id, i.weight, i.healthy, i.isolate, i.protocol, i.version, i.metadata,
                    i.location.region, i.location.zone, i.location.campus);
  };
  if (tie(a) < tie(b)) return -1;
  if (tie(b) < tie(a)) return 1;
  return 0;
}

std::string InstanceAttribute::ToString() const {
  return absl::StrCat("{polaris instance ", instance_->id, " weight=", instance_->weight, "}");
}

const Instance* InstanceAttribute::Get(const grpc_core::ServerAddress& address) {
  const auto* attribute =
      static_cast<const InstanceAttribute*>(address.GetAttribute(kKey));
  return attribute == nullptr ? nullptr : &attribute->instance();
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
