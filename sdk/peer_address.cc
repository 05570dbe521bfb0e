#include "sdk/peer_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_replace.h"

namespace grpc_cpp_polaris {

std::optional<std::string> CanonicalIp(absl::string_view ip) {
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.empty() || ip.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string text(ip);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    char out[INET_ADDRSTRLEN];
    return std::string(inet_ntop(AF_INET, &v4, out, sizeof(out)));
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return std::nullopt;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    in_addr mapped{};
    std::memcpy(&mapped, &v6.s6_addr[12], sizeof(mapped));
    char out[INET_ADDRSTRLEN];
    return std::string(inet_ntop(AF_INET, &mapped, out, sizeof(out)));
  }
  char out[INET6_ADDRSTRLEN];
  return std::string(inet_ntop(AF_INET6, &v6, out, sizeof(out)));
}

std::optional<std::string> PeerIp(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    const size_t colon = peer.rfind(':');
    if (colon == absl::string_view::npos) return std::nullopt;
    return CanonicalIp(peer.substr(0, colon));
  }
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    // "%5B::1%5D:5000" (1.51) or "[::1]:5000".
    const std::string decoded = absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"},
                                                           {"%5b", "["}, {"%5d", "]"},
                                                           {"%25", "%"}});
    const size_t close = decoded.rfind(']');
    if (decoded.empty() || decoded.front() != '[' || close == std::string::npos) {
      return std::nullopt;
    }
    absl::string_view host = absl::string_view(decoded).substr(1, close - 1);
    // A zone ("fe80::1%eth0") is not part of the address rules match.
    const size_t zone = host.find('%');
    if (zone != absl::string_view::npos) host = host.substr(0, zone);
    return CanonicalIp(host);
  }
  return std::nullopt;
}

}  // namespace grpc_cpp_polaris
