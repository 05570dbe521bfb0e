#include "sdk/control_plane_client.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"
#include "sdk/proto_convert.h"

namespace grpc_cpp_polaris {

struct ControlPlaneClient::Stub {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::PolarisGRPC::Stub> naming;
};

// The Discover stream currently open, shared by the reader and the writer.
struct ControlPlaneClient::OpenStream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::DiscoverRequest, v1::DiscoverResponse>> rpc;
};

absl::Status StatusFromPolarisCode(uint32_t code, const std::string& info,
                                   const std::string& context) {
  if (code == v1::ExecuteSuccess || code == v1::DataNoChange || code == v1::NoNeedUpdate) {
    return absl::OkStatus();
  }
  std::string message = absl::StrCat(context, ": Polaris code ", code,
                                     info.empty() ? "" : absl::StrCat(" (", info, ")"));
  switch (code) {
    case v1::NotFoundResource:
    case v1::NotFoundService:
    case v1::NotFoundInstance:
    case v1::NotFoundNamespace:
      return absl::NotFoundError(message);
    case v1::ExistedResource:
      return absl::AlreadyExistsError(message);
    default:
      break;
  }
  if (code >= 400000 && code < 500000) return absl::InvalidArgumentError(message);
  return absl::UnavailableError(message);
}

namespace {

absl::Status FromGrpcStatus(const grpc::Status& status, const std::string& context) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(context, ": ", status.error_message()));
}

void FillRef(const InstanceRef& ref, v1::Instance* proto) {
  proto->mutable_service()->set_value(ref.key.service);
  proto->mutable_namespace_()->set_value(ref.key.service_namespace);
  if (!ref.id.empty()) proto->mutable_id()->set_value(ref.id);
  proto->mutable_host()->set_value(ref.host);
  proto->mutable_port()->set_value(ref.port);
  if (!ref.service_token.empty()) proto->mutable_service_token()->set_value(ref.service_token);
}

v1::DiscoverRequest InstanceRequest(const ServiceKey& key, const std::string& revision) {
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value(key.service);
  request.mutable_service()->mutable_namespace_()->set_value(key.service_namespace);
  if (!revision.empty()) request.mutable_service()->mutable_revision()->set_value(revision);
  return request;
}

// One unary naming call with the client's deadline. Returns the response
// when both the gRPC status and the Polaris code say success, or when the
// code is one of `also_ok`.
template <typename Request, typename Rpc>
absl::StatusOr<v1::Response> CallNaming(const Rpc& rpc, const Request& request,
                                        absl::Duration timeout, const std::string& what,
                                        uint32_t also_ok = v1::ExecuteSuccess) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::Response response;
  grpc::Status status = rpc(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status, what);
  const uint32_t code = response.code().value();
  if (code != also_ok) {
    absl::Status result = StatusFromPolarisCode(code, response.info().value(), what);
    if (!result.ok()) return result;
  }
  return response;
}

}  // namespace

ControlPlaneClient::ControlPlaneClient(ControlPlaneOptions options)
    : options_(std::move(options)), stub_(std::make_unique<Stub>()) {
  grpc::ChannelArguments args;
  // Keep the control-plane connection from idling out between refreshes.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  stub_->channel =
      grpc::CreateCustomChannel(options_.address, grpc::InsecureChannelCredentials(), args);
  stub_->naming = v1::PolarisGRPC::NewStub(stub_->channel);
}

ControlPlaneClient::~ControlPlaneClient() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    if (stream_ != nullptr) stream_->context.TryCancel();
    if (connecting_ != nullptr) connecting_->TryCancel();
  }
  cv_.notify_all();
  if (stream_thread_.joinable()) stream_thread_.join();
  if (writer_thread_.joinable()) writer_thread_.join();
}

std::shared_ptr<ControlPlaneClient> ControlPlaneClient::Shared(const std::string& address) {
  static std::mutex* const mu = new std::mutex();
  static auto* const clients = new std::map<std::string, std::weak_ptr<ControlPlaneClient>>();
  std::lock_guard<std::mutex> lock(*mu);
  std::shared_ptr<ControlPlaneClient> client = (*clients)[address].lock();
  if (client == nullptr) {
    ControlPlaneOptions options;
    options.address = address;
    client = std::make_shared<ControlPlaneClient>(std::move(options));
    (*clients)[address] = client;
  }
  return client;
}

