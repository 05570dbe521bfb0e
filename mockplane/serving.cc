#include "mockplane/serving.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

// A unary reactor that can answer later (injected delay). Deletes itself.
class DelayableReactor final : public grpc::ServerUnaryReactor {
 public:
  void FinishAfter(absl::Duration delay, std::function<grpc::Status()> finish) {
    if (delay <= absl::ZeroDuration()) {
      Finish(finish());
      return;
    }
    alarm_.Set(absl::ToChronoTime(absl::Now() + delay),
               [this, finish = std::move(finish)](bool) { Finish(finish()); });
  }
  void OnDone() override { delete this; }

 private:
  grpc::Alarm alarm_;
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
