#include "mockplane/naming_registry.h"

#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "mockplane/wire_codes.h"
#include "proto/v1/code.pb.h"
#include "sdk/proto_convert.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::Response Fail(v1::Code code, const std::string& info, const v1::Instance& request) {
  v1::Response response = WithCode<v1::Response>(code, info);
  *response.mutable_instance() = request;
  return response;
}

ServiceKey KeyOf(const v1::Instance& request) {
  return ServiceKey{request.namespace_().value(), request.service().value()};
}

// The instance id a request names: its id, or the one the real server
// derives from namespace, service, host (as sent) and port.
std::string IdOf(const v1::Instance& request) {
  return request.id().value().empty()
             ? NamingRegistry::InstanceId(KeyOf(request), request.host().value(),
                                          request.port().value())
             : request.id().value();
}

// As the real server's instance cache (fillInternalLabels): an instance's
// version, protocol and location are also served as metadata labels, which
// clients route on (polaris-cpp finds the rate-limit server by
// metadata protocol=grpc).
void AddInternalLabels(v1::Instance* proto) {
  auto& metadata = *proto->mutable_metadata();
  if (!proto->version().value().empty()) metadata["version"] = proto->version().value();
  if (!proto->protocol().value().empty()) metadata["protocol"] = proto->protocol().value();
  if (proto->has_location()) {
    metadata["region"] = proto->location().region().value();
    metadata["zone"] = proto->location().zone().value();
    metadata["campus"] = proto->location().campus().value();
  }
}

}  // namespace

void NamingRegistry::RecordToProto(const ServiceKey& key, const InstanceRecord& record,
                                   v1::Instance* proto) {
  InstanceToProto(record.instance, proto);
  proto->MergeFrom(record.extra);
  proto->mutable_service()->set_value(key.service);
  proto->mutable_namespace_()->set_value(key.service_namespace);
}

NamingRegistry::NamingRegistry(Clock* clock, NamingLimits limits)
    : clock_(clock), limits_(limits) {}

void NamingRegistry::SetChangeListener(ChangeListener listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

std::string NamingRegistry::InstanceId(const ServiceKey& key, const std::string& host,
                                       uint32_t port) {
  // Over the same fields the real server hashes (it uses SHA-1).
  return Fnv1aHex(absl::StrCat(key.service_namespace, "##", key.service, "##", host, "##", port));
}

void NamingRegistry::BumpLocked(ServiceRecord* service) {
  service->revision = revisions_.Next();
  service->full_answer.reset();
  service->healthy_answer.reset();
}

void NamingRegistry::Notify(const std::vector<ServiceKey>& changed,
                            const std::string& new_service_namespace) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (!listener_) return;
  for (const ServiceKey& key : changed) listener_(v1::DiscoverRequest::INSTANCE, key);
  if (!new_service_namespace.empty()) {
    listener_(v1::DiscoverRequest::SERVICES, ServiceKey{new_service_namespace, ""});
    listener_(v1::DiscoverRequest::NAMESPACES, ServiceKey{"", ""});
  }
}

