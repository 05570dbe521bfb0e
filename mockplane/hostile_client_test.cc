// Clients that misbehave on purpose: garbage on the Discover stream, a
// stream that watches too much, a client that never reads its answers,
// connections that never speak HTTP/2. Each gets a clear error or is shed,
// and what the mock holds stays bounded.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/sync_stream.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::DiscoverRequest DiscoverInstances(const std::string& service) {
  v1::DiscoverRequest request;
  request.set_type(v1::DiscoverRequest::INSTANCE);
  request.mutable_service()->mutable_name()->set_value(service);
  request.mutable_service()->mutable_namespace_()->set_value("default");
  return request;
}

v1::Instance Instance(const std::string& service, uint32_t port, int metadata_entries = 0,
                      size_t value_bytes = 0) {
  v1::Instance instance;
  instance.mutable_service()->set_value(service);
  instance.mutable_namespace_()->set_value("default");
  instance.mutable_host()->set_value("127.0.0.1");
  instance.mutable_port()->set_value(port);
  for (int i = 0; i < metadata_entries; ++i) {
    (*instance.mutable_metadata())["key" + std::to_string(i)] = std::string(value_bytes, 'v');
  }
  return instance;
}

// Resident memory of this process, from /proc/self/statm.
int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

class HostileClientTest : public ::testing::Test {
 protected:
  void Start(ControlPlaneOptions options = {}) {
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    channel_ = grpc::CreateChannel(plane_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::PolarisGRPC::NewStub(channel_);
  }

  void Register(const v1::Instance& instance) {
    grpc::ClientContext context;
    v1::Response response;
    ASSERT_TRUE(stub_->RegisterInstance(&context, instance, &response).ok());
    ASSERT_EQ(response.code().value(), v1::ExecuteSuccess) << response.info().value();
  }

  std::unique_ptr<ControlPlane> plane_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PolarisGRPC::Stub> stub_;
};

TEST_F(HostileClientTest, GarbageOnTheDiscoverStreamEndsItWithInvalidArgument) {
  Start();
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel_.get(),
          grpc::internal::RpcMethod("/v1.PolarisGRPC/Discover",
                                    grpc::internal::RpcMethod::BIDI_STREAMING),
          &context));
  // A field tag whose varint never ends: no protobuf parser accepts it.
  const std::string garbage(16, '\xff');
  grpc::Slice slice(garbage);
  grpc::ByteBuffer buffer(&slice, 1);
  ASSERT_TRUE(stream->Write(buffer));
  grpc::ByteBuffer answer;
  EXPECT_FALSE(stream->Read(&answer));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("v1.DiscoverRequest"), std::string::npos)
      << status.error_message();

  // The mock is unharmed: a well-formed stream is answered.
  grpc::ClientContext good_context;
  auto good = stub_->Discover(&good_context);
  ASSERT_TRUE(good->Write(DiscoverInstances("Echo")));
  v1::DiscoverResponse response;
  ASSERT_TRUE(good->Read(&response));
  EXPECT_EQ(response.code().value(), v1::NotFoundResource);
  good->WritesDone();
  EXPECT_TRUE(good->Finish().ok());
}

TEST_F(HostileClientTest, AStreamWatchingTooMuchEndsWithResourceExhausted) {
  ControlPlaneOptions options;
  options.naming_limits.max_watches_per_stream = 3;
  Start(options);
  grpc::ClientContext context;
  auto stream = stub_->Discover(&context);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(stream->Write(DiscoverInstances("S" + std::to_string(i))));
  ASSERT_TRUE(stream->Write(DiscoverInstances("S0")));  // watched already: fine
  ASSERT_TRUE(stream->Write(DiscoverInstances("S3")));  // the fourth
  v1::DiscoverResponse response;
  int answers = 0;
  while (answers < 10 && stream->Read(&response)) ++answers;
  EXPECT_EQ(answers, 4);
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("max_watches_per_stream"), std::string::npos)
      << status.error_message();
}

