// The mock config centre through a plain gRPC client of v1.PolarisConfigGRPC.
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "mockplane/control_plane.h"
#include "mockplane/wait.h"
#include "proto/v1/code.pb.h"
#include "proto/v1/grpc_config_api.grpc.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

v1::ClientConfigFileInfo FileInfo(const std::string& name, uint64_t version = 0) {
  v1::ClientConfigFileInfo info;
  info.mutable_namespace_()->set_value("default");
  info.mutable_group()->set_value("app");
  info.mutable_file_name()->set_value(name);
  if (version > 0) info.mutable_version()->set_value(version);
  return info;
}

class ConfigCentreTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(ControlPlaneOptions()); }

  // Watches are answered by a publish long before their (default, 30 s)
  // timeout, or the calls below hit their 10 s deadline.
  void Start(ControlPlaneOptions options) {
    auto plane = ControlPlane::Start(options);
    ASSERT_TRUE(plane.ok()) << plane.status();
    plane_ = std::move(*plane);
    stub_ = v1::PolarisConfigGRPC::NewStub(
        grpc::CreateChannel(plane_->address(), grpc::InsecureChannelCredentials()));
  }

  v1::ConfigClientResponse Get(const std::string& name) {
    grpc::ClientContext context;
    v1::ConfigClientResponse response;
    EXPECT_TRUE(stub_->GetConfigFile(&context, FileInfo(name), &response).ok());
    return response;
  }

  v1::ConfigClientResponse Watch(const std::string& name, uint64_t version) {
    v1::ClientWatchConfigFileRequest request;
    *request.add_watch_files() = FileInfo(name, version);
    return Watch(request);
  }

  v1::ConfigClientResponse Watch(const v1::ClientWatchConfigFileRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::ConfigClientResponse response;
    grpc::Status status = stub_->WatchConfigFiles(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Runs Watch(name, version) on a thread, and returns once the mock holds
  // the watch.
  std::thread WatchInBackground(const std::string& name, uint64_t version,
                                v1::ConfigClientResponse* response) {
    const size_t before = plane_->OpenConfigWatches();
    std::thread watcher([this, name, version, response] { *response = Watch(name, version); });
    EXPECT_TRUE(WaitUntil([&] { return plane_->OpenConfigWatches() > before; }, absl::Seconds(10)));
    return watcher;
  }

  std::unique_ptr<ControlPlane> plane_;
  std::unique_ptr<v1::PolarisConfigGRPC::Stub> stub_;
};

TEST_F(ConfigCentreTest, GetServesOnlyReleasedFiles) {
  EXPECT_EQ(Get("app.yaml").code().value(), v1::NotFoundResource);
  absl::StatusOr<uint64_t> version = plane_->PublishConfigFile("default", "app", "app.yaml", "a: 1");
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
  v1::ConfigClientResponse response = Get("app.yaml");
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.configfile().content().value(), "a: 1");
  EXPECT_EQ(response.configfile().version().value(), 1u);
  EXPECT_FALSE(response.configfile().md5().value().empty());
}

TEST_F(ConfigCentreTest, CreateUpdatePublishOverTheWire) {
  v1::ConfigFile file;
  file.mutable_namespace_()->set_value("default");
  file.mutable_group()->set_value("app");
  file.mutable_name()->set_value("db.json");
  file.mutable_content()->set_value("{}");
  v1::ConfigClientResponse response;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateConfigFile(&context, file, &response).ok());
    EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  }
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateConfigFile(&context, file, &response).ok());
    EXPECT_EQ(response.code().value(), v1::ExistedResource);
  }
  EXPECT_EQ(Get("db.json").code().value(), v1::NotFoundResource);  // a draft only
  file.mutable_content()->set_value(R"({"pool": 8})");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->UpdateConfigFile(&context, file, &response).ok());
    EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  }
  v1::ConfigFileRelease release;
  release.mutable_namespace_()->set_value("default");
  release.mutable_group()->set_value("app");
  release.mutable_file_name()->set_value("db.json");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->PublishConfigFile(&context, release, &response).ok());
    EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  }
  EXPECT_EQ(Get("db.json").configfile().content().value(), R"({"pool": 8})");
  release.mutable_file_name()->set_value("missing.json");
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->PublishConfigFile(&context, release, &response).ok());
    EXPECT_EQ(response.code().value(), v1::NotFoundResource);
  }
  file.clear_group();
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->CreateConfigFile(&context, file, &response).ok());
    EXPECT_EQ(response.code().value(), v1::BadRequest);
    EXPECT_EQ(response.info().value(), "group is required");
  }
}