// Validation as the real server's paramcheck does it (checkCreateInstance,
// CheckDbInstanceFieldLen, CheckInstanceTetrad, checkMetadata), in its order.
std::optional<v1::Response> NamingRegistry::CheckNewInstance(const v1::Instance& request) const {
  auto fail = [&](v1::Code code, const std::string& info) {
    return std::optional<v1::Response>(Fail(code, info, request));
  };
  if (request.metadata_size() > kMaxMetadataEntries) {
    return fail(v1::InvalidMetadata, "at most 64 metadata entries");
  }
  const ServiceKey key = KeyOf(request);
  if (key.service.size() > kMaxServiceNameLength) {
    return fail(v1::InvalidServiceName, "service is longer than 128");
  }
  if (key.service_namespace.size() > kMaxNamespaceNameLength) {
    return fail(v1::InvalidNamespaceName, "namespace is longer than 64");
  }
  if (request.host().value().size() > kMaxHostLength) {
    return fail(v1::InvalidInstanceHost, "host is longer than 128");
  }
  if (request.protocol().value().size() > kMaxProtocolLength) {
    return fail(v1::InvalidInstanceProtocol, "protocol is longer than 32");
  }
  if (request.version().value().size() > kMaxVersionLength) {
    return fail(v1::InvalidInstanceVersion, "version is longer than 32");
  }
  for (const auto& [name, value] : request.metadata()) {
    if (name.size() > limits_.max_metadata_key_length ||
        value.size() > limits_.max_metadata_value_length) {
      return fail(v1::InvalidMetadata,
                  absl::StrCat("metadata key over ", limits_.max_metadata_key_length,
                               " or value over ", limits_.max_metadata_value_length,
                               " bytes: ", name.substr(0, 64)));
    }
  }
  if (request.port().value() > 65535) return fail(v1::InvalidInstancePort, "port exceeds 65535");
  if (request.weight().value() > kMaxWeight) {
    return fail(v1::InvalidParameter, "weight exceeds 65535");
  }
  if (!ValidResourceName(key.service)) {
    return fail(v1::InvalidServiceName, "service is required and must match [0-9A-Za-z-./:_]+");
  }
  if (!ValidResourceName(key.service_namespace)) {
    return fail(v1::InvalidNamespaceName,
                "namespace is required and must match [0-9A-Za-z-./:_]+");
  }
  if (request.host().value().empty()) return fail(v1::InvalidInstanceHost, "host is required");
  if (!request.has_port()) return fail(v1::InvalidInstancePort, "port is required");
  return std::nullopt;
}

bool NamingRegistry::ValidResourceName(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '.' || c == '/' || c == ':' || c == '_';
    if (!ok) return false;
  }
  return true;
}

v1::Response NamingRegistry::Register(const v1::Instance& request) {
  if (std::optional<v1::Response> bad = CheckNewInstance(request)) return *bad;
  const ServiceKey key = KeyOf(request);
  // As CreateInstanceModel: health checking is on when a heartbeat config is
  // present and enable_health_check is not explicitly false; a TTL outside
  // (0, 60] becomes the default; healthy, isolate and weight default to
  // true, false and 100; the host is stored trimmed (the id is computed
  // from the host as sent).
  uint32_t ttl = 0;
  if (request.health_check().has_heartbeat() &&
      (!request.has_enable_health_check() || request.enable_health_check().value())) {
    ttl = request.health_check().heartbeat().ttl().value();
    if (ttl == 0 || ttl > kMaxTtlSeconds) ttl = kDefaultTtlSeconds;
  }
  InstanceRecord record;
  record.instance = InstanceFromProto(request);
  record.instance.host = std::string(absl::StripAsciiWhitespace(request.host().value()));
  record.instance.id = IdOf(request);
  record.instance.weight = request.has_weight() ? request.weight().value() : 100;
  record.instance.healthy = request.has_healthy() ? request.healthy().value() : true;
  record.instance.isolate = request.isolate().value();
  if (request.has_priority()) *record.extra.mutable_priority() = request.priority();
  if (request.has_logic_set()) *record.extra.mutable_logic_set() = request.logic_set();
  if (request.has_vpc_id()) *record.extra.mutable_vpc_id() = request.vpc_id();
  if (request.has_enable_health_check()) {
    *record.extra.mutable_enable_health_check() = request.enable_health_check();
  }
  if (request.has_health_check()) *record.extra.mutable_health_check() = request.health_check();
  record.ttl_seconds = ttl;
  record.last_heartbeat = clock_->Now();
  // ctime, as the server's `replace into instance` sets it: again on every
  // registration (whole seconds, in the server's local time).
  record.instance.created = absl::FromUnixSeconds(absl::ToUnixSeconds(record.last_heartbeat));
  v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
  std::string new_service_namespace;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto existing_service = services_.find(key);
    if (existing_service == services_.end()) {
      size_t in_namespace = 0;
      for (const auto& entry : services_) {
        if (entry.first.service_namespace == key.service_namespace) ++in_namespace;
      }
      if (in_namespace >= limits_.max_services_per_namespace) {
        return Fail(v1::MaximumCapacityExceeded,
                    absl::StrCat("namespace ", key.service_namespace, " already has ",
                                 in_namespace, " services (the mock's limit)"),
                    request);
      }
      new_service_namespace = key.service_namespace;
      if (namespace_revisions_.count(key.service_namespace) == 0) {
        namespaces_revision_ = revisions_.Next();
      }
      namespace_revisions_[key.service_namespace] = revisions_.Next();
    }
    ServiceRecord& service = services_[key];
    auto existing = service.instances.find(record.instance.id);
    if (existing == service.instances.end()) {
      if (service.instances.size() >= limits_.max_instances_per_service) {
        if (service.instances.empty()) services_.erase(key);
        return Fail(v1::MaximumCapacityExceeded,
                    absl::StrCat("service ", key.ToString(), " already has ",
                                 limits_.max_instances_per_service,
                                 " instances (the mock's limit)"),
                    request);
      }
    } else if (!request.has_isolate()) {
      // Registering again replaces the instance, but an operator's isolation
      // survives unless the request sets it.
      record.instance.isolate = existing->second.instance.isolate;
    }
    unknown_heartbeats_.erase(record.instance.id);
    service.instances[record.instance.id] = record;
    BumpLocked(&service);
    RecordToProto(key, record, response.mutable_instance());
  }
  Notify({key}, new_service_namespace);
  return response;
}

