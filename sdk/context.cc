#include "sdk/context.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <thread>
#include <map>
#include <set>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sdk/balancer/balancer.h"
#include "sdk/builtin_governance.h"
#include "sdk/router/router.h"
#include "sdk/router/routing_rules.h"

namespace grpc_cpp_polaris {

absl::Status ContextOptions::Validate() const {
  RegisterBuiltinGovernance();
  if (absl::Status status = control_plane.Validate(); !status.ok()) return status;
  if (absl::Status status = governance.Validate(); !status.ok()) return status;
  for (size_t i = 0; i < governance.routers.size(); ++i) {
    absl::StatusOr<const RouterFactory*> router =
        RouterRegistry::Global().Find(governance.routers[i]);
    if (!router.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("GovernanceOptions.routers[", i, "]: ",
                                                     router.status().message()));
    }
  }
  absl::StatusOr<const BalancerFactory*> balancer =
      BalancerRegistry::Global().Find(governance.balancer);
  if (!balancer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("GovernanceOptions.balancer: ", balancer.status().message()));
  }
  return absl::OkStatus();
}

namespace {

// Identifies a configuration for Shared(): every field that changes
// behaviour, each length-prefixed so that no two configurations collide.
std::string OptionsKey(const ContextOptions& options) {
  std::string key = options.control_plane.Key();
  auto add = [&key](absl::string_view value) { absl::StrAppend(&key, value.size(), ":", value); };
  auto add_map = [&add](const std::map<std::string, std::string>& map) {
    add(absl::StrCat(map.size()));
    for (const auto& [name, value] : map) {
      add(name);
      add(value);
    }
  };
  const CallerIdentity& caller = options.caller;
  add(caller.service.service_namespace);
  add(caller.service.service);
  add_map(caller.metadata);
  add(caller.location.region);
  add(caller.location.zone);
  add(caller.location.campus);
  add(caller.ip);
  const GovernanceOptions& governance = options.governance;
  add(absl::StrCat(governance.routers.size()));
  for (const std::string& router : governance.routers) add(router);
  add(governance.balancer);
  add(governance.hash_key_header);
  add_map(governance.metadata.failover_metadata);
  add(absl::StrCat(options.learn_location, ",", governance.recover_all, ",",
                   static_cast<int>(governance.rule.failover), ",", governance.nearby.enabled, ",",
                   static_cast<int>(governance.nearby.match_level), ",",
                   static_cast<int>(governance.nearby.max_match_level), ",",
                   governance.nearby.unhealthy_percent_to_degrade, ",",
                   static_cast<int>(governance.metadata.failover), ",",
                   static_cast<int>(governance.lane.baseline)));
  add(governance.circuit_breaking.Key());
  add(governance.warmup.Key());
  add(absl::StrCat(governance.health_check.enabled, ",", governance.health_check.service));
  return key;
}

}  // namespace

std::string LocalAddressTowards(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), address.substr(colon + 1).c_str(), &hints, &found) != 0) return "";
  std::string local;
  for (addrinfo* info = found; info != nullptr && local.empty(); info = info->ai_next) {
    const int fd = socket(info->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    // A UDP connect sends nothing: it only picks the route and source address.
    sockaddr_storage own{};
    socklen_t length = sizeof(own);
    if (connect(fd, info->ai_addr, info->ai_addrlen) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&own), &length) == 0) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw = own.ss_family == AF_INET6
                            ? static_cast<const void*>(
                                  &reinterpret_cast<sockaddr_in6*>(&own)->sin6_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&own)->sin_addr);
      if (inet_ntop(own.ss_family, raw, text, sizeof(text)) != nullptr) local = text;
    }
    close(fd);
  }
  freeaddrinfo(found);
  return local;
}

struct Context::State {
  explicit State(ContextOptions options_in)
      : options(std::move(options_in)),
        client(ControlPlaneClient::Shared(options.control_plane)),
        caller(std::make_shared<const CallerIdentity>(options.caller)) {}

