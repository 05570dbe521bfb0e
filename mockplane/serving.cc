#include "mockplane/serving.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

// A unary reactor that can answer later (injected delay). Deletes itself.
// The request and response are gRPC's, handed between its threads: the
// annotations tell ThreadSanitizer (see sdk/tsan.h).
class DelayableReactor final : public grpc::ServerUnaryReactor {
 public:
  void FinishAfter(absl::Duration delay, std::function<grpc::Status()> finish) {
    if (delay <= absl::ZeroDuration()) {
      // Still inside the handler: gRPC has not bound the call, so this
      // reactor cannot be done yet, and what Finish stored in it is ordered
      // before OnDone too.
      FinishWith(finish());
      TsanRelease(this);
      return;
    }
    // The alarm's closure holds only `this` (stored inside the
    // std::function: nothing for ThreadSanitizer to see handed over).
    finish_ = std::move(finish);
    TsanRelease(this);
    alarm_.Set(absl::ToChronoTime(absl::Now() + delay), [this](bool) {
      TsanAcquire(this);
      FinishWith(finish_());
    });
  }
  void OnDone() override {
    TsanAcquire(this);
    delete this;
  }

 private:
  void FinishWith(const grpc::Status& status) {
    TsanRelease(this);
    Finish(status);
  }


 private:
  grpc::Alarm alarm_;
  std::function<grpc::Status()> finish_;  // for the alarm
};

}  // namespace

void LogRequest(const RequestLog& log, const char* method,
                const google::protobuf::Message& request) {
  if (!log) return;
  const size_t size = request.ByteSizeLong();
  // A huge request is summarised, not rendered: lines stay short.
  std::string text = size > 8 * kMaxLoggedRequestChars
                         ? absl::StrCat("<", size, " bytes>")
                         : request.ShortDebugString();
  if (text.size() > kMaxLoggedRequestChars) {
    text = absl::StrCat(text.substr(0, kMaxLoggedRequestChars), "... <", size, " bytes>");
  }
  log(absl::StrCat(method, " {", text, "}"));
}

grpc::ServerUnaryReactor* ServeUnary(FaultInjector* faults, const RequestLog& log,
                                     const char* method, const google::protobuf::Message& request,
                                     std::function<absl::Status()> serve) {
  TsanAcquire(&tsan_services_built_key);
  LogRequest(log, method, request);
  const Fault fault = faults->Take(method);
  auto* reactor = new DelayableReactor();
  reactor->FinishAfter(fault.delay, [fault, serve = std::move(serve)]() {
    return ToGrpc(fault.status.ok() ? serve() : fault.status);
  });
  return reactor;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
