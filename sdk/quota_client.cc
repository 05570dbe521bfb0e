#include "sdk/quota_client.h"

#include <algorithm>
#include <utility>

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "proto/metric/v2/ratelimit_stub.h"

namespace grpc_cpp_polaris {

namespace v2 = ::polaris::metric::v2;

namespace {

// polaris-limiter's success code; any 2xx,xxx counts as success, as
// polaris-go reads it.
bool Succeeded(uint32_t code) { return code / 1000 >= 200 && code / 1000 < 300; }

// How often idle windows are reported too: well within GlobalQuotaSync's
// freshness, so that a reachable server keeps counting as one.
constexpr absl::Duration kFullReportInterval = absl::Milliseconds(400);
// How long a window the server refused waits before it is announced again.
constexpr absl::Duration kRefusedRetry = absl::Seconds(5);

}  // namespace

absl::Status QuotaClientOptions::Validate() const {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("QuotaClientOptions.", field, " ", why));
  };
  if (client_id.empty()) return bad("client_id", "is empty");
  if (!locate) return bad("locate", "is not set");
  if (clock == nullptr) return bad("clock", "is null");
  for (auto [field, value] :
       {std::pair<const char*, absl::Duration>{"report_interval", report_interval},
        {"time_adjust_interval", time_adjust_interval},
        {"answer_timeout", answer_timeout},
        {"reconnect_backoff", reconnect_backoff}}) {
    if (value <= absl::ZeroDuration() || value == absl::InfiniteDuration()) {
      return bad(field, "must be positive and finite");
    }
  }
  return absl::OkStatus();
}

// One stream to one rate-limit server, driven by a thread of its own: one
// operation in flight at a time, each awaited with a deadline.
class QuotaClient::Connection {
 public:
  // Starts the connection's thread: a rate-limit server that hangs holds up
  // only the windows it keeps.
  Connection(QuotaClient* owner, std::string address)
      : owner_(owner), address_(std::move(address)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Connection() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      if (time_adjust_ != nullptr) time_adjust_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
    Close();
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  // The windows this server keeps, from now on (the client's thread).
  void Assign(const std::vector<std::shared_ptr<GlobalQuotaTarget>>& targets) {
    if (!targets.empty()) last_used_ = absl::Now();
    // Held weakly: a window the limiter dropped must be able to go.
    std::vector<std::weak_ptr<GlobalQuotaTarget>> weak(targets.begin(), targets.end());
    std::lock_guard<std::mutex> lock(mu_);
    assigned_ = std::move(weak);
  }
  // When it last had windows (the client's thread).
  absl::Time last_used() const { return last_used_; }

 private:
  // Every report_interval, Sync() of the assigned windows.
  void Run();
  // Reports `targets`, connecting and announcing first as needed.
  void Sync(const std::vector<std::shared_ptr<GlobalQuotaTarget>>& targets);
  void SyncClaimed(const std::vector<std::shared_ptr<GlobalQuotaTarget>>& targets);
  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  struct Announced {
    std::weak_ptr<GlobalQuotaTarget> target;
    std::vector<uint32_t> counter_keys;  // per quota; 0 when the server has none
    std::vector<RemoteQuota::Usage> reported;
  };

  int64_t NowMs() const { return owner_->NowMs(); }
  bool Connect();
  bool TimeAdjust();
  // Awaits the completion of the one operation in flight.
  bool Await();
  bool Write(const v2::RateLimitRequest& request);
  // Reads answers until one of `cmd` arrives; ACQUIRE answers (also those the
  // server pushes unasked) are applied on the way.
  bool ReadUntil(v2::RateLimitCmd cmd, v2::RateLimitResponse* response);
  bool Announce(const std::shared_ptr<GlobalQuotaTarget>& target);
  void ApplyLefts(const v2::RateLimitReportResponse& answer);
  // Drops the stream, logs why (once until it is back), counts a failure.
  void Drop(absl::string_view why);
  void Close();

  QuotaClient* const owner_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v2::RateLimitStub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v2::RateLimitRequest, v2::RateLimitResponse>>
      stream_;
  uint32_t client_key_ = 0;
  absl::flat_hash_map<const GlobalQuotaTarget*, Announced> announced_;
  absl::flat_hash_map<uint32_t, std::pair<const GlobalQuotaTarget*, size_t>> by_key_;
  // Windows the server refused, and when to announce them again.
  absl::flat_hash_map<const GlobalQuotaTarget*,
                      std::pair<std::weak_ptr<GlobalQuotaTarget>, absl::Time>>
      refused_;
  absl::Time retry_at_ = absl::InfinitePast();
  absl::Time next_time_adjust_ = absl::InfinitePast();
  absl::Time last_used_ = absl::Now();  // the client's thread
  absl::Time next_full_report_ = absl::InfinitePast();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* time_adjust_ ABSL_GUARDED_BY(mu_) = nullptr;  // in flight
  std::vector<std::weak_ptr<GlobalQuotaTarget>> assigned_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
  bool logged_down_ = false;
};

bool QuotaClient::Connection::Await() {
  const absl::Time deadline = absl::Now() + owner_->options_.answer_timeout;
  while (true) {
    void* tag = nullptr;
    bool ok = false;
    // In slices, so that stopping the client does not wait out the timeout.
    const absl::Time slice = std::min(deadline, absl::Now() + absl::Milliseconds(50));
    switch (queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(slice))) {
      case grpc::CompletionQueue::GOT_EVENT:
        return ok;
      case grpc::CompletionQueue::SHUTDOWN:
        return false;
      case grpc::CompletionQueue::TIMEOUT:
        break;
    }
    if (Stopping() || absl::Now() >= deadline) {
      // Cancel, then collect the operation, which now fails at once.
      context_->TryCancel();
      queue_.Next(&tag, &ok);
      return false;
    }
  }
}

