#include "client/internal/routing_picker.h"

#include <cstring>
#include <new>
#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/internal/call_id_filter.h"
#include "sdk/balancer/stable_hash.h"
#include "sdk/balancer/weighted_random.h"
#include "sdk/call_metadata.h"
#include "sdk/tsan.h"

namespace grpc_cpp_polaris {
namespace internal {

using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::SubchannelInterface;

static_assert(alignof(SubchannelInterface) >= 2, "the lane flag needs a pointer's low bit");

namespace {

// Follows a call from pick to finish: counts it in flight on its instance
// (for load-aware balancers) and records its outcome into the instance's
// breaker (when circuit breaking is on). Lives in the call's arena (no heap
// allocation per call: gRPC's unique_ptr "deletes" it with the no-op
// operator delete, the arena frees the memory); keeps the instance's health
// alive as one of its calls in flight (InstanceHealth::StartCall: one atomic
// add at each end of the call, no reference count), so that a call
// outliving its picker still reports. Atomics only, except when the call
// causes a transition (rare): then it logs and hands the events to the
// breakers' scheduler (service_breakers.h) under a lock. A pick gRPC
// abandons never calls Finish: the destructor then takes the call back out
// and returns a probe's permit.
class CallTracker final : public LoadBalancingPolicy::SubchannelCallTrackerInterface {
 public:
  struct Mode {
    bool count_in_flight;
    bool record;
  };
  using Gate = RoutingPicker::Gate;
  static constexpr int kMaxGates = 2;
  // `health` may be null when `gates` are given.
  static std::unique_ptr<LoadBalancingPolicy::SubchannelCallTrackerInterface> Create(
      LoadBalancingPolicy::CallState* call_state, InstanceHealth* health, Mode mode,
      uint32_t round, bool probe, const Gate* gates, int gate_count) {
    void* memory = call_state->Alloc(sizeof(CallTracker));
    return std::unique_ptr<LoadBalancingPolicy::SubchannelCallTrackerInterface>(
        new (memory) CallTracker(health, mode, round, probe, gates, gate_count));
  }
  static void operator delete(void*) {}

  ~CallTracker() override {
    TsanAcquire(this);
    if (finished_) return;
    if (health_ != nullptr) {
      if (mode_.count_in_flight) health_->stats().in_flight.fetch_sub(1, std::memory_order_relaxed);
      health_->AbandonCall(round_, probe_);
    }
    for (int i = 0; i < gate_count_; ++i) gates_[i].breaker->AbandonCall(gates_[i].round, gates_[i].probe);
  }
  void Start() override {
    TsanAcquire(this);
    if (times_) start_nanos_ = Clock::Coarse()->NowNanos();
    TsanRelease(this);
  }
  void Finish(FinishArgs args) override {
    TsanAcquire(this);
    // ok() is inline; code() is a call into the library.
    const absl::StatusCode code = args.status.ok() ? absl::StatusCode::kOk : args.status.code();
    const int64_t latency = times_ && start_nanos_ != 0 ? Clock::Coarse()->NowNanos() - start_nanos_ : 0;
    finished_ = true;
    TsanRelease(this);
    if (health_ != nullptr) {
      if (mode_.count_in_flight) {
        InstanceStats& stats = health_->stats();
        stats.in_flight.fetch_sub(1, std::memory_order_relaxed);
        (code == absl::StatusCode::kOk ? stats.succeeded : stats.failed)
            .fetch_add(1, std::memory_order_relaxed);
      }
      const CallOutcome outcome =
          mode_.record ? health_->classifier().Classify(code, latency) : CallOutcome::kNeither;
      health_->EndCall(outcome, round_, probe_);  // may destroy the health: last
    }
    for (int i = 0; i < gate_count_; ++i) {
      InstanceHealth* breaker = gates_[i].breaker;
      breaker->EndCall(breaker->classifier().Classify(code, latency), gates_[i].round,
                       gates_[i].probe);
    }
  }

