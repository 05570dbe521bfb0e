#include "server/queue_interceptor.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/alarm.h>
#include <grpcpp/server_context.h>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "sdk/peer_address.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace {

// A call as its initial metadata shows it, for matching rules once per
// stream.
class MetadataCall final : public InboundCall {
 public:
  MetadataCall(absl::string_view method, std::string ip,
               const std::multimap<grpc::string_ref, grpc::string_ref>& metadata)
      : method_(method), ip_(std::move(ip)), metadata_(metadata) {}
  absl::string_view method() const override { return method_; }
  absl::string_view caller_ip() const override { return ip_; }
  // Repeated values joined with ",", as the filter reads them.
  std::optional<absl::string_view> Header(absl::string_view key,
                                          std::string* buffer) const override {
    auto [first, last] = metadata_.equal_range(grpc::string_ref(key.data(), key.size()));
    if (first == last) return std::nullopt;
    if (std::next(first) == last) return absl::string_view(first->second.data(), first->second.size());
    buffer->clear();
    for (auto it = first; it != last; ++it) {
      if (it != first) buffer->push_back(',');
      buffer->append(it->second.data(), it->second.size());
    }
    return absl::string_view(*buffer);
  }

 private:
  const absl::string_view method_;
  const std::string ip_;
  const std::multimap<grpc::string_ref, grpc::string_ref>& metadata_;
};

// A call or message held for its turn. Held in slices of at most a
// second, so that a server shutting down (CallGate::ReleaseHeld) lets it go
// within one.
struct Held {
  std::shared_ptr<const CallGate> gate;
  grpc::experimental::InterceptorBatchMethods* methods;
  absl::Time until;
};
constexpr absl::Duration kHoldSlice = absl::Seconds(1);

void Arm(Held* held) {
  auto* alarm = new grpc::Alarm();
  const absl::Time fire = std::min(held->until, absl::Now() + kHoldSlice);
  TsanRelease(alarm);  // its construction and `held`, for the callback
  alarm->Set(absl::ToChronoTime(fire), [held, alarm](bool) {
    TsanAcquire(alarm);
    delete alarm;  // done with: a next slice has an alarm of its own
    if (absl::Now() < held->until && !held->gate->released()) {
      Arm(held);
      return;
    }
    grpc::experimental::InterceptorBatchMethods* methods = held->methods;
    delete held;
    methods->Proceed();
  });
}

class QueueInterceptor final : public grpc::experimental::Interceptor {
 public:
  QueueInterceptor(std::shared_ptr<const CallGate> gate, grpc::experimental::ServerRpcInfo* info,
                   bool pace)
      : gate_(std::move(gate)), info_(info), pace_(pace) {}
  // gRPC may destroy the interceptor on another thread than the last hook's.
  ~QueueInterceptor() override { TsanAcquire(this); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    TsanAcquire(this);
    absl::Duration wait = absl::ZeroDuration();
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto& metadata = *methods->GetRecvInitialMetadata();
      wait = WaitOf(metadata);
      if (pace_) {
        // The stream's rules are matched once, on its opening.
        MetadataCall call(info_->method(),
                          PeerIp(info_->server_context()->peer()).value_or(""), metadata);
        pacer_ = gate_->PacerFor(call);
      }
    }
    // (No message: the client half-closed; nothing to pace.)
    if (pacer_ != nullptr &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      const absl::Duration pace = pacer_->Next();
      if (pace > absl::ZeroDuration()) gate_->CountPaced();
      wait = std::max(wait, pace);
    }
    TsanRelease(this);
    if (wait > absl::ZeroDuration() && !gate_->released()) {
      // Goes on from an alarm's thread when its turn comes; the callbacks
      // do not touch this interceptor, which may be gone by then.
      Arm(new Held{gate_, methods, absl::Now() + wait});
      return;
    }
    methods->Proceed();
  }

 private:
  static absl::Duration WaitOf(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    auto it = metadata.find(kQueueWaitMetadataKey);
    if (it == metadata.end()) return absl::ZeroDuration();
    int64_t micros = 0;
    if (!absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &micros)) {
      return absl::ZeroDuration();
    }
    return std::min(absl::Microseconds(micros), kMaxQueueWait);
  }

  const std::shared_ptr<const CallGate> gate_;
  grpc::experimental::ServerRpcInfo* const info_;
  const bool pace_;
  std::unique_ptr<RateLimiter::MessagePacer> pacer_;
};

class QueueInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit QueueInterceptorFactory(std::shared_ptr<const CallGate> gate) : gate_(std::move(gate)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    const bool pace =
        (info->type() == Type::CLIENT_STREAMING || info->type() == Type::BIDI_STREAMING) &&
        gate_->paces();
    // No interceptor on calls that cannot wait.
    if (!pace && !gate_->queueing()) return nullptr;
    return new QueueInterceptor(gate_, info, pace);
  }

 private:
  std::shared_ptr<const CallGate> gate_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeQueueInterceptorFactory(
    std::shared_ptr<const CallGate> gate) {
  return std::make_unique<QueueInterceptorFactory>(std::move(gate));
}

}  // namespace grpc_cpp_polaris
