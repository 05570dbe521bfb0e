#include "sdk/model.h"

namespace grpc_cpp_polaris {

std::string JoinHostPort(const std::string& host, uint32_t port) {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Instance::Address() const { return JoinHostPort(host, port); }

}  // namespace grpc_cpp_polaris