bool QuotaClient::Connection::TimeAdjust() {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + owner_->options_.answer_timeout));
  {
    // Cancelled by the destructor rather than waited out.
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    time_adjust_ = &context;
  }
  v2::TimeAdjustRequest request;
  v2::TimeAdjustResponse response;
  const int64_t sent = owner_->clock()->NowNanos() / 1000000;
  grpc::Status status = stub_->TimeAdjust(&context, request, &response);
  {
    std::lock_guard<std::mutex> lock(mu_);
    time_adjust_ = nullptr;
  }
  if (!status.ok()) return false;
  const int64_t received = owner_->clock()->NowNanos() / 1000000;
  // The server read its clock about half the round trip before the answer
  // arrived.
  owner_->SetOffsetMs(response.servertimestamp() + (received - sent) / 2 - received);
  std::lock_guard<std::mutex> lock(owner_->mu_);
  ++owner_->stats_.time_adjusts;
  return true;
}

bool QuotaClient::Connection::Connect() {
  if (channel_ == nullptr) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(owner_->options_.reconnect_backoff)));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(absl::ToInt64Milliseconds(owner_->options_.reconnect_backoff)));
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    stub_ = std::make_unique<v2::RateLimitStub>(channel_);
  }
  if (!TimeAdjust()) {
    Drop("TimeAdjust failed");
    return false;
  }
  next_time_adjust_ = absl::Now() + owner_->options_.time_adjust_interval;
  context_ = std::make_unique<grpc::ClientContext>();
  stream_ = stub_->AsyncService(context_.get(), &queue_, this);
  if (!Await()) {
    Drop("the quota stream did not open");
    return false;
  }
  std::lock_guard<std::mutex> lock(owner_->mu_);
  ++owner_->stats_.connects;
  if (logged_down_) {
    gpr_log(GPR_INFO, "polaris: rate-limit server %s is back", address_.c_str());
    logged_down_ = false;
  }
  return true;
}

bool QuotaClient::Connection::Write(const v2::RateLimitRequest& request) {
  stream_->Write(request, this);
  return Await();
}