  const ContextOptions options;
  const std::shared_ptr<ControlPlaneClient> client;
  std::mutex mu;
  std::condition_variable stop_cv;
  std::shared_ptr<const CallerIdentity> caller;             // guarded by mu
  std::map<ListenerId, std::function<void()>> listeners;    // guarded by mu
  ListenerId next_listener_id = 1;                          // guarded by mu
  bool stopping = false;                                    // guarded by mu
  // Things the first routing waits for: the location's first answer, and
  // the first answer of each of the caller's rule types.
  int pending = 0;                                          // guarded by mu
  bool location_pending = false;                            // guarded by mu
  ResourceAnswers caller_answers;                           // guarded by mu
  std::array<bool, kResourceTypeCount> caller_answered{};   // guarded by mu
  std::vector<ControlPlaneClient::WatchId> caller_watches;  // guarded by mu
  // Notifications in progress, and the threads running them: removing a
  // listener waits for them, except from inside one (a listener may run the
  // channel's work serializer inline, and so the resolver's shutdown).
  int notifying = 0;                                        // guarded by mu
  std::multiset<std::thread::id> notifiers;                 // guarded by mu
  std::condition_variable notified_cv;
};

absl::StatusOr<std::shared_ptr<Context>> Context::Create(const ContextOptions& options) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  auto state = std::make_shared<State>(options);
  std::shared_ptr<Context> context(new Context(state));
  const Location& location = options.caller.location;
  const bool complete =
      !location.region.empty() && !location.zone.empty() && !location.campus.empty();
  if (options.learn_location && !complete) {
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->location_pending = true;
      ++state->pending;
    }
    std::thread([state] { LearnLocation(state); }).detach();
  }
  if (!options.caller.service.service.empty()) WatchCallerRules(state);
  return context;
}

void Context::WatchCallerRules(const std::shared_ptr<State>& state) {
  const RuleParser* parser = *RuleParserRegistry::Global().Find(RoutingRules::kParserName);
  const std::vector<ResourceType> types = parser->sources();
  {
    std::lock_guard<std::mutex> lock(state->mu);
    state->pending += static_cast<int>(types.size());
  }
  std::weak_ptr<State> weak = state;
  for (ResourceType type : types) {
    const ControlPlaneClient::WatchId id = state->client->WatchResource(
        type, state->options.caller.service,
        [weak, type, parser](absl::StatusOr<ResourceUpdatePtr> update) {
          std::shared_ptr<State> state = weak.lock();
          if (state != nullptr) OnCallerRules(state, parser, type, update);
        });
    std::lock_guard<std::mutex> lock(state->mu);
    state->caller_watches.push_back(id);
  }
}

void Context::OnCallerRules(const std::shared_ptr<State>& state, const RuleParser* parser,
                            ResourceType type, const absl::StatusOr<ResourceUpdatePtr>& update) {
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->stopping) return;
    const size_t index = ResourceIndex(type);
    if (!state->caller_answered[index]) {
      state->caller_answered[index] = true;
      --state->pending;
    }
    if (update.ok()) state->caller_answers[index] = *update;
    absl::StatusOr<std::shared_ptr<const ParsedRules>> parsed =
        parser->Parse(state->options.caller.service, state->caller_answers);
    if (!parsed.ok()) {
      gpr_log(GPR_ERROR, "polaris: rejected the rules of this caller (%s), the last good ones "
              "stay: %s", state->options.caller.service.ToString().c_str(),
              parsed.status().ToString().c_str());
    } else {
      auto caller = std::make_shared<CallerIdentity>(*state->caller);
      caller->rules[std::string(parser->name())] = *std::move(parsed);
      state->caller = std::move(caller);
    }
  }
  Notify(state);
}

void Context::Notify(const std::shared_ptr<State>& state) {
  std::vector<std::function<void()>> listeners;
  const std::thread::id self = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(state->mu);
    if (state->stopping) return;
    for (const auto& entry : state->listeners) listeners.push_back(entry.second);
    ++state->notifying;
    state->notifiers.insert(self);
  }
  for (const auto& listener : listeners) listener();
  {
    std::lock_guard<std::mutex> lock(state->mu);
    --state->notifying;
    state->notifiers.erase(state->notifiers.find(self));
  }
  state->notified_cv.notify_all();
}

absl::StatusOr<std::shared_ptr<Context>> Context::Shared(const ContextOptions& options) {
  static std::mutex* const mu = new std::mutex();
  static auto* const contexts = new std::map<std::string, std::weak_ptr<Context>>();
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  const std::string key = OptionsKey(options);
  std::lock_guard<std::mutex> lock(*mu);
  for (auto it = contexts->begin(); it != contexts->end();) {
    it = it->second.expired() ? contexts->erase(it) : std::next(it);
  }
  std::shared_ptr<Context> context = (*contexts)[key].lock();
  if (context == nullptr) {
    absl::StatusOr<std::shared_ptr<Context>> created = Create(options);
    if (!created.ok()) return created.status();
    context = *std::move(created);
    (*contexts)[key] = context;
  }
  return context;
}

