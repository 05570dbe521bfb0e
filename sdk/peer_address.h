// The caller's IP from gRPC's peer string, as server-side rules (rate
// limits, block/allow lists by caller IP) match it.
//
// gRPC 1.51 reports peers as "ipv4:10.0.0.1:5000" and, for IPv6,
// "ipv6:%5B::1%5D:5000" (the brackets percent-encoded; other versions write
// "ipv6:[::1]:5000"). The IP comes back in one canonical text form, so that
// a rule matches however the address was written: IPv6 as inet_ntop
// writes it ("::1", lowercase, zeros compressed), and IPv4-mapped IPv6
// addresses ("::ffff:10.0.0.1", a dual-stack listener's IPv4 callers) as
// plain IPv4.
#ifndef GRPC_CPP_POLARIS_SDK_PEER_ADDRESS_H_
#define GRPC_CPP_POLARIS_SDK_PEER_ADDRESS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace grpc_cpp_polaris {

// The peer's IP, or nullopt when the peer has none (e.g. "unix:/path") or
// the string is malformed.
std::optional<std::string> PeerIp(absl::string_view peer);

// `ip` (v4 or v6, IPv6 optionally in brackets) in the canonical form above;
// nullopt when it is not an IP address.
std::optional<std::string> CanonicalIp(absl::string_view ip);

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_PEER_ADDRESS_H_
