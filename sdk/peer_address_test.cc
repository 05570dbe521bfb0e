#include "sdk/peer_address.h"

#include <gtest/gtest.h>

namespace grpc_cpp_polaris {
namespace {

TEST(PeerAddressTest, Ipv4) {
  EXPECT_EQ(PeerIp("ipv4:127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(PeerIp("ipv4:10.1.2.3:1"), "10.1.2.3");
}

TEST(PeerAddressTest, Ipv6AsGrpc151WritesItAndOthers) {
  EXPECT_EQ(PeerIp("ipv6:%5B::1%5D:5000"), "::1");
  EXPECT_EQ(PeerIp("ipv6:[::1]:5000"), "::1");
  EXPECT_EQ(PeerIp("ipv6:%5B2001:DB8:0:0::1%5D:443"), "2001:db8::1");
  EXPECT_EQ(PeerIp("ipv6:%5Bfe80::1%25eth0%5D:443"), "fe80::1");
}

TEST(PeerAddressTest, Ipv4MappedBecomesIpv4) {
  EXPECT_EQ(PeerIp("ipv6:%5B::ffff:10.0.0.1%5D:5000"), "10.0.0.1");
  EXPECT_EQ(CanonicalIp("::FFFF:127.0.0.1"), "127.0.0.1");
}

TEST(PeerAddressTest, CanonicalFormsMatchHoweverWritten) {
  EXPECT_EQ(CanonicalIp("0:0:0:0:0:0:0:1"), CanonicalIp("::1"));
  EXPECT_EQ(CanonicalIp("[::1]"), "::1");
  EXPECT_EQ(CanonicalIp("192.168.0.1"), "192.168.0.1");
}

TEST(PeerAddressTest, NoIpOrMalformed) {
  EXPECT_EQ(PeerIp("unix:/tmp/socket"), std::nullopt);
  EXPECT_EQ(PeerIp("ipv4:nonsense"), std::nullopt);
  EXPECT_EQ(PeerIp("ipv4:1.2.3:5"), std::nullopt);
  EXPECT_EQ(PeerIp("ipv6:::1:5000"), std::nullopt);  // no brackets
  EXPECT_EQ(PeerIp(""), std::nullopt);
  EXPECT_EQ(CanonicalIp("example.com"), std::nullopt);
  EXPECT_EQ(CanonicalIp(""), std::nullopt);
}

}  // namespace
}  // namespace grpc_cpp_polaris
