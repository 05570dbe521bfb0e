// ServiceView: everything the governance layer knows about one service at
// one moment: its instances and its validated rules, published together as
// one immutable object, so that a router sees instances and rules of the
// same moment and readers never need a lock.
//
// Rules arrive as answers of separate Discover resources (ROUTING, LANE, ...,
// see resource.h). A RuleParser turns the answers of the types it reads into
// its ParsedRules; parsers are registered by name (sdk/builtin_governance.cc),
// and a capability reads its own with ServiceView::Rules<T>(). A parser that
// rejects an answer (a bad regex, an unknown enum: the error names the
// field) leaves its last good rules in force.
#ifndef GRPC_CPP_POLARIS_SDK_SERVICE_VIEW_H_
#define GRPC_CPP_POLARIS_SDK_SERVICE_VIEW_H_

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sdk/control_plane_client.h"
#include "sdk/model.h"
#include "sdk/registry.h"
#include "sdk/resource.h"

namespace grpc_cpp_polaris {

// The parsed form of some rules; each capability derives its own.
class ParsedRules {
 public:
  virtual ~ParsedRules() = default;
};

// The answers a parser reads, by resource type; null when the type has not
// been received (or the server does not serve it).
using ResourceAnswers = std::array<ResourceUpdatePtr, kResourceTypeCount>;

// Whose governance a parser's rules serve: callers (channels, for the
// services they call), callees (servers, for their own service), or both. A
// watch reads only the parsers of its audience, so that a channel does not
// fetch the rate limits of every service it calls.
enum class RuleAudience : uint8_t { kCaller = 1, kCallee = 2, kBoth = 3 };

class RuleParser {
 public:
  virtual ~RuleParser() = default;
  virtual absl::string_view name() const = 0;
  virtual RuleAudience audience() const { return RuleAudience::kCaller; }
  // The resource types it reads; the view watches them.
  virtual std::vector<ResourceType> sources() const = 0;
  // InvalidArgument naming the bad field (e.g. "ROUTING routing.rules[2]
  // (id r-2): routing_config: unknown type_url ...").
  virtual absl::StatusOr<std::shared_ptr<const ParsedRules>> Parse(
      const ServiceKey& key, const ResourceAnswers& answers) const = 0;
};

// The parsers known to the process, by name (the built-in ones are
// registered by RegisterBuiltinGovernance(), sdk/builtin_governance.h).
class RuleParserRegistry : public NamedRegistry<RuleParser> {
 public:
  static RuleParserRegistry& Global();

 private:
  RuleParserRegistry() : NamedRegistry("rule parser") {}
};

struct ServiceView {
  ServiceKey key;
  // The instances, never null.
  ServiceSnapshotPtr instances;
  // The revision of each resource type the view is built from ("" if none).
  std::array<std::string, kResourceTypeCount> revisions;
  // The last good rules of each parser, by parser name.
  std::map<std::string, std::shared_ptr<const ParsedRules>, std::less<>> rules;
  // Why a parser's newest answers were rejected (its last good rules stay).
  std::map<std::string, absl::Status, std::less<>> rejected;

  // The rules T's parser produced (T::kParserName), or null.
  template <typename T>
  std::shared_ptr<const T> Rules() const {
    auto it = rules.find(T::kParserName);
    return it == rules.end() ? nullptr : std::static_pointer_cast<const T>(it->second);
  }
};
using ServiceViewPtr = std::shared_ptr<const ServiceView>;

// Watches one service's instances and the rule types `parsers` read, and
// publishes a new ServiceView whenever any of them changes. The first view
// is published once the instances and every rule type have answered (an
// error, e.g. a type the server does not serve, counts as an answer), so the
// first calls already see the rules. Callbacks are serialised and follow the
// rules of ControlPlaneClient::WatchCallback; an error is delivered only while
// no view has been published. Destruction stops the callbacks.
class ServiceViewWatch {
 public:
  using Callback = std::function<void(absl::StatusOr<ServiceViewPtr>)>;

  // With `missing_service_is_empty`, a service the control plane does not
  // know (NOT_FOUND for its instances) has no instances rather than failing
  // the watch, so that its rules are still published: what a server of a
  // service with no instance yet needs.
  ServiceViewWatch(std::shared_ptr<ControlPlaneClient> client, ServiceKey key,
                   std::vector<const RuleParser*> parsers, Callback callback,
                   bool missing_service_is_empty = false);
  ~ServiceViewWatch();

  ServiceViewWatch(const ServiceViewWatch&) = delete;
  ServiceViewWatch& operator=(const ServiceViewWatch&) = delete;

 private:
  class State;
  std::shared_ptr<ControlPlaneClient> client_;
  std::shared_ptr<State> state_;
  std::vector<ControlPlaneClient::WatchId> watches_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_SERVICE_VIEW_H_