 private:
  CallTracker(InstanceHealth* health, Mode mode, uint32_t round, bool probe, const Gate* gates,
              int gate_count)
      : health_(health), mode_(mode), round_(round), probe_(probe), gate_count_(gate_count) {
    if (health_ != nullptr) {
      health_->StartCall();
      if (mode_.count_in_flight) {
        health_->stats().in_flight.fetch_add(1, std::memory_order_relaxed);
      }
      times_ = mode_.record && health_->classifier().times_calls();
    }
    for (int i = 0; i < gate_count; ++i) {
      gates_[i] = gates[i];
      gates_[i].breaker->StartCall();
      times_ = times_ || gates_[i].breaker->classifier().times_calls();
    }
    TsanRelease(this);  // gRPC hands the tracker to the call's threads
  }

  InstanceHealth* const health_;
  const Mode mode_;
  const uint32_t round_;
  const bool probe_;
  bool times_ = false;
  bool finished_ = false;
  const int gate_count_;
  Gate gates_[kMaxGates];
  int64_t start_nanos_ = 0;
};

}  // namespace

// One routed instance a result may pick: its subchannel, whether a call
// entering it enters the lane, and its health (null when calls to it are
// not tracked).
struct RoutingPicker::Target {
  RefCountedPtr<SubchannelInterface> subchannel;
  std::shared_ptr<InstanceHealth> health;
  bool enters_lane = false;
  uint32_t weight = 0;  // routed (and warmed)
  const Instance* instance = nullptr;
};

// What balancers are built over: the targets' instances, weights and stats.
std::vector<BalanceTarget> RoutingPicker::BalanceTargetsOf(const std::vector<Target>& targets) {
  std::vector<BalanceTarget> balance_targets;
  balance_targets.reserve(targets.size());
  for (const Target& target : targets) {
    balance_targets.push_back(BalanceTarget{
        target.instance, target.weight,
        target.health != nullptr ? &target.health->stats() : nullptr});
  }
  return balance_targets;
}

struct RoutingPicker::Result {
  // kDrop: the routers refused the call (e.g. no instance has the asked
  // metadata): it fails at once, even wait_for_ready, and is not retried.
  // kFail: nothing routed is reachable now: wait_for_ready calls wait.
  enum class Kind { kPick, kQueue, kDrop, kFail };
  Kind kind = Kind::kFail;
  // kPick: the routed READY instances, per target of the balancer.
  std::vector<Target> targets;
  // ...and with a balancer that exposes its weighted-random selector (the
  // default): the selector's alias table with the subchannels themselves in
  // its columns, so that a pick reads one column and the chosen subchannel
  // (a pointer's low bit carries the target's lane flag), and their health
  // when calls are tracked (null otherwise).
  struct Column {
    uint64_t keep_below;
    uintptr_t self;
    uintptr_t alias;
    InstanceHealth* self_health;
    InstanceHealth* alias_health;
  };
  std::vector<Column> table;
  // WeightedRandomSelector::Select over the table's own columns: the column
  // `random` lands on, and whether it chooses the column's own target.
  // Require a non-empty table.
  const Column& ColumnFor(uint64_t random) const {
    return table[static_cast<size_t>((static_cast<unsigned __int128>(random) * table.size()) >> 64)];
  }
  bool ChoosesSelf(const Column& column, uint64_t random) const {
    return random * table.size() < column.keep_below;
  }
  // Otherwise the balancer over the targets.
  std::unique_ptr<Balancer> balancer;
  // The balancers calls chose (SetBalancer), one slot per
  // RoutingPicker::balancers_ entry, built on first use (owned).
  std::unique_ptr<std::atomic<Balancer*>[]> chosen_balancers;
  size_t chosen_count = 0;
  ~Result() {
    for (size_t i = 0; i < chosen_count; ++i) delete chosen_balancers[i].load();
  }
  // Whether the balancer reads the call's hash key.
  bool uses_hash = false;
  // Routed READY instances whose breaker is half-open: each call first
  // tries to take one of their probe permits.
  std::vector<Target> probes;
  // kPick, with a METHOD rule covering the call's path: the method's
  // breaker (also set on kDrop results it caused: none).
  std::shared_ptr<InstanceHealth> method;
  std::string method_open_message;
  // kPick: the candidates (for pooling), and the tag of those entering a lane.
  Candidates candidates;
  std::string lane_tag;
  // kFail.
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  std::string message;

