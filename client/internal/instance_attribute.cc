#include "client/internal/instance_attribute.h"

#include <tuple>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace internal {

const char* const InstanceAttribute::kKey = "grpc_cpp_polaris.instance";

int InstanceAttribute::Cmp(const AttributeInterface* other) const {
  // Different views differ, even with equal instances: the rules may not.
  const auto* that = static_cast<const InstanceAttribute*>(other);
  if (view_ != that->view_) return view_ < that->view_ ? -1 : 1;
  if (caller_ != that->caller_) return caller_ < that->caller_ ? -1 : 1;
  const Instance& a = instance();
  const Instance& b = that->instance();
  auto tie = [](const Instance& i) {
    return std::tie(i.id, i.weight, i.healthy, i.isolate, i.protocol, i.version, i.metadata,
                    i.location.region, i.location.zone, i.location.campus);
  };
  if (tie(a) < tie(b)) return -1;
  if (tie(b) < tie(a)) return 1;
  return 0;
}

std::string InstanceAttribute::ToString() const {
  return absl::StrCat("{polaris instance ", instance().id, " weight=", instance().weight, "}");
}

const InstanceAttribute* InstanceAttribute::Get(const grpc_core::ServerAddress& address) {
  return static_cast<const InstanceAttribute*>(address.GetAttribute(kKey));
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
