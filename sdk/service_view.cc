#include "sdk/service_view.h"

#include <utility>

#include <grpc/support/log.h>

#include "absl/strings/str_cat.h"
#include "sdk/mailbox.h"

namespace grpc_cpp_polaris {

RuleParserRegistry& RuleParserRegistry::Global() {
  static RuleParserRegistry* const registry = new RuleParserRegistry();
  return *registry;
}

class ServiceViewWatch::State {
 public:
  State(ServiceKey key, std::vector<const RuleParser*> parsers, Callback callback,
        bool missing_service_is_empty)
      : missing_service_is_empty_(missing_service_is_empty),
        key_(std::move(key)),
        parsers_(std::move(parsers)),
        mailbox_(std::make_shared<Mailbox<absl::StatusOr<ServiceViewPtr>>>(std::move(callback))) {
    for (const RuleParser* parser : parsers_) {
      for (ResourceType type : parser->sources()) watched_[ResourceIndex(type)] = true;
    }
  }

  const std::array<bool, kResourceTypeCount>& watched() const { return watched_; }

  void OnUpdate(ResourceType type, const absl::StatusOr<ResourceUpdatePtr>& update) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      bool emptied = false;
      const size_t index = ResourceIndex(type);
      answered_[index] = true;
      if (update.ok()) {
        answers_[index] = *update;
        if (type == ResourceType::kInstance) instances_ = (*update)->instances;
      } else if (type == ResourceType::kInstance) {
        if (missing_service_is_empty_ && absl::IsNotFound(update.status())) {
          // A service with no instance yet: its own first server, say.
          if (instances_ == nullptr || !instances_->instances.empty()) {
            auto empty = std::make_shared<ServiceSnapshot>();
            empty->key = key_;
            instances_ = std::move(empty);
            emptied = true;
          }
          answers_[index] = nullptr;
        } else if (!published_) {
          mailbox_->Post(update.status());
        }
      } else if (answers_[index] == nullptr) {
        // Not served (or not yet reachable): the parsers see no answer.
        gpr_log(GPR_INFO, "polaris: %s: no %s rules: %s", key_.ToString().c_str(),
                std::string(ResourceTypeName(type)).c_str(), update.status().ToString().c_str());
      }
      if (update.ok() || !published_ || emptied) MaybePublishLocked(type);
    }
    mailbox_->Deliver();
  }

  void Close() { mailbox_->Close(); }

 private:
  void MaybePublishLocked(ResourceType changed) {
    if (instances_ == nullptr) return;
    for (size_t i = 0; i < kResourceTypeCount; ++i) {
      if (watched_[i] && !answered_[i]) return;
    }
    for (const RuleParser* parser : parsers_) {
      bool affected = !published_;
      for (ResourceType type : parser->sources()) affected = affected || type == changed;
      if (!affected) continue;
      const std::string name(parser->name());
      absl::StatusOr<std::shared_ptr<const ParsedRules>> parsed = parser->Parse(key_, answers_);
      if (parsed.ok()) {
        rules_[name] = *std::move(parsed);
        rejected_.erase(name);
      } else {
        gpr_log(GPR_ERROR, "polaris: %s: rejected %s rules, the last good ones stay: %s",
                key_.ToString().c_str(), name.c_str(), parsed.status().ToString().c_str());
        rejected_[name] = parsed.status();
      }
    }
    auto view = std::make_shared<ServiceView>();
    view->key = key_;
    view->instances = instances_;
    for (size_t i = 0; i < kResourceTypeCount; ++i) {
      if (answers_[i] != nullptr) view->revisions[i] = answers_[i]->revision;
    }
    view->rules = rules_;
    view->rejected = rejected_;
    published_ = true;
    mailbox_->Post(ServiceViewPtr(std::move(view)));
  }

  const bool missing_service_is_empty_;
  const ServiceKey key_;
  const std::vector<const RuleParser*> parsers_;
  std::array<bool, kResourceTypeCount> watched_{};
  std::shared_ptr<Mailbox<absl::StatusOr<ServiceViewPtr>>> mailbox_;
  std::mutex mu_;
  std::array<bool, kResourceTypeCount> answered_{};
  ResourceAnswers answers_;
  ServiceSnapshotPtr instances_;
  std::map<std::string, std::shared_ptr<const ParsedRules>, std::less<>> rules_;
  std::map<std::string, absl::Status, std::less<>> rejected_;
  bool published_ = false;
};

ServiceViewWatch::ServiceViewWatch(std::shared_ptr<ControlPlaneClient> client, ServiceKey key,
                                   std::vector<const RuleParser*> parsers, Callback callback,
                                   bool missing_service_is_empty)
    : client_(std::move(client)),
      state_(std::make_shared<State>(key, std::move(parsers), std::move(callback),
                                     missing_service_is_empty)) {
  // Rules first, so that the instances (which usually answer first) do not
  // wait alone.
  for (size_t i = 0; i < kResourceTypeCount; ++i) {
    if (!state_->watched()[i]) continue;
    const ResourceType type = static_cast<ResourceType>(i);
    if (type == ResourceType::kInstance) continue;
    watches_.push_back(client_->WatchResource(
        type, key, [state = state_, type](absl::StatusOr<ResourceUpdatePtr> update) {
          state->OnUpdate(type, update);
        }));
  }
  watches_.push_back(client_->WatchResource(
      ResourceType::kInstance, key, [state = state_](absl::StatusOr<ResourceUpdatePtr> update) {
        state->OnUpdate(ResourceType::kInstance, update);
      }));
}

ServiceViewWatch::~ServiceViewWatch() {
  for (ControlPlaneClient::WatchId id : watches_) client_->Unwatch(id);
  state_->Close();
}

}  // namespace grpc_cpp_polaris
