// Channels created, used once and dropped while the control plane pushes
// instance changes as fast as it can: the resolver's last reference must
// never be dropped on the control-plane client's threads (that crashed with
// SIGSEGV within seconds before the resolver held its watch through a
// bridge). Run under the plain build, ASan and TSan.
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/polaris_client.h"
#include "mockplane/control_plane.h"
#include "mockplane/echo_backend.h"
#include "proto/echo/echo.grpc.pb.h"
#include "sdk/control_plane_client.h"

namespace grpc_cpp_polaris {
namespace {

TEST(ChannelChurnTest, ChannelsComeAndGoWhileInstancesChange) {
  auto plane = mockplane::ControlPlane::Start();
  ASSERT_TRUE(plane.ok()) << plane.status();
  auto backend = mockplane::EchoBackend::Start({"steady"});
  ASSERT_TRUE(backend.ok()) << backend.status();
  ControlPlaneOptions registrar_options;
  registrar_options.address = (*plane)->address();
  ControlPlaneClient registrar(registrar_options);
  InstanceRegistration steady;
  steady.key = ServiceKey{"default", "Echo"};
  steady.instance.host = "127.0.0.1";
  steady.instance.port = static_cast<uint32_t>((*backend)->port());
  steady.ttl_seconds = 0;
  ASSERT_TRUE(registrar.RegisterInstance(steady).ok());

  // An instance that nobody serves comes and goes every few ms: each change
  // is pushed to every channel's resolver.
  std::atomic<bool> stop{false};
  std::atomic<int> changes{0};
  std::thread flapper([&] {
    InstanceRegistration flapping = steady;
    flapping.instance.port = 1;  // never picked: it never connects
    absl::StatusOr<std::string> id;
    while (!stop.load()) {
      id = registrar.RegisterInstance(flapping);
      if (id.ok()) {
        const absl::Status removed = registrar.DeregisterInstance(
            InstanceRef{flapping.key, *id, flapping.instance.host, flapping.instance.port, ""});
        changes += removed.ok() ? 2 : 1;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
  });

  // Counts, not a time window: a loaded machine (or a sanitizer) only makes
  // the test take longer. The deadline only bounds the loop.
  constexpr int kChannels = 50;
  constexpr int kChanges = 300;
  const absl::Time end = absl::Now() + absl::Seconds(120);
  int channels = 0;
  int failed = 0;
  std::string last_error;
  while ((channels < kChannels || changes.load() < kChanges) && absl::Now() < end) {
    grpc::ChannelArguments args;
    args.SetString(kControlPlaneAddressArg, (*plane)->address());
    // A fresh channel each time, never shared through gRPC's subchannel pool.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel =
        grpc::CreateCustomChannel("polaris://Echo", grpc::InsecureChannelCredentials(), args);
    auto stub = echo::EchoServer::NewStub(channel);
    absl::StatusOr<std::string> who =
        mockplane::CallEcho(*stub, absl::Seconds(10), /*wait_for_ready=*/true);
    if (!who.ok()) {
      ++failed;
      last_error = who.status().ToString();
    }
    ++channels;
  }
  stop = true;
  flapper.join();
  std::cerr << channels << " channels, " << changes.load() << " instance changes\n";
  EXPECT_EQ(failed, 0) << last_error;
  EXPECT_GE(channels, kChannels);
  EXPECT_GE(changes.load(), kChanges);
}

}  // namespace
}  // namespace grpc_cpp_polaris
