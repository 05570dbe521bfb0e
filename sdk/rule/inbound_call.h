// InboundCall: a call arriving at a server, as the server's rules (rate
// limits, access control, fault injection) see it, and ArgumentMatcher, one
// condition of such a rule on one attribute of the call.
//
// The server filter implements InboundCall over gRPC's metadata; unit tests
// implement it over maps. Attributes are read only when some rule asks.
#ifndef GRPC_CPP_POLARIS_SDK_RULE_INBOUND_CALL_H_
#define GRPC_CPP_POLARIS_SDK_RULE_INBOUND_CALL_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/rule/string_matcher.h"

namespace grpc_cpp_polaris {

class InboundCall {
 public:
  virtual ~InboundCall() = default;
  // The gRPC method, "/package.Service/Method".
  virtual absl::string_view method() const = 0;
  // The caller's IP as CanonicalIp (sdk/peer_address.h) writes it: IPv6
  // canonical, IPv4-mapped addresses as IPv4. Empty when unknown.
  virtual absl::string_view caller_ip() const = 0;
  // A request header (gRPC metadata key, lowercase); `buffer` may hold the
  // returned value.
  virtual std::optional<absl::string_view> Header(absl::string_view key,
                                                  std::string* buffer) const = 0;
  // The caller's service, namespace and metadata, as polaris:// channels and
  // grpc-go-polaris send them (sdk/call_metadata.h). The defaults read them
  // from the headers.
  virtual std::optional<absl::string_view> CallerService(std::string* buffer) const;
  virtual std::optional<absl::string_view> CallerNamespace(std::string* buffer) const;
  virtual std::optional<std::string> CallerMetadata(absl::string_view key) const;
  // The called instance's own metadata entry `key` (none by default).
  virtual std::optional<absl::string_view> CalleeMetadata(absl::string_view /*key*/) const {
    return std::nullopt;
  }
};

// One condition of a server rule: an attribute of the call and what its
// value must match.
struct ArgumentMatcher {
  enum class Attribute {
    kCustom,          // a header named `key` (the application's own label), or
                      // else the caller's metadata entry `key`
    kMethod,          // the gRPC method (see MethodMatches)
    kHeader,          // the header `key`
    kQuery,           // HTTP query parameters: gRPC has none, never present
    kCallerService,   // the caller's service; `key`, if set, its namespace
    kCallerIp,        // the caller's IP
    kCallerMetadata,  // the caller's metadata entry `key`
    kCalleeMetadata,  // the called instance's metadata entry `key`
  };
  Attribute attribute = Attribute::kCustom;
  std::string key;
  StringMatcher value;

  // The call's value of the attribute (nullopt when absent); `buffer` may
  // hold it.
  std::optional<absl::string_view> ValueOf(const InboundCall& call, std::string* buffer) const;
  bool Matches(const InboundCall& call) const;
};

// The key a rule argument names, as calls carry it: gRPC metadata keys are
// lowercase, so header keys (kHeader, kCustom) are lowered.
std::string KeyOf(ArgumentMatcher::Attribute attribute, absl::string_view key);

// Whether a rule's method matcher matches `method` ("/package.Service/Method").
// EXACT and IN values without a '/' name the bare method ("Method"), as
// grpc-go-polaris sends it when a server has no service name of its own.
bool MethodMatches(const StringMatcher& matcher, absl::string_view method);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_RULE_INBOUND_CALL_H_