NamingRegistry::InstanceRecord* NamingRegistry::FindLocked(const v1::Instance& request,
                                                           ServiceKey* found_key,
                                                           ServiceRecord** found_service) {
  const ServiceKey key = KeyOf(request);
  const std::string id = IdOf(request);
  for (auto& service : services_) {
    // Without a service name, the id alone names the instance.
    if (!key.service.empty() && !(service.first == key)) continue;
    auto it = service.second.instances.find(id);
    if (it == service.second.instances.end()) continue;
    *found_key = service.first;
    *found_service = &service.second;
    return &it->second;
  }
  return nullptr;
}

v1::Response NamingRegistry::Deregister(const v1::Instance& request) {
  if (request.id().value().empty() &&
      (request.service().value().empty() || request.host().value().empty() ||
       request.port().value() == 0)) {
    return Fail(v1::InvalidInstanceID, "id, or service + namespace + host + port, is required",
                request);
  }
  ServiceKey changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ServiceRecord* service = nullptr;
    InstanceRecord* record = FindLocked(request, &changed, &service);
    if (record == nullptr) {
      // As the real server: what is not there is deregistered already.
      v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
      *response.mutable_instance() = request;
      return response;
    }
    service->instances.erase(record->instance.id);
    BumpLocked(service);
  }
  Notify({changed});
  v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
  *response.mutable_instance() = request;
  return response;
}

v1::Response NamingRegistry::Heartbeat(const v1::Instance& request) {
  if (request.id().value().empty() &&
      (request.service().value().empty() || request.host().value().empty() ||
       request.port().value() == 0)) {
    return Fail(v1::InvalidInstanceID, "id, or service + namespace + host + port, is required",
                request);
  }
  std::vector<ServiceKey> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ServiceKey key;
    ServiceRecord* service = nullptr;
    InstanceRecord* record = FindLocked(request, &key, &service);
    if (record == nullptr) {
      // The real server answers the first heartbeats of an instance it does
      // not know with success (it may be registering asynchronously), and
      // NotFoundResource once more than kUnknownHeartbeatGrace came.
      const std::string id = IdOf(request);
      if (unknown_heartbeats_.size() >= kMaxUnknownHeartbeatRecords &&
          unknown_heartbeats_.count(id) == 0) {
        unknown_heartbeats_.clear();  // bounded: forget them all
      }
      if (++unknown_heartbeats_[id] > kUnknownHeartbeatGrace) {
        return Fail(v1::NotFoundResource, "no such instance", request);
      }
      v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
      *response.mutable_instance() = request;
      return response;
    }
    // Heartbeats of an instance without health checking are accepted and
    // change nothing.
    record->last_heartbeat = clock_->Now();
    ++record->heartbeats;
    if (record->ttl_seconds > 0 && !record->instance.healthy) {
      record->instance.healthy = true;
      BumpLocked(service);
      changed.push_back(key);
    }
  }
  Notify(changed);
  v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
  *response.mutable_instance() = request;
  return response;
}