bool QuotaClient::Connection::ReadUntil(v2::RateLimitCmd cmd, v2::RateLimitResponse* response) {
  // Bounded: pushes are at most one per counter and window.
  for (int reads = 0; reads < 1000; ++reads) {
    response->Clear();
    stream_->Read(response, this);
    if (!Await()) return false;
    if (response->cmd() == v2::ACQUIRE || response->cmd() == v2::BATCH_ACQUIRE) {
      if (!Succeeded(response->ratelimitreportresponse().code())) return false;
      ApplyLefts(response->ratelimitreportresponse());
    }
    if (response->cmd() == cmd) return true;
  }
  return false;
}

bool QuotaClient::Connection::Announce(const std::shared_ptr<GlobalQuotaTarget>& target) {
  v2::RateLimitRequest request;
  request.set_cmd(v2::INIT);
  v2::RateLimitInitRequest* init = request.mutable_ratelimitinitrequest();
  init->mutable_target()->set_namespace_(target->service.service_namespace);
  init->mutable_target()->set_service(target->service.service);
  init->mutable_target()->set_labels(target->labels);
  init->set_clientid(owner_->options_.client_id);
  for (const auto& quota : target->quotas) {
    v2::QuotaTotal* total = init->add_totals();
    total->set_mode(target->share_equally ? v2::DIVIDE : v2::WHOLE);
    total->set_duration(static_cast<uint32_t>(absl::ToInt64Seconds(quota->duration())));
    total->set_maxamount(quota->max());
  }
  v2::RateLimitResponse response;
  if (!Write(request) || !ReadUntil(v2::INIT, &response)) {
    Drop("INIT got no answer");
    return false;
  }
  const v2::RateLimitInitResponse& answer = response.ratelimitinitresponse();
  if (!Succeeded(answer.code())) {
    // That window alone keeps its local share; the stream serves the others.
    gpr_log(GPR_ERROR,
            "polaris: rate-limit server %s refused the window %s [%s] with code %u; it keeps "
            "to its local share",
            address_.c_str(), target->service.ToString().c_str(), target->labels.c_str(),
            answer.code());
    refused_[target.get()] = {target, absl::Now() + kRefusedRetry};
    std::lock_guard<std::mutex> lock(owner_->mu_);
    ++owner_->stats_.refused;
    return true;
  }
  refused_.erase(target.get());
  client_key_ = answer.clientkey();
  Announced announced;
  announced.target = target;
  announced.counter_keys.assign(target->quotas.size(), 0);
  announced.reported.resize(target->quotas.size());
  for (const v2::QuotaCounter& counter : answer.counters()) {
    for (size_t i = 0; i < target->quotas.size(); ++i) {
      if (announced.counter_keys[i] == 0 &&
          absl::ToInt64Seconds(target->quotas[i]->duration()) == counter.duration()) {
        announced.counter_keys[i] = counter.counterkey();
        by_key_[counter.counterkey()] = {target.get(), i};
        break;
      }
    }
  }
  announced_[target.get()] = std::move(announced);
  std::lock_guard<std::mutex> lock(owner_->mu_);
  ++owner_->stats_.inits;
  return true;
}

void QuotaClient::Connection::ApplyLefts(const v2::RateLimitReportResponse& answer) {
  const int64_t now = NowMs();
  for (const v2::QuotaLeft& left : answer.quotalefts()) {
    auto key = by_key_.find(left.counterkey());
    if (key == by_key_.end()) continue;
    auto found = announced_.find(key->second.first);
    if (found == announced_.end()) continue;
    std::shared_ptr<GlobalQuotaTarget> target = found->second.target.lock();
    if (target == nullptr) continue;
    const size_t i = key->second.second;
    target->quotas[i]->Apply(found->second.reported[i], left.left(), left.clientcount(), now);
    target->answered_ms.store(now, std::memory_order_relaxed);
  }
  owner_->MarkAnswered(now);
}

