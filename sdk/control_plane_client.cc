#include "sdk/control_plane_client.h"

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"
#include "sdk/discover_answer.h"
#include "sdk/mailbox.h"
#include "sdk/proto_convert.h"

namespace grpc_cpp_polaris {

absl::Status ControlPlaneOptions::Validate() const {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("ControlPlaneOptions.", field, " ", why));
  };
  if (address.empty()) return bad("address", "is empty");
  if (rpc_timeout <= absl::ZeroDuration()) return bad("rpc_timeout", "must be positive");
  if (refresh_interval <= absl::ZeroDuration()) return bad("refresh_interval", "must be positive");
  if (reconnect_backoff_initial <= absl::ZeroDuration()) {
    return bad("reconnect_backoff_initial", "must be positive");
  }
  if (reconnect_backoff_max < reconnect_backoff_initial) {
    return bad("reconnect_backoff_max", "is below reconnect_backoff_initial");
  }
  if (keepalive_time < absl::Seconds(10)) return bad("keepalive_time", "must be at least 10s");
  if (keepalive_timeout <= absl::ZeroDuration()) {
    return bad("keepalive_timeout", "must be positive");
  }
  if (max_discover_answer_bytes == 0) return bad("max_discover_answer_bytes", "is 0");
  return absl::OkStatus();
}

std::string ControlPlaneOptions::Key() const {
  std::string key;
  auto add = [&key](absl::string_view value) { absl::StrAppend(&key, value.size(), ":", value); };
  add(address);
  for (absl::Duration duration : {rpc_timeout, refresh_interval, reconnect_backoff_initial,
                                  reconnect_backoff_max, keepalive_time, keepalive_timeout}) {
    add(absl::FormatDuration(duration));
  }
  add(absl::StrCat(max_discover_answer_bytes));
  return key;
}

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

v1::DiscoverRequest ResourceRequest(ResourceType type, const ServiceKey& key,
                                    const std::string& revision) {
  v1::DiscoverRequest request;
  request.set_type(static_cast<v1::DiscoverRequest::DiscoverRequestType>(ResourceTypeToWire(type)));
  request.mutable_service()->mutable_name()->set_value(key.service);
  request.mutable_service()->mutable_namespace_()->set_value(key.service_namespace);
  if (!revision.empty()) request.mutable_service()->mutable_revision()->set_value(revision);
  return request;
}

// One unary naming call with the client's deadline, waiting for the
// connection meanwhile. Returns the response when both the gRPC status and
// the Polaris code say success, or when the code is one of `also_ok`.
template <typename Request, typename Rpc>
absl::StatusOr<v1::Response> CallNaming(const Rpc& rpc, const Request& request,
                                        absl::Duration timeout, const std::string& what,
                                        uint32_t also_ok = v1::ExecuteSuccess) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // A control plane that is reconnecting is waited for, not failed at once.
  context.set_wait_for_ready(true);
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

// Everything the client's threads use. Held by shared_ptr by the client and
// by each thread, so that a thread outliving the client (when the client is
// destroyed on that very thread) still has it.
class ControlPlaneClient::Core : public std::enable_shared_from_this<ControlPlaneClient::Core> {
 public:
  explicit Core(ControlPlaneOptions options);

  const ControlPlaneOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::PolarisGRPC::Stub> naming;

  WatchId Watch(ResourceType type, const ServiceKey& key, ResourceCallback callback);
  void Unwatch(WatchId id);
  ListenerId AddReconnectListener(std::function<void()> listener);
  void RemoveReconnectListener(ListenerId id);
  // Stops the threads' loops; returns the threads for joining or detaching.
  std::vector<std::thread> Shutdown();

 private:
  using WatchMailbox = Mailbox<absl::StatusOr<ResourceUpdatePtr>>;
  using ListenerMailbox = Mailbox<bool>;
  using WatchKey = std::pair<ResourceType, ServiceKey>;
  struct Subscription {
    // Revision last answered (also of an answer that was rejected, so that
    // it is not fetched again until the resource changes).
    std::string revision;
    ResourceUpdatePtr snapshot;
    // Why there is no snapshot yet (unknown service, unreachable, ...).
    absl::Status error = absl::OkStatus();
    std::map<WatchId, std::shared_ptr<WatchMailbox>> watchers;
    bool request_pending = true;
  };
  // The Discover stream currently open, shared by the reader and the writer.
  struct OpenStream {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::DiscoverRequest, grpc::ByteBuffer>> rpc;
  };