  bool SameAs(const Result& other) const {
    if (kind != other.kind || code != other.code || message != other.message ||
        lane_tag != other.lane_tag || method != other.method ||
        method_open_message != other.method_open_message) {
      return false;
    }
    if (candidates.size() != other.candidates.size()) return false;
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].index != other.candidates[i].index ||
          candidates[i].weight != other.candidates[i].weight ||
          candidates[i].enters_lane != other.candidates[i].enters_lane) {
        return false;
      }
    }
    return true;  // (within a picker an instance is a probe or not for every result)
  }
  uint64_t Fingerprint() const {
    uint64_t hash = (static_cast<uint64_t>(kind) ^ reinterpret_cast<uintptr_t>(method.get())) *
                    0x9E3779B97F4A7C15ULL;
    for (const Candidate& candidate : candidates) {
      hash = (hash ^ candidate.index) * 0x100000001b3ULL;
      hash = (hash ^ candidate.weight ^ (uint64_t{candidate.enters_lane} << 40)) * 0x100000001b3ULL;
    }
    for (char c : message) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return hash;
  }
};

RoutingPicker::RoutingPicker(RoutingPickerInputs inputs)
    : inputs_(std::move(inputs)),
      header_keys_(inputs_.chain->keys().headers.begin(), inputs_.chain->keys().headers.end()),
      keys_(inputs_.chain->keys()),
      cache_(inputs_.max_cached_tuples),
      pool_(inputs_.max_cached_results) {
  path_in_tuple_ = keys_.path || inputs_.method_rule != nullptr;
  tuple_size_ = (path_in_tuple_ ? 1 : 0) + header_keys_.size() + (keys_.labels ? 1 : 0) +
                (keys_.destination_metadata ? 1 : 0) + (keys_.lane ? 1 : 0);
  if (inputs_.service_rule != nullptr) {
    service_open_code_ = inputs_.service_rule->OpenCode();
    service_open_message_ = BreakerRefusal(inputs_.view->key, "", inputs_.service_rule->id);
  }
  if (inputs_.method_rule != nullptr) method_open_code_ = inputs_.method_rule->OpenCode();
  count_in_flight_ = inputs_.healths != nullptr && inputs_.balancer->uses_load();
  for (const BalancerFactory* factory : BalancerRegistry::Global().All()) {
    balancers_.push_back(NamedBalancer{std::string(factory->name()),
                                       CamelCaseName(factory->name()), factory});
    absl::StrAppend(&known_balancers_, known_balancers_.empty() ? "" : ", ", factory->name());
  }
  track_calls_ = inputs_.healths != nullptr && (inputs_.record_outcomes || count_in_flight_);
  TsanRelease(this);  // published to the data plane by gRPC
}

// Misses read the view, caller and chain, which may be freed elsewhere once
// the picker lets go of them: misses release, the destructor acquires (see
// sdk/tsan.h). Hits don't, so that calls on different threads stay
// unordered for ThreadSanitizer.
RoutingPicker::~RoutingPicker() { TsanAcquire(&inputs_); }

// The call enters a lane here: it carries the tag on to the server. The
// value must live as long as the call: a copy in its arena.
void RoutingPicker::AddLaneTag(const Result& result, LoadBalancingPolicy::PickArgs& args) {
  char* tag = static_cast<char*>(args.call_state->Alloc(result.lane_tag.size()));
  std::memcpy(tag, result.lane_tag.data(), result.lane_tag.size());
  args.initial_metadata->Add(kLaneMetadataKey, absl::string_view(tag, result.lane_tag.size()));
}

void RoutingPicker::Prefetch(const Result* result, uint64_t random) {
  if (result == nullptr || result->table.empty()) return;
  const Result::Column& column = result->ColumnFor(random);
  const bool self = result->ChoosesSelf(column, random);
  const uintptr_t chosen = self ? column.self : column.alias;
  __builtin_prefetch(reinterpret_cast<const void*>(chosen & ~uintptr_t{1}), 1);
  if (InstanceHealth* health = self ? column.self_health : column.alias_health) {
    __builtin_prefetch(health, 1);
  }
}