TEST_F(ConfigCentreTest, WatchAnswersAtOnceWhenTheClientIsBehind) {
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 1").ok());
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 2").ok());
  v1::ConfigClientResponse response = Watch("app.yaml", 1);  // 30 s timeout, 10 s deadline
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.configfile().version().value(), 2u);
  EXPECT_EQ(response.configfile().file_name().value(), "app.yaml");
  EXPECT_EQ(plane_->OpenConfigWatches(), 0u);
}

TEST_F(ConfigCentreTest, WatchLongPollsUntilPublished) {
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 1").ok());
  v1::ConfigClientResponse response;
  std::thread watcher = WatchInBackground("app.yaml", 1, &response);
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 2").ok());
  watcher.join();
  EXPECT_EQ(response.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(response.configfile().version().value(), 2u);
}

TEST_F(ConfigCentreTest, PublishWakesOnlyTheWatchersOfThatFile) {
  for (const char* name : {"a.yaml", "b.yaml"}) {
    ASSERT_TRUE(plane_->PublishConfigFile("default", "app", name, "1").ok());
  }
  v1::ConfigClientResponse a_response, b_response;
  std::thread a_watcher = WatchInBackground("a.yaml", 1, &a_response);
  std::thread b_watcher = WatchInBackground("b.yaml", 1, &b_response);
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "a.yaml", "2").ok());
  a_watcher.join();
  EXPECT_EQ(a_response.configfile().file_name().value(), "a.yaml");
  EXPECT_EQ(plane_->OpenConfigWatches(), 1u);  // b's watch is still open
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "b.yaml", "2").ok());
  b_watcher.join();
  EXPECT_EQ(b_response.configfile().file_name().value(), "b.yaml");
  EXPECT_EQ(b_response.configfile().version().value(), 2u);
}

TEST_F(ConfigCentreTest, WatchTimesOutWithDataNoChange) {
  ControlPlaneOptions options;
  options.config_watch_timeout = absl::Milliseconds(200);
  Start(options);
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 1").ok());
  const absl::Time start = absl::Now();
  v1::ConfigClientResponse response = Watch("app.yaml", 1);
  EXPECT_EQ(response.code().value(), v1::DataNoChange);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(plane_->OpenConfigWatches(), 0u);
}

