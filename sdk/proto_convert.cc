#include "sdk/proto_convert.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace grpc_cpp_polaris {

Instance InstanceFromProto(const v1::Instance& proto) {
  Instance instance;
  instance.id = proto.id().value();
  instance.host = proto.host().value();
  instance.port = proto.port().value();
  if (proto.has_weight()) instance.weight = proto.weight().value();
  if (proto.has_healthy()) instance.healthy = proto.healthy().value();
  if (proto.has_isolate()) instance.isolate = proto.isolate().value();
  instance.protocol = proto.protocol().value();
  instance.version = proto.version().value();
  instance.metadata.insert(proto.metadata().begin(), proto.metadata().end());
  instance.location.region = proto.location().region().value();
  instance.location.zone = proto.location().zone().value();
  instance.location.campus = proto.location().campus().value();
  if (proto.has_ctime()) {
    instance.created = ParseInstanceTime(proto.ctime().value()).value_or(absl::InfinitePast());
  }
  return instance;
}

void InstanceToProto(const Instance& instance, v1::Instance* proto) {
  if (!instance.id.empty()) proto->mutable_id()->set_value(instance.id);
  proto->mutable_host()->set_value(instance.host);
  proto->mutable_port()->set_value(instance.port);
  proto->mutable_weight()->set_value(instance.weight);
  proto->mutable_healthy()->set_value(instance.healthy);
  proto->mutable_isolate()->set_value(instance.isolate);
  if (!instance.protocol.empty()) proto->mutable_protocol()->set_value(instance.protocol);
  if (!instance.version.empty()) proto->mutable_version()->set_value(instance.version);
  proto->mutable_metadata()->insert(instance.metadata.begin(), instance.metadata.end());
  const Location& location = instance.location;
  if (!location.region.empty() || !location.zone.empty() || !location.campus.empty()) {
    proto->mutable_location()->mutable_region()->set_value(location.region);
    proto->mutable_location()->mutable_zone()->set_value(location.zone);
    proto->mutable_location()->mutable_campus()->set_value(location.campus);
  }
  if (instance.created != absl::InfinitePast()) {
    proto->mutable_ctime()->set_value(FormatInstanceTime(instance.created));
  }
}

namespace {
constexpr char kServerTimeFormat[] = "%Y-%m-%d %H:%M:%S";
}  // namespace

std::optional<absl::Time> ParseInstanceTime(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  absl::Time time;
  std::string error;
  if (absl::ParseTime(kServerTimeFormat, text, absl::LocalTimeZone(), &time, &error) ||
      absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return time;
  }
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds > 0) return absl::FromUnixSeconds(seconds);
  return std::nullopt;
}

std::string FormatInstanceTime(absl::Time time) {
  return absl::FormatTime(kServerTimeFormat, time, absl::LocalTimeZone());
}

ServiceSnapshotPtr SnapshotFromDiscoverResponse(const v1::DiscoverResponse& response) {
  auto snapshot = std::make_shared<ServiceSnapshot>();
  snapshot->key.service_namespace = response.service().namespace_().value();
  snapshot->key.service = response.service().name().value();
  snapshot->revision = response.service().revision().value();
  snapshot->instances.reserve(response.instances_size());
  for (const v1::Instance& proto : response.instances()) {
    snapshot->instances.push_back(InstanceFromProto(proto));
  }
  return snapshot;
}

}  // namespace grpc_cpp_polaris