void RoutingPicker::Remember(const CacheEntry* used, const CacheEntry* guess, uint64_t random) {
  // Written rarely (when the guess was wrong, for one call in 16), so that
  // calls on several threads routing differently don't contend on it.
  if (used != guess && (random & 15) == 0) last_.store(used, std::memory_order_release);
}

uint64_t RoutingPicker::CallHash(LoadBalancingPolicy::PickArgs& args, uint64_t random) const {
  // `scratch` is only written (and may allocate) when a key was sent twice.
  std::string scratch;
  absl::optional<absl::string_view> key = args.initial_metadata->Lookup(kHashKeyMetadataKey, &scratch);
  if (!key.has_value() && !inputs_.hash_key_header.empty()) {
    key = args.initial_metadata->Lookup(inputs_.hash_key_header, &scratch);
  }
  return key.has_value() ? StableHash(*key) : random;
}

uint32_t RoutingPicker::PreviousAttempts(LoadBalancingPolicy::PickArgs& args) {
  std::string scratch;
  const absl::optional<absl::string_view> value =
      args.initial_metadata->Lookup("grpc-previous-rpc-attempts", &scratch);
  uint32_t attempts = 0;
  if (!value.has_value() || !absl::SimpleAtoi(*value, &attempts)) return 0;
  return attempts;
}

bool RoutingPicker::Admit(InstanceHealth* breaker, Gate* gate) {
  gate->breaker = breaker;
  gate->probe = false;
  const auto [state, round] = breaker->breaker().StateAndRound();
  switch (state) {
    case BreakerState::kClosed:
      gate->round = round;
      return true;
    case BreakerState::kHalfOpen:
      gate->probe = breaker->breaker().TryProbe(&gate->round);
      return gate->probe;
    case BreakerState::kOpen:
      break;
  }
  return false;
}

LoadBalancingPolicy::PickResult RoutingPicker::Complete(const Result& result, uintptr_t chosen,
                                                        InstanceHealth* health,
                                                        LoadBalancingPolicy::PickArgs& args,
                                                        bool probe, uint32_t round,
                                                        const Gate* gates, int gate_count,
                                                        bool load) const {
  if ((chosen & 1) != 0) AddLaneTag(result, args);
  RefCountedPtr<SubchannelInterface> subchannel =
      reinterpret_cast<SubchannelInterface*>(chosen & ~uintptr_t{1})->Ref();
  if (health == nullptr && gate_count == 0) {
    return LoadBalancingPolicy::PickResult::Complete(std::move(subchannel));
  }
  return LoadBalancingPolicy::PickResult::Complete(
      std::move(subchannel),
      CallTracker::Create(args.call_state, health,
                          CallTracker::Mode{count_in_flight_ || load, inputs_.record_outcomes},
                          probe || health == nullptr ? round : health->breaker().round(), probe,
                          gates, gate_count));
}

LoadBalancingPolicy::PickResult RoutingPicker::Complete(const Result& result,
                                                        const Target& target,
                                                        LoadBalancingPolicy::PickArgs& args,
                                                        bool probe, uint32_t round,
                                                        const Gate* gates, int gate_count) const {
  const Choice choice = ChoiceOf(target);
  return Complete(result, choice.chosen, choice.health, args, probe, round, gates, gate_count);
}

absl::StatusOr<RoutingPicker::Picking> RoutingPicker::CallBalancer(const Result& result,
                                                                  absl::string_view name) const {
  for (size_t i = 0; i < balancers_.size(); ++i) {
    const NamedBalancer& named = balancers_[i];
    if (named.name != name && named.camel != name) continue;
    if (named.factory == inputs_.balancer || i >= result.chosen_count) return Picking();
    std::atomic<Balancer*>& slot = result.chosen_balancers[i];
    Balancer* balancer = slot.load(std::memory_order_acquire);
    if (balancer == nullptr) {
      // First call of this kind with this balancer: built once (a call
      // racing this one may build it too; one is kept). Like a miss, it
      // reads the view (see ~RoutingPicker).
      std::unique_ptr<Balancer> built = named.factory->Build(BalanceTargetsOf(result.targets));
      TsanRelease(&inputs_);
      if (slot.compare_exchange_strong(balancer, built.get(), std::memory_order_acq_rel)) {
        balancer = built.release();
      }
    }
    return Picking{balancer, named.factory->uses_hash(), named.factory->uses_load()};
  }
  return absl::InvalidArgumentError(absl::StrCat("polaris: call metadata '", kBalancerMetadataKey,
                                                 "': unknown balancer '", name, "' (known: ",
                                                 known_balancers_, ")"));
}