absl::StatusOr<std::string> ControlPlaneClient::RegisterInstance(
    const InstanceRegistration& registration) {
  v1::Instance request;
  InstanceToProto(registration.instance, &request);
  request.clear_id();
  request.clear_healthy();
  request.clear_isolate();
  request.mutable_service()->set_value(registration.key.service);
  request.mutable_namespace_()->set_value(registration.key.service_namespace);
  if (!registration.service_token.empty()) {
    request.mutable_service_token()->set_value(registration.service_token);
  }
  if (registration.ttl_seconds > 0) {
    request.mutable_enable_health_check()->set_value(true);
    request.mutable_health_check()->set_type(v1::HealthCheck::HEARTBEAT);
    request.mutable_health_check()->mutable_heartbeat()->mutable_ttl()->set_value(
        registration.ttl_seconds);
  }
  const std::string what = absl::StrCat("RegisterInstance ", registration.key.ToString(), " ",
                                        registration.instance.Address(), " at ",
                                        options_.address);
  auto rpc = [this](grpc::ClientContext* context, const v1::Instance& request,
                    v1::Response* response) {
    return stub_->naming->RegisterInstance(context, request, response);
  };
  // Registering an instance that exists already is not an error.
  absl::StatusOr<v1::Response> response =
      CallNaming(rpc, request, options_.rpc_timeout, what, v1::ExistedResource);
  if (!response.ok()) return response.status();
  if (response->instance().id().value().empty()) {
    return absl::InternalError(absl::StrCat(what, ": response carries no instance id"));
  }
  return response->instance().id().value();
}

absl::Status ControlPlaneClient::Heartbeat(const InstanceRef& instance) {
  v1::Instance request;
  FillRef(instance, &request);
  auto rpc = [this](grpc::ClientContext* context, const v1::Instance& request,
                    v1::Response* response) {
    return stub_->naming->Heartbeat(context, request, response);
  };
  return CallNaming(rpc, request, options_.rpc_timeout,
                    absl::StrCat("Heartbeat ", instance.key.ToString(), " ", instance.id))
      .status();
}

absl::Status ControlPlaneClient::DeregisterInstance(const InstanceRef& instance) {
  v1::Instance request;
  FillRef(instance, &request);
  auto rpc = [this](grpc::ClientContext* context, const v1::Instance& request,
                    v1::Response* response) {
    return stub_->naming->DeregisterInstance(context, request, response);
  };
  return CallNaming(rpc, request, options_.rpc_timeout,
                    absl::StrCat("DeregisterInstance ", instance.key.ToString(), " ", instance.id))
      .status();
}

absl::StatusOr<Location> ControlPlaneClient::ReportClient(const std::string& host) {
  v1::Client request;
  request.mutable_host()->set_value(host);
  request.set_type(v1::Client::SDK);
  request.mutable_version()->set_value("grpc-cpp-polaris");
  auto rpc = [this](grpc::ClientContext* context, const v1::Client& request,
                    v1::Response* response) {
    return stub_->naming->ReportClient(context, request, response);
  };
  absl::StatusOr<v1::Response> response =
      CallNaming(rpc, request, options_.rpc_timeout, absl::StrCat("ReportClient ", host));
  if (!response.ok()) return response.status();
  const v1::Location& proto = response->client().location();
  return Location{proto.region().value(), proto.zone().value(), proto.campus().value()};
}

ControlPlaneClient::WatchId ControlPlaneClient::Watch(const ServiceKey& key,
                                                      WatchCallback callback) {
  auto shared_callback = std::make_shared<WatchCallback>(std::move(callback));
  // Under dispatch_mu_, so that no newer snapshot can overtake the known one.
  const bool in_callback = dispatch_thread_.load() == std::this_thread::get_id();
  if (!in_callback) dispatch_mu_.lock();
  WatchId id;
  ServiceSnapshotPtr known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_watch_id_++;
    watch_keys_[id] = key;
    Subscription& subscription = subscriptions_[key];
    subscription.callbacks[id] = shared_callback;
    known = subscription.snapshot;
    if (!stream_thread_.joinable()) {
      // The Discover stream starts with the first watch: a process that only
      // registers instances never opens one.
      stream_thread_ = std::thread([this] { StreamLoop(); });
      writer_thread_ = std::thread([this] { WriterLoop(); });
    }
  }
  cv_.notify_all();  // the writer asks for the new service
  if (known != nullptr) (*shared_callback)(known);
  if (!in_callback) dispatch_mu_.unlock();
  return id;
}

void ControlPlaneClient::Unwatch(WatchId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watch_keys_.find(id);
    if (it == watch_keys_.end()) return;
    auto sub = subscriptions_.find(it->second);
    sub->second.callbacks.erase(id);
    if (sub->second.callbacks.empty()) subscriptions_.erase(sub);
    watch_keys_.erase(it);
  }
  // Wait out a callback that may be running right now.
  if (dispatch_thread_.load() != std::this_thread::get_id()) {
    std::lock_guard<std::mutex> dispatch_lock(dispatch_mu_);
  }
}

