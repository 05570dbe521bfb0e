// The standalone mock server as a separate process, the way users run it:
// a real client registers and discovers through it, and running out of file
// descriptors neither spins a core nor stops it for good.
#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "mockplane/child_process.h"
#include "mockplane/wait.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

// Starts the server (under `prefix`, e.g. prlimit) and reads its ports.
struct MockServer {
  std::unique_ptr<ChildProcess> process;
  std::string address;  // naming API
};

MockServer StartServer(std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = std::move(prefix);
  for (const char* arg : {"--naming_port=0", "--ratelimit_port=0", "--quiet"}) argv.push_back(arg);
  argv.insert(argv.begin() + (argv.size() - 3), RunfilesPath("mockplane/polaris_mock_server"));
  auto process = ChildProcess::Start(argv);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return {};
  absl::StatusOr<std::string> line = (*process)->ReadLine();
  EXPECT_TRUE(line.ok()) << line.status();
  // "polaris mock control plane: naming API on 127.0.0.1:PORT, rate limit on ..."
  const std::string marker = "naming API on ";
  const size_t at = line.ok() ? line->find(marker) : std::string::npos;
  EXPECT_NE(at, std::string::npos) << *line;
  MockServer server;
  server.process = std::move(*process);
  if (at != std::string::npos) {
    server.address = line->substr(at + marker.size(), line->find(',', at) - at - marker.size());
  }
  return server;
}

v1::Instance EchoInstance(uint32_t port) {
  v1::Instance instance;
  instance.mutable_service()->set_value("Echo");
  instance.mutable_namespace_()->set_value("default");
  instance.mutable_host()->set_value("127.0.0.1");
  instance.mutable_port()->set_value(port);
  return instance;
}

// Registers through `address`; the call waits for the server up to 20 s.
v1::Response Register(const std::string& address, uint32_t port) {
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::Response response;
  grpc::Status status = stub->RegisterInstance(&context, EchoInstance(port), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response;
}

TEST(PolarisMockServerProcessTest, ServesARealClient) {
  MockServer server = StartServer();
  ASSERT_FALSE(server.address.empty());
  EXPECT_EQ(Register(server.address, 8080).code().value(), v1::ExecuteSuccess);
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateChannel(server.address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->Discover(&context);
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value("Echo");
  request.mutable_service()->mutable_namespace_()->set_value("default");
  ASSERT_TRUE(stream->Write(request));
  v1::DiscoverResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.instances_size(), 1);
  EXPECT_EQ(response.instances(0).host().value(), "127.0.0.1");
  EXPECT_EQ(response.instances(0).port().value(), 8080u);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

int OpenDescriptors(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] != '.';
  closedir(dir);
  return count;
}

// User plus system CPU time of a process, in clock ticks.
int64_t CpuTicks(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // Fields after the command name (which is in parentheses): state is 3rd,
  // utime the 14th and stime the 15th of the whole line.
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) absl::SimpleAtoi(field, &utime);
    if (i == 15) absl::SimpleAtoi(field, &stime);
  }
  return utime + stime;
}

int ConnectTo(const std::string& address) {
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_port = htons(static_cast<uint16_t>(port));
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&target), sizeof(target)), 0);
  return fd;
}

// With its descriptors used up, accept4 fails with EMFILE while the pending
// connection stays readable; retrying at once spun a core (65% measured).
TEST(PolarisMockServerProcessTest, RunningOutOfDescriptorsBacksOffAndRecovers) {
  constexpr int kLimit = 64;
  MockServer server = StartServer({"/usr/bin/prlimit", "--nofile=" + std::to_string(kLimit)});
  ASSERT_FALSE(server.address.empty());
  const pid_t pid = server.process->pid();
  std::vector<int> connections;  // silent: they never send the HTTP/2 preface
  for (int i = 0; i < kLimit + 16; ++i) connections.push_back(ConnectTo(server.address));
  ASSERT_TRUE(WaitUntil([&] { return OpenDescriptors(pid) >= kLimit; }, absl::Seconds(20)))
      << OpenDescriptors(pid) << " descriptors open";
  const int64_t ticks_before = CpuTicks(pid);
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(2));  // the window measured, not an ordering
  const double cpu_share = static_cast<double>(CpuTicks(pid) - ticks_before) /
                           sysconf(_SC_CLK_TCK) / absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("mock server CPU while out of descriptors: %.1f%% of a core\n", 100 * cpu_share);
  EXPECT_LT(cpu_share, 0.2);
  // The silent connections go away; the server accepts real clients again.
  for (int fd : connections) close(fd);
  EXPECT_EQ(Register(server.address, 8080).code().value(), v1::ExecuteSuccess);
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