void QuotaClient::Connection::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, absl::ToChronoNanoseconds(owner_->options_.report_interval),
                 [this] { return stop_; });
    if (stop_) break;
    std::vector<std::shared_ptr<GlobalQuotaTarget>> targets;
    for (const auto& weak : assigned_) {
      if (std::shared_ptr<GlobalQuotaTarget> target = weak.lock()) targets.push_back(target);
    }
    lock.unlock();
    if (!targets.empty()) Sync(targets);
    targets.clear();  // not kept alive by this thread while it waits
    lock.lock();
  }
}

void QuotaClient::Connection::Sync(const std::vector<std::shared_ptr<GlobalQuotaTarget>>& all) {
  // Only windows no other reporter holds (one whose server just changed may
  // still be in the old server's round).
  std::vector<std::shared_ptr<GlobalQuotaTarget>> targets;
  for (const auto& target : all) {
    const void* none = nullptr;
    if (target->reporter.compare_exchange_strong(none, this, std::memory_order_acq_rel)) {
      targets.push_back(target);
    }
  }
  SyncClaimed(targets);
  for (const auto& target : targets) target->reporter.store(nullptr, std::memory_order_release);
}

void QuotaClient::Connection::SyncClaimed(
    const std::vector<std::shared_ptr<GlobalQuotaTarget>>& targets) {
  if (stream_ == nullptr) {
    if (absl::Now() < retry_at_ || !Connect()) return;
  }
  if (absl::Now() >= next_time_adjust_) {
    // Keeps the stream: a TimeAdjust that fails now and then only leaves the
    // last offset in place.
    TimeAdjust();
    next_time_adjust_ = absl::Now() + owner_->options_.time_adjust_interval;
  }
  // Forget windows that are gone.
  for (auto it = announced_.begin(); it != announced_.end();) {
    if (it->second.target.expired()) {
      for (uint32_t key : it->second.counter_keys) by_key_.erase(key);
      announced_.erase(it++);
    } else {
      ++it;
    }
  }
  absl::erase_if(refused_, [](const auto& entry) { return entry.second.first.expired(); });
  std::vector<const std::shared_ptr<GlobalQuotaTarget>*> reported;
  for (const auto& target : targets) {
    auto refused = refused_.find(target.get());
    if (refused != refused_.end() && refused->second.first.lock() == target &&
        absl::Now() < refused->second.second) {
      continue;  // retried later
    }
    auto found = announced_.find(target.get());
    if (found == announced_.end() || found->second.target.lock() != target) {
      if (!Announce(target)) return;
      found = announced_.find(target.get());
      if (found == announced_.end()) continue;  // refused
    }
    reported.push_back(&target);
  }
  v2::RateLimitRequest request;
  request.set_cmd(v2::ACQUIRE);
  v2::RateLimitReportRequest* report = request.mutable_ratelimitreportrequest();
  report->set_clientkey(client_key_);
  const int64_t now = NowMs();
  report->set_timestamp(now);
  // Windows with nothing new are left out, but every window is reported now
  // and then, so that an idle client still learns the server is there.
  const bool everything = absl::Now() >= next_full_report_;
  // What this report carries (the targets are held by the caller).
  std::vector<std::pair<GlobalQuotaTarget*, size_t>> included;
  if (everything) next_full_report_ = absl::Now() + kFullReportInterval;
  for (const std::shared_ptr<GlobalQuotaTarget>* entry : reported) {
    const std::shared_ptr<GlobalQuotaTarget>& target = *entry;
    Announced& announced = announced_[target.get()];
    for (size_t i = 0; i < target->quotas.size(); ++i) {
      if (announced.counter_keys[i] == 0) continue;
      RemoteQuota::Usage usage = target->quotas[i]->Drain(now);
      if (!everything && usage.used == 0 && usage.limited == 0) continue;
      announced.reported[i] = usage;
      included.emplace_back(target.get(), i);
      v2::QuotaSum* sum = report->add_quotauses();
      sum->set_counterkey(announced.counter_keys[i]);
      sum->set_used(usage.used);
      sum->set_limited(usage.limited);
    }
  }
  if (report->quotauses_size() == 0) return;
  v2::RateLimitResponse response;
  if (!Write(request)) {
    // Not sent: the next stream reports it. (Once sent, it may have been
    // counted even if no answer comes.)
    for (const auto& [target, i] : included) {
      target->quotas[i]->Undrain(announced_[target].reported[i]);
    }
    Drop("the report could not be sent");
    return;
  }
  if (!ReadUntil(v2::ACQUIRE, &response)) {
    Drop("the report got no answer");
    return;
  }
  std::lock_guard<std::mutex> lock(owner_->mu_);
  ++owner_->stats_.reports;
}