  void StreamLoop();
  void WriterLoop();
  // Fires the reconnect listeners each time the channel is READY again after
  // it was READY and lost it; `state` is where it was first seen.
  void ConnectivityLoop(grpc_connectivity_state state);
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleAnswer(const grpc::ByteBuffer& buffer);
  void HandleResource(ResourceType type, const DiscoverAnswer& answer);
  // Posts `result` to the watchers of `subscription` and adds their
  // mailboxes to `posted`, for the caller to deliver once it released mu_.
  static void PostLocked(Subscription& subscription,
                         const absl::StatusOr<ResourceUpdatePtr>& result,
                         std::vector<std::shared_ptr<WatchMailbox>>* posted);
  static void DeliverAll(const std::vector<std::shared_ptr<WatchMailbox>>& mailboxes);

  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread locks
  // but not those of Debian's uninstrumented abseil.
  std::mutex mu_;
  std::condition_variable cv_;  // any change a thread may wait for
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::map<WatchKey, Subscription> subscriptions_ ABSL_GUARDED_BY(mu_);
  std::map<WatchId, WatchKey> watch_keys_ ABSL_GUARDED_BY(mu_);
  WatchId next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<ListenerId, std::shared_ptr<ListenerMailbox>> listeners_ ABSL_GUARDED_BY(mu_);
  ListenerId next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
  OpenStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::ClientContext* connecting_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_all_ ABSL_GUARDED_BY(mu_) = false;
  // Started on first use; handed to the owner at shutdown.
  std::thread stream_thread_ ABSL_GUARDED_BY(mu_);
  std::thread writer_thread_ ABSL_GUARDED_BY(mu_);
  std::thread connectivity_thread_ ABSL_GUARDED_BY(mu_);
};

ControlPlaneClient::Core::Core(ControlPlaneOptions options_in) : options(std::move(options_in)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(options.keepalive_time),
                                                 INT_MAX)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  // Pings only while calls are open, as grpc-go servers require by default.
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.reconnect_backoff_initial)));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options.reconnect_backoff_max)));
  // Idle only when the connection is lost, never for want of calls (the
  // reconnect listeners rely on it).
  args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, INT_MAX);
  // The per-service limit is ours (max_discover_answer_bytes): gRPC's own
  // would kill the shared stream for every service.
  args.SetMaxReceiveMessageSize(-1);
  channel = grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), args);
  naming = v1::PolarisGRPC::NewStub(channel);
}

std::vector<std::thread> ControlPlaneClient::Core::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    if (stream_ != nullptr) stream_->context.TryCancel();
    if (connecting_ != nullptr) connecting_->TryCancel();
    for (std::thread* thread : {&stream_thread_, &writer_thread_, &connectivity_thread_}) {
      if (thread->joinable()) threads.push_back(std::move(*thread));
    }
  }
  cv_.notify_all();
  return threads;
}

ControlPlaneClient::ControlPlaneClient(ControlPlaneOptions options)
    : core_(std::make_shared<Core>(std::move(options))) {}

