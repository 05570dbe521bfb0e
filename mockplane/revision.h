// The kinds of resource the mock control plane serves through Discover, and
// their revisions: unique across restarts of the mockplane (a random epoch
// prefix), so that a client holding a revision from before a restart that
// lost state never sees it reused.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_REVISION_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_REVISION_H_

#include <atomic>
#include <cstdint>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/v1/request.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// A kind of resource (INSTANCE, SERVICES, ROUTING, ...).
using DiscoverType = v1::DiscoverRequest::DiscoverRequestType;

class RevisionSource {
 public:
  RevisionSource() : epoch_(absl::StrFormat("%08x", std::random_device()())) {}
  // Thread-safe.
  std::string Next() { return absl::StrCat(epoch_, "-", next_.fetch_add(1)); }

 private:
  const std::string epoch_;
  std::atomic<uint64_t> next_{1};
};

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_REVISION_H_