void QuotaClient::Connection::Drop(absl::string_view why) {
  if (!logged_down_) {
    gpr_log(GPR_ERROR, "polaris: rate-limit server %s: %s; GLOBAL limits fall back to local shares",
            address_.c_str(), std::string(why).c_str());
    logged_down_ = true;
  }
  Close();
  retry_at_ = absl::Now() + owner_->options_.reconnect_backoff;
  std::lock_guard<std::mutex> lock(owner_->mu_);
  ++owner_->stats_.failures;
}

void QuotaClient::Connection::Close() {
  if (stream_ != nullptr) {
    context_->TryCancel();
    grpc::Status status;
    stream_->Finish(&status, this);
    void* tag;
    bool ok;
    queue_.Next(&tag, &ok);
    stream_.reset();
  }
  context_.reset();
  announced_.clear();
  by_key_.clear();
}

QuotaClient::QuotaClient(QuotaClientOptions options)
    : GlobalQuotaSync(options.clock), options_(std::move(options)) {}

absl::StatusOr<std::shared_ptr<QuotaClient>> QuotaClient::Start(QuotaClientOptions options) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  std::shared_ptr<QuotaClient> client(new QuotaClient(std::move(options)));
  client->thread_ = std::thread([raw = client.get()] { raw->Run(); });
  return client;
}

QuotaClient::~QuotaClient() { Stop(); }

void QuotaClient::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (thread_.joinable()) thread_.join();
}

void QuotaClient::Track(const std::shared_ptr<GlobalQuotaTarget>& target) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;  // no one would prune them
  targets_.push_back(target);
  if (targets_.size() == 1) cv_.notify_all();  // the thread may be idle
}

QuotaClient::Stats QuotaClient::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t QuotaClient::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(targets_.begin(), targets_.end(),
                                           [](const auto& target) { return !target.expired(); }));
}

void QuotaClient::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (targets_.empty() && connections_.empty()) {
      // Nothing to keep in sync (no GLOBAL rule): sleep until there is.
      cv_.wait(lock, [this] { return stopping_ || !targets_.empty(); });
    } else {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.report_interval),
                   [this] { return stopping_; });
    }
    if (stopping_) break;
    lock.unlock();
    Round();
    lock.lock();
  }
  lock.unlock();
  connections_.clear();
}

void QuotaClient::Round() {
  std::vector<std::shared_ptr<GlobalQuotaTarget>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto end = std::remove_if(targets_.begin(), targets_.end(), [&](const auto& weak) {
      std::shared_ptr<GlobalQuotaTarget> target = weak.lock();
      if (target == nullptr) return true;
      live.push_back(std::move(target));
      return false;
    });
    targets_.erase(end, targets_.end());
  }
  std::map<std::string, std::vector<std::shared_ptr<GlobalQuotaTarget>>> by_address;
  for (auto& target : live) {
    std::string address = options_.locate(*target);
    if (!address.empty()) by_address[std::move(address)].push_back(std::move(target));
  }
  for (auto& [address, connection] : connections_) {
    if (by_address.count(address) == 0) connection->Assign({});
  }
  for (auto& [address, targets] : by_address) {
    std::unique_ptr<Connection>& connection = connections_[address];
    if (connection == nullptr) connection = std::make_unique<Connection>(this, address);
    connection->Assign(targets);
  }
  // Streams no window needed for a minute are closed.
  const absl::Time now = absl::Now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (by_address.count(it->first) == 0 && now - it->second->last_used() > absl::Minutes(1)) {
      connections_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace grpc_cpp_polaris