RoutingPicker::Choice RoutingPicker::ChooseOne(const Result& result, uint64_t random,
                                               LoadBalancingPolicy::PickArgs& args,
                                               const Picking& picking) const {
  if (picking.balancer != nullptr) {
    BalanceInput input;
    input.random = random;
    if (picking.uses_hash) input.hash = CallHash(args, random);
    return ChoiceOf(result.targets[picking.balancer->Pick(input)]);
  }
  if (!result.table.empty()) {
    const Result::Column& column = result.ColumnFor(random);
    const bool self = result.ChoosesSelf(column, random);
    return Choice{self ? column.self : column.alias,
                  self ? column.self_health : column.alias_health};
  }
  BalanceInput input;
  input.random = random;
  if (result.uses_hash) input.hash = CallHash(args, random);
  return ChoiceOf(result.targets[result.balancer->Pick(input)]);
}

RoutingPicker::Choice RoutingPicker::ChoiceOf(const Target& target) const {
  return Choice{reinterpret_cast<uintptr_t>(target.subchannel.get()) | (target.enters_lane ? 1 : 0),
                track_calls_ ? target.health.get() : nullptr};
}

RoutingPicker::Choice RoutingPicker::ChooseForAttempt(const Result& result, uint64_t id,
                                                      uint32_t attempt,
                                                      LoadBalancingPolicy::PickArgs& args,
                                                      const Picking& picking) const {
  // Each attempt's choice, replayed in order: attempt j draws from (id, j)
  // and avoids what attempts 0..j-1 chose, as it did when it ran (with the
  // picker of now: a replay under another picker may differ).
  constexpr uint32_t kMaxReplayed = 8;
  Choice chosen[kMaxReplayed + 1];
  const uint32_t last = attempt < kMaxReplayed ? attempt : kMaxReplayed;
  for (uint32_t j = 0; j <= last; ++j) {
    auto tried = [&](const Choice& choice) {
      for (uint32_t k = 0; k < j; ++k) {
        if ((chosen[k].chosen & ~uintptr_t{1}) == (choice.chosen & ~uintptr_t{1})) return true;
      }
      return false;
    };
    // Drawn again a few times (a hash balancer draws the same each time),
    // then the first target not tried, from a place the id decides.
    Choice choice = ChooseOne(result, AttemptRandom(id, j), args, picking);
    for (uint32_t draw = 1; draw <= 4 && tried(choice); ++draw) {
      choice = ChooseOne(result, AttemptRandom(id, j, draw), args, picking);
    }
    const size_t targets = result.targets.size();
    const size_t start = static_cast<size_t>(AttemptRandom(id, j, 5) % targets);
    for (size_t k = 0; k < targets && tried(choice); ++k) {
      choice = ChoiceOf(result.targets[(start + k) % targets]);
    }
    chosen[j] = choice;  // (all tried: the draw stands; an attempt must go somewhere)
  }
  return chosen[last];
}