Context::~Context() {
  std::vector<ControlPlaneClient::WatchId> watches;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
    watches.swap(state_->caller_watches);
  }
  state_->stop_cv.notify_all();
  for (ControlPlaneClient::WatchId id : watches) state_->client->Unwatch(id);
}

const ContextOptions& Context::options() const { return state_->options; }

const std::shared_ptr<ControlPlaneClient>& Context::control_plane() const {
  return state_->client;
}

void Context::LearnLocation(const std::shared_ptr<State>& state) {
  // Retried with backoff until the control plane answers (it may not be up
  // yet) or the context goes away.
  const ContextOptions& options = state->options;
  absl::Duration backoff = options.control_plane.reconnect_backoff_initial;
  const std::string host =
      options.caller.ip.empty() ? LocalAddressTowards(options.control_plane.address)
                                : options.caller.ip;
  while (true) {
    absl::StatusOr<Location> learned = state->client->ReportClient(host);
    if (!learned.ok()) {
      bool first = false;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        first = state->location_pending;
        if (first) --state->pending;
        state->location_pending = false;
      }
      // Routing goes on without the location meanwhile.
      if (first) {
        gpr_log(GPR_INFO, "polaris: location of this host (%s) not known yet: %s", host.c_str(),
                learned.status().ToString().c_str());
        Notify(state);
      }
    } else {
      std::shared_ptr<CallerIdentity> caller;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        caller = std::make_shared<CallerIdentity>(*state->caller);
      }
      Location& location = caller->location;
      if (location.region.empty()) location.region = learned->region;
      if (location.zone.empty()) location.zone = learned->zone;
      if (location.campus.empty()) location.campus = learned->campus;
      if (caller->ip.empty()) caller->ip = host;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        if (state->stopping) return;
        // Rules may have arrived meanwhile: keep them.
        caller->rules = state->caller->rules;
        state->caller = std::move(caller);
        if (state->location_pending) --state->pending;
        state->location_pending = false;
      }
      gpr_log(GPR_INFO, "polaris: this host (%s) runs in region '%s' zone '%s' campus '%s'",
              host.c_str(), learned->region.c_str(), learned->zone.c_str(),
              learned->campus.c_str());
      Notify(state);
      return;
    }
    std::unique_lock<std::mutex> lock(state->mu);
    if (state->stop_cv.wait_for(lock, absl::ToChronoNanoseconds(backoff),
                                [&state] { return state->stopping; })) {
      return;
    }
    backoff = std::min(backoff * 2, absl::Seconds(30));
  }
}

bool Context::caller_settled() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->pending == 0;
}

std::shared_ptr<const CallerIdentity> Context::caller() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->caller;
}

Context::ListenerId Context::AddCallerListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const ListenerId id = state_->next_listener_id++;
  state_->listeners[id] = std::move(listener);
  return id;
}

void Context::RemoveCallerListener(ListenerId id) {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->listeners.erase(id);
  // From inside a notification: it may still call the listener (its copy of
  // the list), so listeners must tolerate that; waiting here would deadlock.
  if (state_->notifiers.count(std::this_thread::get_id()) > 0) return;
  state_->notified_cv.wait(lock, [this] { return state_->notifying == 0; });
}

std::unique_ptr<ServiceViewWatch> Context::WatchService(const ServiceKey& key,
                                                        ServiceViewWatch::Callback callback,
                                                        RuleAudience audience) const {
  std::vector<const RuleParser*> parsers;
  for (const RuleParser* parser : RuleParserRegistry::Global().All()) {
    if ((static_cast<uint8_t>(parser->audience()) & static_cast<uint8_t>(audience)) != 0) {
      parsers.push_back(parser);
    }
  }
  // A callee's own service may not exist until it registers.
  return std::make_unique<ServiceViewWatch>(state_->client, key, std::move(parsers),
                                            std::move(callback),
                                            /*missing_service_is_empty=*/audience ==
                                                RuleAudience::kCallee);
}

}  // namespace grpc_cpp_polaris