ControlPlaneClient::~ControlPlaneClient() {
  for (std::thread& thread : core_->Shutdown()) {
    // Destroyed from one of its own threads (e.g. a watch callback dropped
    // the last reference): that thread exits by itself once it returns here,
    // keeping the core alive through its own reference.
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
}

const ControlPlaneOptions& ControlPlaneClient::options() const { return core_->options; }

std::shared_ptr<ControlPlaneClient> ControlPlaneClient::Shared(const ControlPlaneOptions& options) {
  static std::mutex* const mu = new std::mutex();
  static auto* const clients = new std::map<std::string, std::weak_ptr<ControlPlaneClient>>();
  const std::string key = options.Key();
  std::lock_guard<std::mutex> lock(*mu);
  // Forget configurations nobody uses any more.
  for (auto it = clients->begin(); it != clients->end();) {
    it = it->second.expired() ? clients->erase(it) : std::next(it);
  }
  std::shared_ptr<ControlPlaneClient> client = (*clients)[key].lock();
  if (client == nullptr) {
    client = std::make_shared<ControlPlaneClient>(options);
    (*clients)[key] = client;
  }
  return client;
}

std::shared_ptr<ControlPlaneClient> ControlPlaneClient::Shared(const std::string& address) {
  ControlPlaneOptions options;
  options.address = address;
  return Shared(options);
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
                                        core_->options.address);
  v1::PolarisGRPC::Stub* naming = core_->naming.get();
  auto rpc = [naming](grpc::ClientContext* context, const v1::Instance& request,
                      v1::Response* response) {
    return naming->RegisterInstance(context, request, response);
  };
  // Registering an instance that exists already is not an error.
  absl::StatusOr<v1::Response> response =
      CallNaming(rpc, request, core_->options.rpc_timeout, what, v1::ExistedResource);
  if (!response.ok()) return response.status();
  if (response->instance().id().value().empty()) {
    return absl::InternalError(absl::StrCat(what, ": response carries no instance id"));
  }
  return response->instance().id().value();
}

absl::Status ControlPlaneClient::Heartbeat(const InstanceRef& instance) {
  v1::Instance request;
  FillRef(instance, &request);
  v1::PolarisGRPC::Stub* naming = core_->naming.get();
  auto rpc = [naming](grpc::ClientContext* context, const v1::Instance& request,
                      v1::Response* response) {
    return naming->Heartbeat(context, request, response);
  };
  return CallNaming(rpc, request, core_->options.rpc_timeout,
                    absl::StrCat("Heartbeat ", instance.key.ToString(), " ", instance.id))
      .status();
}

absl::Status ControlPlaneClient::DeregisterInstance(const InstanceRef& instance) {
  v1::Instance request;
  FillRef(instance, &request);
  v1::PolarisGRPC::Stub* naming = core_->naming.get();
  auto rpc = [naming](grpc::ClientContext* context, const v1::Instance& request,
                      v1::Response* response) {
    return naming->DeregisterInstance(context, request, response);
  };
  return CallNaming(rpc, request, core_->options.rpc_timeout,
                    absl::StrCat("DeregisterInstance ", instance.key.ToString(), " ", instance.id))
      .status();
}

absl::StatusOr<Location> ControlPlaneClient::ReportClient(const std::string& host) {
  v1::Client request;
  request.mutable_host()->set_value(host);
  request.set_type(v1::Client::SDK);
  request.mutable_version()->set_value("grpc-cpp-polaris");
  v1::PolarisGRPC::Stub* naming = core_->naming.get();
  auto rpc = [naming](grpc::ClientContext* context, const v1::Client& request,
                      v1::Response* response) {
    return naming->ReportClient(context, request, response);
  };
  absl::StatusOr<v1::Response> response = CallNaming(rpc, request, core_->options.rpc_timeout,
                                                     absl::StrCat("ReportClient ", host));
  if (!response.ok()) return response.status();
  const v1::Location& proto = response->client().location();
  return Location{proto.region().value(), proto.zone().value(), proto.campus().value()};
}

ControlPlaneClient::WatchId ControlPlaneClient::Watch(const ServiceKey& key,
                                                      WatchCallback callback) {
  return core_->Watch(ResourceType::kInstance, key,
                      [callback = std::move(callback)](absl::StatusOr<ResourceUpdatePtr> update) {
                        if (!update.ok()) {
                          callback(update.status());
                        } else {
                          callback((*update)->instances);
                        }
                      });
}

ControlPlaneClient::WatchId ControlPlaneClient::WatchResource(ResourceType type,
                                                              const ServiceKey& key,
                                                              ResourceCallback callback) {
  return core_->Watch(type, key, std::move(callback));
}

void ControlPlaneClient::Unwatch(WatchId id) { core_->Unwatch(id); }

