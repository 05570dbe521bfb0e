#include "mockplane/control_plane.h"

#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "mockplane/naming_registry.h"
#include "mockplane/naming_service.h"

namespace grpc_cpp_polaris {
namespace mockplane {

ControlPlane::ControlPlane(ControlPlaneOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(ControlPlaneOptions options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("options.clock is null");
  std::unique_ptr<ControlPlane> plane(new ControlPlane(std::move(options)));
  plane->registry_ = std::make_unique<NamingRegistry>(plane->options_.clock);
  plane->naming_service_ = std::make_unique<NamingService>(plane->registry_.get());
  grpc::ServerBuilder builder;
  const std::string listen = absl::StrCat(plane->options_.host, ":", plane->options_.port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &plane->port_);
  builder.RegisterService(plane->naming_service_.get());
  plane->server_ = builder.BuildAndStart();
  if (plane->server_ == nullptr || plane->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("mock control plane: cannot listen on ", listen));
  }
  ControlPlane* raw = plane.get();
  plane->health_thread_ = std::thread([raw] {
    std::unique_lock<std::mutex> lock(raw->stop_mu_);
    while (!raw->stop_cv_.wait_for(lock,
                                   absl::ToChronoNanoseconds(raw->options_.health_check_interval),
                                   [raw] { return raw->stopping_; })) {
      lock.unlock();
      raw->registry_->CheckHealth();
      lock.lock();
    }
  });
  return plane;
}

ControlPlane::~ControlPlane() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (health_thread_.joinable()) health_thread_.join();
  if (server_ != nullptr) {
    // Open Discover streams are cancelled at the deadline.
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
    server_->Wait();
  }
}

std::string ControlPlane::address() const {
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  return absl::StrCat(ipv6 ? "[" : "", options_.host, ipv6 ? "]" : "", ":", port_);
}

std::vector<Instance> ControlPlane::Instances(const ServiceKey& key) const {
  return registry_->Instances(key);
}

std::string ControlPlane::Revision(const ServiceKey& key) const {
  return registry_->Revision(key);
}

bool ControlPlane::SetIsolate(const ServiceKey& key, const std::string& instance_id,
                              bool isolate) {
  return registry_->SetIsolate(key, instance_id, isolate);
}

bool ControlPlane::SetWeight(const ServiceKey& key, const std::string& instance_id,
                             uint32_t weight) {
  return registry_->SetWeight(key, instance_id, weight);
}

void ControlPlane::SetClientLocation(const std::string& host, const Location& location) {
  registry_->SetClientLocation(host, location);
}

void ControlPlane::CheckHealthNow() { registry_->CheckHealth(); }

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
