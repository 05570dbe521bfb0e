#include "sdk/model.h"

namespace grpc_cpp_polaris {

std::string Instance::Address() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace grpc_cpp_polaris