ControlPlaneClient::ListenerId ControlPlaneClient::AddReconnectListener(
    std::function<void()> listener) {
  return core_->AddReconnectListener(std::move(listener));
}

void ControlPlaneClient::RemoveReconnectListener(ListenerId id) {
  core_->RemoveReconnectListener(id);
}

void ControlPlaneClient::Core::PostLocked(Subscription& subscription,
                                          const absl::StatusOr<ResourceUpdatePtr>& result,
                                          std::vector<std::shared_ptr<WatchMailbox>>* posted) {
  for (auto& entry : subscription.watchers) {
    entry.second->Post(result);
    posted->push_back(entry.second);
  }
}

void ControlPlaneClient::Core::DeliverAll(
    const std::vector<std::shared_ptr<WatchMailbox>>& mailboxes) {
  for (const auto& mailbox : mailboxes) mailbox->Deliver();
}

ControlPlaneClient::WatchId ControlPlaneClient::Core::Watch(ResourceType type,
                                                            const ServiceKey& key,
                                                            ResourceCallback callback) {
  auto mailbox = std::make_shared<WatchMailbox>(std::move(callback));
  WatchId id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_watch_id_++;
    watch_keys_[id] = WatchKey(type, key);
    Subscription& subscription = subscriptions_[WatchKey(type, key)];
    subscription.watchers[id] = mailbox;
    // Posted under mu_, so that a newer result posted later replaces it.
    if (subscription.snapshot != nullptr) {
      mailbox->Post(subscription.snapshot);
    } else if (!subscription.error.ok()) {
      mailbox->Post(subscription.error);
    }
    if (!stream_thread_.joinable() && !shutdown_) {
      // The Discover stream starts with the first watch: a process that only
      // registers instances never opens one.
      std::shared_ptr<Core> self = shared_from_this();
      stream_thread_ = std::thread([self] { self->StreamLoop(); });
      writer_thread_ = std::thread([self] { self->WriterLoop(); });
    }
  }
  cv_.notify_all();  // the writer asks for the new service
  mailbox->Deliver();
  return id;
}

void ControlPlaneClient::Core::Unwatch(WatchId id) {
  std::shared_ptr<WatchMailbox> mailbox;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = watch_keys_.find(id);
    if (it == watch_keys_.end()) return;
    auto sub = subscriptions_.find(it->second);
    auto watcher = sub->second.watchers.find(id);
    mailbox = watcher->second;
    sub->second.watchers.erase(watcher);
    if (sub->second.watchers.empty()) subscriptions_.erase(sub);
    watch_keys_.erase(it);
  }
  mailbox->Close();  // waits out a callback running on another thread
}

ControlPlaneClient::ListenerId ControlPlaneClient::Core::AddReconnectListener(
    std::function<void()> listener) {
  auto mailbox =
      std::make_shared<ListenerMailbox>([listener = std::move(listener)](bool) { listener(); });
  // Read here, not when the thread gets going: a connection lost in between
  // must count as lost.
  const grpc_connectivity_state initial = channel->GetState(false);
  std::lock_guard<std::mutex> lock(mu_);
  const ListenerId id = next_listener_id_++;
  listeners_[id] = std::move(mailbox);
  if (!connectivity_thread_.joinable() && !shutdown_) {
    std::shared_ptr<Core> self = shared_from_this();
    connectivity_thread_ = std::thread([self, initial] { self->ConnectivityLoop(initial); });
  }
  return id;
}

void ControlPlaneClient::Core::RemoveReconnectListener(ListenerId id) {
  std::shared_ptr<ListenerMailbox> mailbox;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    mailbox = std::move(it->second);
    listeners_.erase(it);
  }
  mailbox->Close();
}