v1::Response NamingRegistry::ReportClient(const v1::Client& request) {
  if (request.host().value().empty()) {
    v1::Response response = WithCode<v1::Response>(v1::InvalidParameter, "host is required");
    *response.mutable_client() = request;
    return response;
  }
  v1::Response response = WithCode<v1::Response>(v1::ExecuteSuccess, "");
  *response.mutable_client() = request;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = client_locations_.find(request.host().value());
  if (it != client_locations_.end()) {
    v1::Location* location = response.mutable_client()->mutable_location();
    location->mutable_region()->set_value(it->second.region);
    location->mutable_zone()->set_value(it->second.zone);
    location->mutable_campus()->set_value(it->second.campus);
  }
  return response;
}

NamingRegistry::DiscoverResponsePtr NamingRegistry::Discover(
    const v1::DiscoverRequest& request) {
  const ServiceKey key{request.service().namespace_().value(), request.service().name().value()};
  auto fail = [&](v1::Code code, const std::string& info) {
    auto response = std::make_shared<v1::DiscoverResponse>(WithCode<v1::DiscoverResponse>(code, info));
    response->set_type(static_cast<v1::DiscoverResponse::DiscoverResponseType>(request.type()));
    *response->mutable_service() = request.service();
    return response;
  };
  if (request.type() == v1::DiscoverRequest::SERVICES) return DiscoverServices(request);
  if (request.type() == v1::DiscoverRequest::NAMESPACES) return DiscoverNamespaces(request);
  if (request.type() != v1::DiscoverRequest::INSTANCE) {
    return fail(v1::InvalidDiscoverResource,
                "not a naming resource (INSTANCE, SERVICES, NAMESPACES)");
  }
  if (key.service.empty()) return fail(v1::InvalidServiceName, "service.name is required");
  if (key.service_namespace.empty()) {
    return fail(v1::InvalidNamespaceName, "service.namespace is required");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(key);
  if (it == services_.end()) return fail(v1::NotFoundResource, "service not found");
  ServiceRecord& service = it->second;
  auto header = [&](v1::Code code) {
    v1::DiscoverResponse response = WithCode<v1::DiscoverResponse>(code, "");
    response.set_type(v1::DiscoverResponse::INSTANCE);
    response.mutable_service()->mutable_name()->set_value(key.service);
    response.mutable_service()->mutable_namespace_()->set_value(key.service_namespace);
    response.mutable_service()->mutable_revision()->set_value(service.revision);
    return response;
  };
  if (request.service().revision().value() == service.revision) {
    return std::make_shared<v1::DiscoverResponse>(header(v1::DataNoChange));
  }
  // Full answers are built once per revision and shared by every stream.
  const bool only_healthy = request.filter().onlyhealthyinstance();
  DiscoverResponsePtr& cached = only_healthy ? service.healthy_answer : service.full_answer;
  if (cached == nullptr) {
    auto response = std::make_shared<v1::DiscoverResponse>(header(v1::ExecuteSuccess));
    response->mutable_instances()->Reserve(static_cast<int>(service.instances.size()));
    for (const auto& entry : service.instances) {
      const Instance& instance = entry.second.instance;
      if (only_healthy && !instance.healthy) continue;
      v1::Instance* proto = response->add_instances();
      RecordToProto(key, entry.second, proto);
      AddInternalLabels(proto);
    }
    cached = std::move(response);
  }
  return cached;
}

NamingRegistry::DiscoverResponsePtr NamingRegistry::DiscoverServices(
    const v1::DiscoverRequest& request) {
  const std::string& name_space = request.service().namespace_().value();
  auto response = std::make_shared<v1::DiscoverResponse>();
  response->set_type(v1::DiscoverResponse::SERVICES);
  response->mutable_service()->mutable_namespace_()->set_value(name_space);
  std::lock_guard<std::mutex> lock(mu_);
  auto revision = namespace_revisions_.find(name_space);
  const std::string current = revision == namespace_revisions_.end() ? "" : revision->second;
  response->mutable_service()->mutable_revision()->set_value(current);
  const bool unchanged = !current.empty() && request.service().revision().value() == current;
  SetCode(response.get(), unchanged ? v1::DataNoChange : v1::ExecuteSuccess);
  if (unchanged) return response;
  // An empty namespace in the request lists every namespace's services.
  for (const auto& entry : services_) {
    if (!name_space.empty() && entry.first.service_namespace != name_space) continue;
    v1::Service* service = response->add_services();
    service->mutable_name()->set_value(entry.first.service);
    service->mutable_namespace_()->set_value(entry.first.service_namespace);
    service->mutable_revision()->set_value(entry.second.revision);
    service->mutable_total_instance_count()->set_value(
        static_cast<uint32_t>(entry.second.instances.size()));
  }
  return response;
}

NamingRegistry::DiscoverResponsePtr NamingRegistry::DiscoverNamespaces(
    const v1::DiscoverRequest& request) {
  auto response = std::make_shared<v1::DiscoverResponse>();
  response->set_type(v1::DiscoverResponse::NAMESPACES);
  std::lock_guard<std::mutex> lock(mu_);
  response->mutable_service()->mutable_revision()->set_value(namespaces_revision_);
  const bool unchanged =
      !namespaces_revision_.empty() && request.service().revision().value() == namespaces_revision_;
  SetCode(response.get(), unchanged ? v1::DataNoChange : v1::ExecuteSuccess);
  if (unchanged) return response;
  // "default" always exists, as on a real server.
  std::map<std::string, uint32_t> service_counts = {{kDefaultNamespace, 0}};
  for (const auto& entry : services_) ++service_counts[entry.first.service_namespace];
  for (const auto& [name, count] : service_counts) {
    v1::Namespace* out = response->add_namespaces();
    out->mutable_name()->set_value(name);
    out->mutable_total_service_count()->set_value(count);
  }
  return response;
}

void NamingRegistry::CheckHealth() {
  std::vector<ServiceKey> changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = clock_->Now();
    for (auto& service : services_) {
      bool bumped = false;
      for (auto& entry : service.second.instances) {
        InstanceRecord& record = entry.second;
        if (record.ttl_seconds == 0 || !record.instance.healthy) continue;
        if (now - record.last_heartbeat >
            absl::Seconds(kTtlsBeforeUnhealthy * record.ttl_seconds)) {
          record.instance.healthy = false;
          bumped = true;
        }
      }
      if (bumped) {
        BumpLocked(&service.second);
        changed.push_back(service.first);
      }
    }
  }
  Notify(changed);
}

