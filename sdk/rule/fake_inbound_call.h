// For tests: an InboundCall over plain values.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_FAKE_INBOUND_CALL_H_
#define GRPC_CPP_POLARIS_SDK_RULE_FAKE_INBOUND_CALL_H_

#include <map>
#include <optional>
#include <string>

#include "sdk/rule/inbound_call.h"

namespace grpc_cpp_polaris {
namespace testing {

struct FakeInboundCall : InboundCall {
  std::string method_name = "/echo.EchoService/Echo";
  std::string ip = "127.0.0.1";
  std::map<std::string, std::string> headers;

  absl::string_view method() const override { return method_name; }
  absl::string_view caller_ip() const override { return ip; }
  std::optional<absl::string_view> Header(absl::string_view key,
                                          std::string* /*buffer*/) const override {
    auto it = headers.find(std::string(key));
    if (it == headers.end()) return std::nullopt;
    return absl::string_view(it->second);
  }
};

}  // namespace testing
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_FAKE_INBOUND_CALL_H_