void ControlPlaneClient::Dispatch(const ServiceKey& key,
                                  const absl::StatusOr<ServiceSnapshotPtr>& result) {
  std::lock_guard<std::mutex> dispatch_lock(dispatch_mu_);
  std::vector<std::shared_ptr<WatchCallback>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = subscriptions_.find(key);
    if (it == subscriptions_.end()) return;
    for (auto& entry : it->second.callbacks) callbacks.push_back(entry.second);
  }
  dispatch_thread_.store(std::this_thread::get_id());
  for (auto& callback : callbacks) (*callback)(result);
  dispatch_thread_.store(std::thread::id());
}

void ControlPlaneClient::HandleResponse(const v1::DiscoverResponse& response) {
  if (response.type() != v1::DiscoverResponse::INSTANCE) return;
  const uint32_t code = response.code().value();
  if (code == v1::DataNoChange) return;
  ServiceKey key{response.service().namespace_().value(), response.service().name().value()};
  absl::Status status = StatusFromPolarisCode(
      code, response.info().value(), absl::StrCat("Discover ", key.ToString()));
  if (!status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = subscriptions_.find(key);
      // Keep the last good snapshot: errors only reach watchers that have none.
      if (it == subscriptions_.end() || it->second.snapshot != nullptr) return;
    }
    Dispatch(key, status);
    return;
  }
  ServiceSnapshotPtr snapshot = SnapshotFromDiscoverResponse(response);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = subscriptions_.find(key);
    if (it == subscriptions_.end()) return;
    if (it->second.snapshot != nullptr && it->second.revision == snapshot->revision) return;
    it->second.revision = snapshot->revision;
    it->second.snapshot = snapshot;
  }
  Dispatch(key, snapshot);
}

void ControlPlaneClient::StreamLoop() {
  absl::Duration backoff = options_.reconnect_backoff_initial;
  while (true) {
    OpenStream stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      connecting_ = &stream.context;
    }
    // May block until connected; the destructor's TryCancel unblocks it.
    stream.rpc = stub_->naming->Discover(&stream.context);
    {
      std::lock_guard<std::mutex> lock(mu_);
      connecting_ = nullptr;
      stream_ = &stream;
      refresh_all_ = true;  // a new stream knows nothing: ask for everything
    }
    cv_.notify_all();
    v1::DiscoverResponse response;
    while (stream.rpc->Read(&response)) {
      backoff = options_.reconnect_backoff_initial;
      HandleResponse(response);
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      stream_ = nullptr;
      cv_.wait(lock, [this] { return !writing_; });
    }
    stream.context.TryCancel();
    const grpc::Status status = stream.rpc->Finish();
    std::vector<ServiceKey> waiting;  // watchers that have no snapshot yet
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      for (auto& entry : subscriptions_) {
        if (entry.second.snapshot == nullptr) waiting.push_back(entry.first);
      }
    }
    const absl::Status error = FromGrpcStatus(
        status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed by server")
                    : status,
        absl::StrCat("Discover stream to control plane ", options_.address));
    for (const ServiceKey& key : waiting) Dispatch(key, error);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff), [this] { return shutdown_; });
    backoff = std::min(backoff * 2, options_.reconnect_backoff_max);
  }
}

bool ControlPlaneClient::WriterHasWork() const {
  if (shutdown_) return true;
  if (stream_ == nullptr) return false;
  if (refresh_all_) return true;
  for (auto& entry : subscriptions_) {
    if (entry.second.request_pending) return true;
  }
  return false;
}

void ControlPlaneClient::WriterLoop() {
  absl::Time next_refresh = absl::Now() + options_.refresh_interval;
  while (true) {
    std::vector<v1::DiscoverRequest> requests;
    OpenStream* stream;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, absl::ToChronoTime(next_refresh), [this] { return WriterHasWork(); });
      if (shutdown_) return;
      if (absl::Now() >= next_refresh) {
        refresh_all_ = true;
        next_refresh = absl::Now() + options_.refresh_interval;
      }
      if (stream_ == nullptr) continue;
      for (auto& entry : subscriptions_) {
        if (refresh_all_ || entry.second.request_pending) {
          requests.push_back(InstanceRequest(entry.first, entry.second.revision));
          entry.second.request_pending = false;
        }
      }
      refresh_all_ = false;
      stream = stream_;
      writing_ = true;
    }
    for (const v1::DiscoverRequest& request : requests) {
      if (!stream->rpc->Write(request)) break;  // the reader sees the failure too
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace grpc_cpp_polaris
