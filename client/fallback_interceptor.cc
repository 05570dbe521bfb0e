#include "client/fallback_interceptor.h"

#include <deque>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/support/interceptor.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sdk/breaker/breaker_rules.h"

namespace grpc_cpp_polaris {
namespace {

using grpc::experimental::ClientRpcInfo;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

class FallbackInterceptor final : public grpc::experimental::Interceptor {
 public:
  FallbackInterceptor() = default;

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      Apply(methods);
    }
    methods->Proceed();
  }

 private:
  void Apply(InterceptorBatchMethods* methods) {
    grpc::Status* status = methods->GetRecvStatus();
    if (status == nullptr || status->ok()) return;
    std::optional<ParsedRefusal> refusal = ParseBreakerRefusal(status->error_message());
    if (!refusal.has_value()) return;
    std::optional<FallbackResponse> fallback =
        FallbackDirectory::Global().Find(refusal->service, refusal->rule_id);
    if (!fallback.has_value()) return;
    if (auto* trailing = methods->GetRecvTrailingMetadata()) {
      for (const auto& [key, value] : fallback->headers) {
        // The map holds views: the strings live as long as the interceptor.
        const std::string& k = storage_.emplace_back(absl::AsciiStrToLower(key));
        const std::string& v = storage_.emplace_back(value);
        trailing->emplace(grpc::string_ref(k), grpc::string_ref(v));
      }
    }
    if (!fallback->body.empty()) *status = grpc::Status(status->error_code(), fallback->body);
  }

  std::deque<std::string> storage_;  // stable addresses
};

class FallbackInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(ClientRpcInfo*) override {
    return new FallbackInterceptor();
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeFallbackInterceptorFactory() {
  return std::make_unique<FallbackInterceptorFactory>();
}

}  // namespace grpc_cpp_polaris