// 100 watches of 10,000 files each grew an uncapped mock by 890 MB.
TEST_F(ConfigCentreTest, WatchesAreCapped) {
  ControlPlaneOptions options;
  options.config_limits.max_files_per_watch = 3;
  options.config_limits.max_watchers = 2;
  options.config_limits.max_watched_files = 3;
  Start(options);
  v1::ClientWatchConfigFileRequest too_many_files;
  for (int i = 0; i < 4; ++i) *too_many_files.add_watch_files() = FileInfo("f" + std::to_string(i));
  v1::ConfigClientResponse response = Watch(too_many_files);
  EXPECT_EQ(response.code().value(), v1::BadRequest);
  EXPECT_NE(response.info().value().find("max_files_per_watch"), std::string::npos)
      << response.info().value();

  v1::ConfigClientResponse first, second;
  std::thread first_watcher = WatchInBackground("a.yaml", 0, &first);
  v1::ClientWatchConfigFileRequest three_files;
  for (const char* name : {"b.yaml", "c.yaml", "d.yaml"}) *three_files.add_watch_files() = FileInfo(name);
  response = Watch(three_files);  // 1 + 3 files would pass max_watched_files
  EXPECT_EQ(response.code().value(), v1::MaximumCapacityExceeded);
  EXPECT_NE(response.info().value().find("max_watched_files"), std::string::npos)
      << response.info().value();
  std::thread second_watcher = WatchInBackground("b.yaml", 0, &second);
  response = Watch("c.yaml", 0);  // a third watcher
  EXPECT_EQ(response.code().value(), v1::MaximumCapacityExceeded);
  EXPECT_NE(response.info().value().find("max_watchers"), std::string::npos)
      << response.info().value();

  // Answered watches make room again.
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "a.yaml", "1").ok());
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "b.yaml", "1").ok());
  first_watcher.join();
  second_watcher.join();
  EXPECT_EQ(first.code().value(), v1::ExecuteSuccess);
  EXPECT_EQ(second.code().value(), v1::ExecuteSuccess);
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "c.yaml", "1").ok());
  EXPECT_EQ(Watch(three_files).code().value(), v1::ExecuteSuccess);  // c.yaml is newer
}

TEST_F(ConfigCentreTest, DefaultCapRejectsAHugeWatchAtOnce) {
  v1::ClientWatchConfigFileRequest huge;
  for (int i = 0; i < 10000; ++i) *huge.add_watch_files() = FileInfo("f" + std::to_string(i));
  v1::ConfigClientResponse response = Watch(huge);
  EXPECT_EQ(response.code().value(), v1::BadRequest);
  EXPECT_EQ(plane_->OpenConfigWatches(), 0u);
}

TEST_F(ConfigCentreTest, WatchFaultsAndCancellation) {
  plane_->faults().FailNext("WatchConfigFiles", 1, absl::UnavailableError("down"));
  v1::ClientWatchConfigFileRequest request;
  *request.add_watch_files() = FileInfo("app.yaml", 0);
  {
    grpc::ClientContext context;
    v1::ConfigClientResponse response;
    EXPECT_EQ(stub_->WatchConfigFiles(&context, request, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  // A client that gives up early does not disturb the server, and its
  // watch is forgotten.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
  v1::ConfigClientResponse response;
  EXPECT_EQ(stub_->WatchConfigFiles(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitUntil([&] { return plane_->OpenConfigWatches() == 0; }, absl::Seconds(10)));
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "app.yaml", "a: 1").ok());
  EXPECT_EQ(Watch("app.yaml", 0).configfile().version().value(), 1u);
  v1::ClientWatchConfigFileRequest empty;
  grpc::ClientContext empty_context;
  ASSERT_TRUE(stub_->WatchConfigFiles(&empty_context, empty, &response).ok());
  EXPECT_EQ(response.code().value(), v1::BadRequest);
}

TEST_F(ConfigCentreTest, MetadataListShowsReleasedFiles) {
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "a.yaml", "a").ok());
  ASSERT_TRUE(plane_->PublishConfigFile("default", "app", "b.yaml", "b").ok());
  ASSERT_TRUE(plane_->PublishConfigFile("default", "other", "c.yaml", "c").ok());
  v1::ConfigFileGroupRequest request;
  request.mutable_config_file_group()->mutable_namespace_()->set_value("default");
  request.mutable_config_file_group()->mutable_name()->set_value("app");
  grpc::ClientContext context;
  v1::ConfigClientListResponse response;
  ASSERT_TRUE(stub_->GetConfigFileMetadataList(&context, request, &response).ok());
  ASSERT_EQ(response.config_file_infos_size(), 2);
  EXPECT_EQ(response.config_file_infos(1).file_name().value(), "b.yaml");
}

}  // namespace
}  // namespace mockplane
}  // namespace grpc_cpp_polaris