bool NamingRegistry::UpdateInstance(const ServiceKey& key, const std::string& id,
                                    const std::function<void(Instance&)>& update) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto service = services_.find(key);
    if (service == services_.end()) return false;
    auto it = service->second.instances.find(id);
    if (it == service->second.instances.end()) return false;
    update(it->second.instance);
    BumpLocked(&service->second);
  }
  Notify({key});
  return true;
}

bool NamingRegistry::SetIsolate(const ServiceKey& key, const std::string& id, bool isolate) {
  return UpdateInstance(key, id, [isolate](Instance& instance) { instance.isolate = isolate; });
}

bool NamingRegistry::SetWeight(const ServiceKey& key, const std::string& id, uint32_t weight) {
  if (weight > kMaxWeight) return false;
  return UpdateInstance(key, id, [weight](Instance& instance) { instance.weight = weight; });
}

void NamingRegistry::SetClientLocation(const std::string& host, const Location& location) {
  std::lock_guard<std::mutex> lock(mu_);
  client_locations_[host] = location;
}

std::vector<Instance> NamingRegistry::Instances(const ServiceKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Instance> result;
  auto it = services_.find(key);
  if (it == services_.end()) return result;
  for (const auto& entry : it->second.instances) result.push_back(entry.second.instance);
  return result;
}

uint64_t NamingRegistry::HeartbeatCount(const ServiceKey& key, const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto service = services_.find(key);
  if (service == services_.end()) return 0;
  auto it = service->second.instances.find(id);
  return it == service->second.instances.end() ? 0 : it->second.heartbeats;
}

std::string NamingRegistry::Revision(const ServiceKey& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(key);
  return it == services_.end() ? std::string() : it->second.revision;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