void ControlPlaneClient::Core::ConnectivityLoop(grpc_connectivity_state state) {
  bool was_ready = false;
  bool lost = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
    }
    if (state == GRPC_CHANNEL_READY) {
      if (was_ready && lost) {
        std::vector<std::shared_ptr<ListenerMailbox>> mailboxes;
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (auto& entry : listeners_) {
            entry.second->Post(true);
            mailboxes.push_back(entry.second);
          }
        }
        for (auto& mailbox : mailboxes) mailbox->Deliver();
      }
      was_ready = true;
      lost = false;
    } else if (was_ready) {
      // The connection went away (the channel never idles by itself: see
      // the constructor). Reconnect now rather than at the next call, so
      // that listeners hear as soon as the control plane is back.
      lost = true;
      if (state == GRPC_CHANNEL_IDLE) channel->GetState(/*try_to_connect=*/true);
    }
    // Bounded wait, so that shutdown is noticed.
    channel->WaitForStateChange(state, absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    state = channel->GetState(false);
  }
}

void ControlPlaneClient::Core::HandleAnswer(const grpc::ByteBuffer& buffer) {
  const size_t size = buffer.Length();
  // An answer over the limit is only read as far as its header.
  const size_t wanted =
      size > options.max_discover_answer_bytes ? std::min(size, kDiscoverHeaderPrefixBytes) : size;
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return;
  std::string bytes;
  bytes.reserve(wanted);
  for (const grpc::Slice& slice : slices) {
    if (bytes.size() >= wanted) break;
    bytes.append(reinterpret_cast<const char*>(slice.begin()),
                 std::min(slice.size(), wanted - bytes.size()));
  }
  const DiscoverAnswer answer =
      DecodeDiscoverAnswer(bytes, size, options.max_discover_answer_bytes);
  if (!answer.has_header) {
    gpr_log(GPR_ERROR, "polaris: dropped a Discover answer from %s that names no service: %s",
            options.address.c_str(), answer.status.ToString().c_str());
    return;
  }
  if (answer.status.ok() && answer.response.code().value() == v1::InvalidDiscoverResource) {
    // Upstream's server answers a type it has no handler for with this code,
    // typed ROUTING (its default case): it is about one of the newer types
    // asked for, whichever of them the server lacks.
    for (ResourceType unknown :
         {ResourceType::kLane, ResourceType::kCustomRouteRule, ResourceType::kNearbyRouteRule,
          ResourceType::kLossless, ResourceType::kBlockAllowRule, ResourceType::kTrafficMirroring,
          ResourceType::kFaultInjection}) {
      HandleResource(unknown, answer);
    }
    return;
  }
  const std::optional<ResourceType> type = ResourceTypeFromWire(answer.response.type());
  if (!type.has_value()) {
    gpr_log(GPR_ERROR, "polaris: dropped a Discover answer from %s of unknown type %d",
            options.address.c_str(), static_cast<int>(answer.response.type()));
    return;
  }
  HandleResource(*type, answer);
}

void ControlPlaneClient::Core::HandleResource(ResourceType type, const DiscoverAnswer& answer) {
  const v1::DiscoverResponse& response = answer.response;
  const uint32_t code = response.code().value();
  if (answer.status.ok() && code == v1::DataNoChange) return;
  const ServiceKey key{response.service().namespace_().value(), response.service().name().value()};
  const WatchKey watch_key(type, key);
  const std::string what = absl::StrCat("Discover ", ResourceTypeName(type), " ", key.ToString());
  absl::Status status = answer.status;
  if (status.ok()) {
    status = StatusFromPolarisCode(code, response.info().value(), what);
  } else {
    status = absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
  }
  std::vector<std::shared_ptr<WatchMailbox>> mailboxes;
  if (!status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = subscriptions_.find(watch_key);
      if (it == subscriptions_.end()) return;
      Subscription& subscription = it->second;
      // An answer that cannot be used is not asked for again until the
      // service changes, nor reported twice (a re-ask sent before the first
      // answer arrived is answered with the same revision).
      if (!answer.status.ok() && response.service().has_revision()) {
        const std::string& revision = response.service().revision().value();
        if (revision == subscription.revision && subscription.error == status) return;
        subscription.revision = revision;
      }
      // The same error again (e.g. a type the server does not serve, asked
      // again each refresh) is not reported again.
      if (subscription.snapshot == nullptr && subscription.error == status) return;
      if (subscription.snapshot != nullptr) {
        // Keep the last good snapshot: errors only reach watchers that have none.
        gpr_log(GPR_ERROR, "polaris: keeping the last %s of %s: %s",
                std::string(ResourceTypeName(type)).c_str(), key.ToString().c_str(),
                status.ToString().c_str());
        return;
      }
      subscription.error = status;
      PostLocked(subscription, status, &mailboxes);
    }
    DeliverAll(mailboxes);
    return;
  }
  auto update = std::make_shared<ResourceUpdate>();
  update->type = type;
  update->key = key;
  update->revision = response.service().revision().value();
  if (type == ResourceType::kInstance) {
    update->instances = SnapshotFromDiscoverResponse(response);
  } else {
    update->answer = std::make_shared<const v1::DiscoverResponse>(response);
  }
  ResourceUpdatePtr snapshot = std::move(update);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = subscriptions_.find(watch_key);
    if (it == subscriptions_.end()) return;
    Subscription& subscription = it->second;
    if (subscription.snapshot != nullptr && subscription.revision == snapshot->revision) return;
    subscription.revision = snapshot->revision;
    subscription.snapshot = snapshot;
    subscription.error = absl::OkStatus();
    PostLocked(subscription, snapshot, &mailboxes);
  }
  DeliverAll(mailboxes);
}