LoadBalancingPolicy::PickResult RoutingPicker::Use(const Result& result, uint64_t random,
                                                   LoadBalancingPolicy::PickArgs& args) const {
  switch (result.kind) {
    case Result::Kind::kPick: {
      // The call's own balancer, if it chose one (looked for only once a
      // call of the process has: SetBalancer).
      Picking picking;
      if (PerCallBalancerUsed()) {
        std::string scratch;
        const absl::optional<absl::string_view> name =
            args.initial_metadata->Lookup(kBalancerMetadataKey, &scratch);
        if (name.has_value()) {
          absl::StatusOr<Picking> chosen = CallBalancer(result, *name);
          if (!chosen.ok()) return LoadBalancingPolicy::PickResult::Drop(chosen.status());
          picking = *chosen;
        }
      }
      // SERVICE and METHOD breakers (rules from the control plane): a call
      // to an open one fails at once; half-open ones let their probes by.
      Gate gates[2];
      int gate_count = 0;
      if (inputs_.service_breaker != nullptr) {
        if (!Admit(inputs_.service_breaker.get(), &gates[0])) {
          return LoadBalancingPolicy::PickResult::Drop(
              absl::Status(service_open_code_, service_open_message_));
        }
        gate_count = 1;
      }
      if (result.method != nullptr) {
        if (!Admit(result.method.get(), &gates[gate_count])) {
          // The service's probe permit, if this call held one, goes back.
          if (gate_count == 1 && gates[0].probe) {
            gates[0].breaker->breaker().ReturnPermit(gates[0].round);
          }
          return LoadBalancingPolicy::PickResult::Drop(
              absl::Status(method_open_code_, result.method_open_message));
        }
        ++gate_count;
      }
      // A call with an id (its channel retries) draws from it: a retry
      // replays the earlier attempts and goes elsewhere (call_id_filter.h).
      if (result.targets.size() > 1 && CallIdsUsed()) {
        std::string scratch;
        const absl::optional<absl::string_view> value =
            args.initial_metadata->Lookup(kCallIdMetadataKey, &scratch);
        if (value.has_value()) {
          if (const std::optional<uint64_t> id = ParseCallId(*value)) {
            const uint32_t attempt = PreviousAttempts(args);
            if (attempt > 0) {
              const Choice choice = ChooseForAttempt(result, *id, attempt, args, picking);
              return Complete(result, choice.chosen, choice.health, args, false, 0, gates,
                              gate_count, picking.uses_load);
            }
            random = AttemptRandom(*id, 0);
          }
        }
      }
      // Half-open instances first: while they have permits, calls probe them.
      for (const Target& probe : result.probes) {
        uint32_t round;
        if (probe.health->breaker().TryProbe(&round)) {
          return Complete(result, probe, args, true, round, gates, gate_count);
        }
      }
      const Choice choice = ChooseOne(result, random, args, picking);
      return Complete(result, choice.chosen, choice.health, args, false, 0, gates, gate_count,
                      picking.uses_load);
    }
    case Result::Kind::kQueue:
      return LoadBalancingPolicy::PickResult::Queue();
    case Result::Kind::kDrop:
      // A fresh status per call: abseil's status reps are refcounted in
      // uninstrumented code, so sharing one across threads confuses TSan.
      return LoadBalancingPolicy::PickResult::Drop(absl::Status(result.code, result.message));
    case Result::Kind::kFail:
      break;
  }
  return LoadBalancingPolicy::PickResult::Fail(absl::Status(result.code, result.message));
}

LoadBalancingPolicy::PickResult RoutingPicker::Pick(LoadBalancingPolicy::PickArgs args) {
  TsanAcquire(this);  // built on the control plane's thread
  // This call's random value comes first: guessing that the call routes like
  // recent ones, Prefetch starts loading the table column and subchannel it
  // would pick (cache misses on large services), overlapped with the
  // lookups and hashing below.
  const uint64_t random = FastRandom();
  const CacheEntry* guess = last_.load(std::memory_order_acquire);
  if (guess != nullptr) Prefetch(guess->result(), random);
  if (tuple_size_ > kMaxInlineTuple) return SlowPick(args, random);
  // The call's attributes, as views into its metadata. gRPC fills `scratch`
  // only when it must build a value (a key sent several times, joined with
  // ','): then the views cannot share it, and the slow path gives each its
  // own buffer.
  RouteAttr tuple[kMaxInlineTuple];  // plain data: not initialised
  std::string scratch;
  size_t size = 0;
  bool built = false;
  auto lookup = [&](absl::string_view key) {
    absl::optional<absl::string_view> value = args.initial_metadata->Lookup(key, &scratch);
    if (!scratch.empty()) built = true;
    return value.has_value() ? RouteAttr::Of(*value) : RouteAttr::Absent();
  };
  if (path_in_tuple_) tuple[size++] = RouteAttr::Of(args.path);
  for (const std::string& key : header_keys_) tuple[size++] = lookup(key);
  if (keys_.labels) tuple[size++] = lookup(kRouteLabelsMetadataKey);
  if (keys_.destination_metadata) tuple[size++] = lookup(kDestinationMetadataKey);
  if (keys_.lane) tuple[size++] = lookup(kLaneMetadataKey);
  if (built) return SlowPick(args, random);
  const RouteTuple view(tuple, size);
  // Most calls are of the kind the guess is: then no hashing, no probing.
  const CacheEntry* entry = guess;
  if (entry == nullptr || !entry->Matches(view)) {
    const uint64_t hash = HashRouteTuple(view);
    entry = cache_.FindEntry(hash, view);
    if (entry == nullptr) return Miss(hash, view, random, args);
    Remember(entry, guess, random);
  }
  const Result& result = *entry->result();
  // The column this thread's next call of this kind will read, fetched now:
  // by then it is cached, and only the subchannel is left to fetch.
  if (!result.table.empty()) __builtin_prefetch(&result.ColumnFor(PeekFastRandom()));
  return Use(result, random, args);
}

