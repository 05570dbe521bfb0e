#include "sdk/balancer/balancer.h"


namespace grpc_cpp_polaris {

BalancerRegistry& BalancerRegistry::Global() {
  static BalancerRegistry* const registry = new BalancerRegistry();
  return *registry;
}

std::string CamelCaseName(absl::string_view name) {
  std::string camel;
  bool upper = false;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    camel.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return camel;
}

const BalancerFactory* FindBalancerByCallName(absl::string_view name) {
  for (const BalancerFactory* factory : BalancerRegistry::Global().All()) {
    if (factory->name() == name || CamelCaseName(factory->name()) == name) return factory;
  }
  return nullptr;
}

}  // namespace grpc_cpp_polaris