void ControlPlaneClient::Core::StreamLoop() {
  static const grpc::internal::RpcMethod kDiscover("/v1.PolarisGRPC/Discover",
                                                   grpc::internal::RpcMethod::BIDI_STREAMING);
  absl::Duration backoff = options.reconnect_backoff_initial;
  while (true) {
    OpenStream stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      connecting_ = &stream.context;
    }
    // Read as raw bytes: each answer is checked against our own size limit
    // and decoded field by field (see discover_answer.h).
    stream.rpc.reset(
        grpc::internal::ClientReaderWriterFactory<v1::DiscoverRequest, grpc::ByteBuffer>::Create(
            channel.get(), kDiscover, &stream.context));
    {
      std::lock_guard<std::mutex> lock(mu_);
      connecting_ = nullptr;
      stream_ = &stream;
      refresh_all_ = true;  // a new stream knows nothing: ask for everything
    }
    cv_.notify_all();
    grpc::ByteBuffer buffer;
    while (stream.rpc->Read(&buffer)) {
      backoff = options.reconnect_backoff_initial;
      HandleAnswer(buffer);
      buffer.Clear();
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      stream_ = nullptr;
      cv_.wait(lock, [this] { return !writing_; });
    }
    stream.context.TryCancel();
    const grpc::Status status = stream.rpc->Finish();
    const absl::Status error = FromGrpcStatus(
        status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream closed by server")
                    : status,
        absl::StrCat("Discover stream to control plane ", options.address));
    std::vector<std::shared_ptr<WatchMailbox>> mailboxes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      for (auto& entry : subscriptions_) {
        // Watchers that have no snapshot yet learn why.
        if (entry.second.snapshot != nullptr) continue;
        entry.second.error = error;
        PostLocked(entry.second, error, &mailboxes);
      }
    }
    DeliverAll(mailboxes);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(backoff), [this] { return shutdown_; });
    backoff = std::min(backoff * 2, options.reconnect_backoff_max);
  }
}

bool ControlPlaneClient::Core::WriterHasWork() const {
  if (shutdown_) return true;
  if (stream_ == nullptr) return false;
  if (refresh_all_) return true;
  for (auto& entry : subscriptions_) {
    if (entry.second.request_pending) return true;
  }
  return false;
}

void ControlPlaneClient::Core::WriterLoop() {
  absl::Time next_refresh = absl::Now() + options.refresh_interval;
  while (true) {
    std::vector<v1::DiscoverRequest> requests;
    OpenStream* stream;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, absl::ToChronoTime(next_refresh), [this] { return WriterHasWork(); });
      if (shutdown_) return;
      if (absl::Now() >= next_refresh) {
        refresh_all_ = true;
        next_refresh = absl::Now() + options.refresh_interval;
      }
      if (stream_ == nullptr) continue;
      for (auto& entry : subscriptions_) {
        if (refresh_all_ || entry.second.request_pending) {
          requests.push_back(
              ResourceRequest(entry.first.first, entry.first.second, entry.second.revision));
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