LoadBalancingPolicy::PickResult RoutingPicker::Miss(uint64_t hash, RouteTuple tuple,
                                                    uint64_t random,
                                                    LoadBalancingPolicy::PickArgs& args) {
  std::unique_ptr<Result> one_off;
  const Result* computed = Compute(tuple, &one_off);
  TsanRelease(&inputs_);
  if (computed != nullptr) {
    const CacheEntry* entry = cache_.InsertEntry(hash, tuple, computed);
    if (entry != nullptr && last_.load(std::memory_order_relaxed) == nullptr) {
      last_.store(entry, std::memory_order_release);
    }
  }
  return Use(computed != nullptr ? *computed : *one_off, random, args);
}

LoadBalancingPolicy::PickResult RoutingPicker::SlowPick(LoadBalancingPolicy::PickArgs& args,
                                                        uint64_t random) {
  std::vector<RouteAttr> tuple;
  std::vector<std::unique_ptr<std::string>> buffers;
  auto lookup = [&](absl::string_view key) {
    buffers.push_back(std::make_unique<std::string>());
    absl::optional<absl::string_view> value =
        args.initial_metadata->Lookup(key, buffers.back().get());
    return value.has_value() ? RouteAttr::Of(*value) : RouteAttr::Absent();
  };
  if (path_in_tuple_) tuple.push_back(RouteAttr::Of(args.path));
  for (const std::string& key : header_keys_) tuple.push_back(lookup(key));
  if (keys_.labels) tuple.push_back(lookup(kRouteLabelsMetadataKey));
  if (keys_.destination_metadata) tuple.push_back(lookup(kDestinationMetadataKey));
  if (keys_.lane) tuple.push_back(lookup(kLaneMetadataKey));
  const RouteTuple view(tuple.data(), tuple.size());
  const uint64_t hash = HashRouteTuple(view);
  if (const Result* cached = cache_.Find(hash, view)) return Use(*cached, random, args);
  return Miss(hash, view, random, args);
}

