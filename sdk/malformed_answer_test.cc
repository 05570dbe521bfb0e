// A control plane that sends one malformed Discover answer: only the service
// it names fails (with an error naming the field), the shared Discover
// stream stays up and the other services keep updating. The fake speaks raw
// bytes, so it can send what the mockplane never would.
#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/wait.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpcapi.grpc.pb.h"
#include "sdk/control_plane_client.h"
#include "sdk/tsan.h"
#include "sdk/watch_recorder.h"

namespace grpc_cpp_polaris {
namespace {

using mockplane::WaitUntil;

std::string Answer(const std::string& service, const std::string& revision, int instances) {
  v1::DiscoverResponse response;
  response.mutable_code()->set_value(v1::ExecuteSuccess);
  response.set_type(v1::DiscoverResponse::INSTANCE);
  response.mutable_service()->mutable_name()->set_value(service);
  response.mutable_service()->mutable_namespace_()->set_value("default");
  response.mutable_service()->mutable_revision()->set_value(revision);
  for (int i = 0; i < instances; ++i) {
    v1::Instance* instance = response.add_instances();
    instance->mutable_id()->set_value(service + std::to_string(i));
    instance->mutable_host()->set_value("127.0.0.1");
    instance->mutable_port()->set_value(8000 + i);
    instance->mutable_healthy()->set_value(true);
    instance->mutable_weight()->set_value(100);
  }
  return response.SerializeAsString();
}

// Two good instances, then a third whose host field claims 100 bytes that
// are not there.
std::string MalformedAnswer(const std::string& service) {
  const std::string broken_instance = std::string("\x12\x64", 2) + "short";
  return Answer(service, "bad-1", 2) + std::string("\x2a", 1) +
         static_cast<char>(broken_instance.size()) + broken_instance;
}

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// v1.PolarisGRPC with only Discover, answered from raw bytes: "Bad" gets a
// malformed answer, every other service one instance. gRPC runs the
// reactions on its threads: the sdk/tsan.h annotations tell ThreadSanitizer.
class RawDiscoverService final
    : public v1::PolarisGRPC::WithRawCallbackMethod_Discover<v1::PolarisGRPC::Service> {
 public:
  class Stream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Stream(RawDiscoverService* service) : service_(service) {
      TsanRelease(this);
      StartRead(&in_);
    }

    void OnReadDone(bool ok) override {
      TsanSerialized serialized(this);
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      v1::DiscoverRequest request;
      if (!grpc::SerializationTraits<v1::DiscoverRequest>::Deserialize(&in_, &request).ok()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad request"));
        return;
      }
      const std::string& name = request.service().name().value();
      if (request.service().revision().value().empty()) {
        Send(name == "Bad" ? MalformedAnswer(name) : Answer(name, "rev-1", 1));
      }
      TsanRelease(this);
      StartRead(&in_);
    }

    void OnWriteDone(bool ok) override {
      TsanSerialized serialized(this);
      std::lock_guard<std::mutex> lock(mu_);
      queue_.pop_front();
      if (ok && !queue_.empty()) StartWrite(&queue_.front());
    }

    void OnDone() override {
      TsanAcquire(this);
      service_->Forget(this);
      delete this;
    }

    void Send(const std::string& bytes) {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(Bytes(bytes));
      TsanRelease(this);
      if (queue_.size() == 1) StartWrite(&queue_.front());
    }

   private:
    RawDiscoverService* const service_;
    grpc::ByteBuffer in_;
    std::mutex mu_;
    std::deque<grpc::ByteBuffer> queue_;
  };

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Discover(
      grpc::CallbackServerContext* /*context*/) override {
    TsanAcquire(this);  // built on the test's thread
    std::lock_guard<std::mutex> lock(mu_);
    ++streams_opened_;
    streams_.push_back(new Stream(this));
    return streams_.back();
  }

  // Pushes bytes on every open stream.
  void Push(const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Stream* stream : streams_) stream->Send(bytes);
  }
  int streams_opened() {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_opened_;
  }
  // Streams whose OnDone has not run yet. Reading it under mu_ also orders
  // every OnDone before the service's destruction (for ThreadSanitizer, which
  // does not see gRPC's own synchronisation).
  size_t streams_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_.size();
  }

 private:
  void Forget(Stream* stream) {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(std::remove(streams_.begin(), streams_.end(), stream), streams_.end());
  }

  std::mutex mu_;
  std::vector<Stream*> streams_;
  int streams_opened_ = 0;
};

TEST(MalformedAnswerTest, FailsOnlyTheServiceItNames) {
  RawDiscoverService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  TsanRelease(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  WatchRecorder good, bad;
  {
    ControlPlaneOptions options;
    options.address = "127.0.0.1:" + std::to_string(port);
    options.refresh_interval = absl::Seconds(30);  // pushes must do the work
    ControlPlaneClient client(options);
    client.Watch(ServiceKey{"default", "Good"}, good.Callback());
    client.Watch(ServiceKey{"default", "Bad"}, bad.Callback());

    ASSERT_TRUE(WaitUntil([&] { return !bad.Updates().empty(); }, absl::Seconds(10)));
    const absl::Status error = bad.Updates()[0].status();
    EXPECT_TRUE(absl::IsInvalidArgument(error)) << error;
    EXPECT_NE(error.message().find("DiscoverResponse.instances[2]"), std::string::npos) << error;
    EXPECT_NE(error.message().find("default/Bad"), std::string::npos) << error;

    ASSERT_TRUE(WaitUntil([&] { return !good.Updates().empty(); }, absl::Seconds(10)));
    ASSERT_TRUE(good.Updates()[0].ok()) << good.Updates()[0].status();
    EXPECT_EQ((*good.Updates()[0])->instances.size(), 1u);

    // Good changes after the malformed answer: still delivered, on the same stream.
    service.Push(Answer("Good", "rev-2", 2));
    ASSERT_TRUE(WaitUntil(
        [&] {
          auto updates = good.Updates();
          return updates.back().ok() && (*updates.back())->instances.size() == 2;
        },
        absl::Seconds(10)));
    EXPECT_EQ(service.streams_opened(), 1);
    EXPECT_EQ(bad.Updates().size(), 1u);
  }
  server->Shutdown();
  EXPECT_TRUE(WaitUntil([&] { return service.streams_open() == 0; }, absl::Seconds(10)));
}

}  // namespace
}  // namespace grpc_cpp_polaris