// A client that asks and never reads: an uncapped mock queued every answer
// (300 requests of 256 KB answers grew it by 235 MB). Here the answers wait
// as keys, a change replaces the answer waiting for its service, and the
// stream's requests are not read past max_queued_answers_per_stream.
TEST_F(HostileClientTest, AClientThatNeverReadsHoldsBoundedAnswers) {
  Start();
  // A 1 MB answer, far beyond the HTTP/2 window of a client that never reads.
  for (uint32_t port = 1; port <= 16; ++port) Register(Instance("Big", port, 64, 1024));
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 65536);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);
  auto stub = v1::PolarisGRPC::NewStub(
      grpc::CreateCustomChannel(plane_->address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  auto stream = stub->Discover(&context);
  ASSERT_TRUE(stream->Write(DiscoverInstances("Big")));
  constexpr int kSmallServices = 300;
  for (int i = 0; i < kSmallServices; ++i) {
    ASSERT_TRUE(stream->Write(DiscoverInstances("S" + std::to_string(i))));
  }
  ASSERT_TRUE(WaitUntil([&] { return plane_->DiscoverStats().paused_streams == 1; },
                        absl::Seconds(20)));
  EXPECT_EQ(plane_->DiscoverStats().queued_answers, 64u);  // the default cap

  // 100 changes of Big while its first answer is still stuck: one waits.
  const int64_t resident_before = ResidentBytes();
  for (uint32_t port = 100; port < 200; ++port) Register(Instance("Big", port));
  EXPECT_EQ(plane_->DiscoverStats().queued_answers, 65u);
  const int64_t growth = ResidentBytes() - resident_before;
#ifndef UNDER_ASAN  // ASan's quarantine keeps freed memory resident
  // Queued answers of 1 MB each would have grown it by 100 MB.
  EXPECT_LT(growth, 32 << 20) << growth;
#endif
  std::printf("resident growth after 100 changes while not reading: %.1f MB\n", growth / 1e6);

  // The client reads at last: every request is answered, Big with its latest
  // revision, and nothing more.
  const std::string latest = plane_->Revision(ServiceKey{"default", "Big"});
  stream->WritesDone();
  v1::DiscoverResponse response;
  int small_answers = 0, big_answers = 0;
  std::string big_revision;
  while (small_answers + big_answers < kSmallServices + 10 && stream->Read(&response)) {
    if (response.service().name().value() == "Big") {
      ++big_answers;
      big_revision = response.service().revision().value();
    } else {
      ++small_answers;
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(small_answers, kSmallServices);
  EXPECT_EQ(big_answers, 2);  // the stuck first answer, then the latest
  EXPECT_EQ(big_revision, latest);
  EXPECT_EQ(plane_->DiscoverStats().queued_answers, 0u);
}

// A TCP connection to the mock's naming port (closed on destruction).
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    timeval timeout{20, 0};  // a bound for ClosedByPeer, not an expectation
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Waits for the peer to close the connection; false if it did not within
  // the receive timeout (or sent something).
  bool ClosedByPeer() {
    char byte;
    const ssize_t n = recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_;
  bool connected_ = false;
};

TEST_F(HostileClientTest, ConnectionsThatNeverSpeakHttp2AreClosed) {
  ControlPlaneOptions options;
  options.handshake_timeout = absl::Seconds(1);
  Start(options);
  RawConnection silent(plane_->port());
  RawConnection http1(plane_->port());
  ASSERT_TRUE(silent.connected() && http1.connected());
  const absl::Time start = absl::Now();
  ASSERT_TRUE(http1.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(http1.ClosedByPeer());
  EXPECT_TRUE(silent.ClosedByPeer());
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));  // not before its time
  Register(Instance("Echo", 1));  // real clients are served meanwhile
}

TEST_F(HostileClientTest, PendingHandshakesAreCappedOldestFirst) {
  ControlPlaneOptions options;
  options.max_pending_handshakes = 2;
  options.handshake_timeout = absl::Minutes(5);
  Start(options);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<RawConnection>(plane_->port()));
    ASSERT_TRUE(idle.back()->connected());
  }
  EXPECT_TRUE(idle[0]->ClosedByPeer());  // made room for the third
  // A real client evicts another idle one, and is served.
  Register(Instance("Echo", 1));
  EXPECT_TRUE(idle[1]->ClosedByPeer());
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