const RoutingPicker::Result* RoutingPicker::Compute(RouteTuple tuple,
                                                    std::unique_ptr<Result>* one_off) {
  // The request, from the tuple (same layout as in Pick).
  RouteRequest request;
  size_t at = 0;
  if (path_in_tuple_) request.path = std::string(tuple[at++].view());
  for (const std::string& key : header_keys_) {
    const RouteAttr& value = tuple[at++];
    if (value.present) request.headers[key] = std::string(value.view());
  }
  auto result = std::make_unique<Result>();
  if (const BreakerRule* rule = inputs_.method_rule;
      rule != nullptr && rule->CoversMethod(request.path)) {
    // One breaker per path, or one for all the paths the rule covers.
    result->method =
        inputs_.method_breakers->Resource(rule->regex_separate ? request.path : rule->id);
    result->method_open_message = BreakerRefusal(inputs_.view->key, request.path, rule->id);
  }
  auto decode = [&](std::map<std::string, std::string>* into, const char* key) {
    const RouteAttr& value = tuple[at++];
    if (!value.present) return true;
    absl::StatusOr<std::map<std::string, std::string>> decoded = DecodeLabels(value.view());
    if (!decoded.ok()) {
      result->kind = Result::Kind::kDrop;
      result->code = absl::StatusCode::kInvalidArgument;
      result->message =
          absl::StrCat("polaris: call metadata '", key, "': ", decoded.status().message());
      return false;
    }
    *into = *std::move(decoded);
    return true;
  };
  bool ok = true;
  if (keys_.labels) ok = decode(&request.labels, kRouteLabelsMetadataKey) && ok;
  if (keys_.destination_metadata) {
    ok = ok && decode(&request.destination_metadata, kDestinationMetadataKey);
  }
  if (keys_.lane && tuple[at].present) request.lane = std::string(tuple[at].view());
  if (ok) {
    RouteState state{inputs_.view.get(), inputs_.caller.get(), &inputs_.available};
    absl::StatusOr<RouteOutcome> outcome = inputs_.chain->Route(state, request);
    if (!outcome.ok()) {
      result->kind = Result::Kind::kDrop;
      result->code = outcome.status().code();
      result->message = std::string(outcome.status().message());
    } else {
      const Candidates* routed = &outcome->candidates;
      result->lane_tag = outcome->lane_tag;
      auto target_of = [&](const Candidate& candidate) {
        std::shared_ptr<InstanceHealth> health;
        if (inputs_.healths != nullptr && candidate.index < inputs_.healths->size()) {
          health = (*inputs_.healths)[candidate.index];
        }
        return Target{inputs_.ready[candidate.index], std::move(health), candidate.enters_lane,
                      candidate.weight, &inputs_.view->instances->instances[candidate.index]};
      };
      auto probing = [&](const Candidate& candidate) {
        return candidate.index < inputs_.probing.size() && inputs_.probing[candidate.index];
      };
      // The READY ones; half-open ones are probed, unless nothing else is
      // routed (then they take every call).
      bool connecting = false;
      bool others = false;
      for (Candidate candidate : *routed) {
        if (inputs_.ready[candidate.index] != nullptr) {
          // A warming instance takes its share of the routed weight.
          candidate.weight = inputs_.warmup.Apply(candidate.index, candidate.weight);
          result->candidates.push_back(candidate);
          others = others || !probing(candidate);
        } else if (inputs_.connecting[candidate.index]) {
          connecting = true;
        }
      }
      for (const Candidate& candidate : result->candidates) {
        (others && probing(candidate) ? result->probes : result->targets)
            .push_back(target_of(candidate));
      }
      if (!result->targets.empty()) {
        result->kind = Result::Kind::kPick;
        result->balancer = inputs_.balancer->Build(BalanceTargetsOf(result->targets));
        result->chosen_count = balancers_.size();
        result->chosen_balancers.reset(new std::atomic<Balancer*>[balancers_.size()]());
        result->uses_hash = inputs_.balancer->uses_hash();
        if (const WeightedRandomSelector* selector = result->balancer->weighted_selector()) {
          result->table.reserve(selector->columns().size());
          for (const WeightedRandomSelector::Column& column : selector->columns()) {
            const Choice self = ChoiceOf(result->targets[column.index]);
            const Choice alias = ChoiceOf(result->targets[column.alias]);
            result->table.push_back(Result::Column{column.keep_below, self.chosen, alias.chosen,
                                                   self.health, alias.health});
          }
          result->balancer.reset();  // the table is all a pick needs
        }
      } else if (connecting) {
        result->kind = Result::Kind::kQueue;
      } else {
        result->kind = Result::Kind::kFail;
        result->code = absl::StatusCode::kUnavailable;
        result->message = absl::StrCat("polaris: none of the ", routed->size(), " instances of ",
                                       inputs_.view->key.ToString(),
                                       " routed for this call is reachable");
      }
    }
  }
  const uint64_t fingerprint = result->Fingerprint();
  if (const Result* pooled =
          pool_.Find(fingerprint, [&](const Result& other) { return other.SameAs(*result); })) {
    return pooled;
  }
  if (const Result* pooled = pool_.Add(fingerprint, result)) return pooled;
  *one_off = std::move(result);
  return nullptr;
}

}  // namespace internal
}  // namespace grpc_cpp_polaris
