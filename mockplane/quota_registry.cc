#include "mockplane/quota_registry.h"

#include <algorithm>

#include "absl/time/time.h"

namespace grpc_cpp_polaris {
namespace mockplane {
namespace {

constexpr uint32_t kIndexBits = 24;
constexpr uint32_t kIndexMask = (1u << kIndexBits) - 1;
constexpr uint32_t kMaxSlideCount = 10;

uint32_t Box(uint32_t index) { return (QuotaRegistry::kNodeId << kIndexBits) | index; }

// `response` answering `code`.
template <typename Response>
Response Answer(Response response, uint32_t code) {
  response.set_code(code);
  return response;
}

}  // namespace

int64_t QuotaRegistry::NowMs() const { return absl::ToUnixMillis(clock_->Now()); }

int64_t QuotaRegistry::WindowStart(const Counter& counter, int64_t ms) {
  const int64_t length = int64_t{counter.duration_seconds} * 1000;
  return ms - ms % length;
}

void QuotaRegistry::Roll(Counter* counter, int64_t now_ms) {
  const int64_t start = WindowStart(*counter, now_ms);
  if (start != counter->window_start_ms) {
    counter->window_start_ms = start;
    counter->used = 0;
  }
}

int64_t QuotaRegistry::Left(const Counter& counter) {
  const int64_t clients = std::max<int64_t>(1, static_cast<int64_t>(counter.clients.size()));
  const int64_t max = counter.quota_mode == v2::DIVIDE ? counter.max_amount * clients
                                                       : counter.max_amount;
  return max - counter.used;
}

uint32_t QuotaRegistry::ClientKeyLocked(const std::string& client_id, uint32_t* key) {
  auto it = client_keys_.find(client_id);
  if (it != client_keys_.end()) {
    *key = it->second;
    return 0;
  }
  if (client_keys_.size() >= limits_.max_clients) return kLimiterExceedMaxClient;
  *key = static_cast<uint32_t>(client_keys_.size()) + 1;
  client_keys_[client_id] = *key;
  return 0;
}

uint32_t QuotaRegistry::CheckInit(const v2::RateLimitInitRequest& request, bool batch) {
  if (!batch && request.clientid().empty()) return kLimiterInvalidClientId;
  if (batch && request.target().labels_list_size() == 0) return kLimiterInvalidLabels;
  if (request.target().service().empty()) return kLimiterInvalidServiceName;
  if (request.target().namespace_().empty()) return kLimiterInvalidNamespace;
  if (request.totals_size() == 0) return kLimiterInvalidTotalLimit;
  for (const v2::QuotaTotal& total : request.totals()) {
    if (total.duration() == 0) return kLimiterInvalidDuration;
  }
  if (request.slidecount() > kMaxSlideCount) return kLimiterInvalidSlideCount;
  if (request.mode() != v2::ADAPTIVE && request.mode() != v2::BATCH_OCCUPY) {
    return kLimiterInvalidMode;
  }
  return 0;
}

uint32_t QuotaRegistry::InitLabelsLocked(
    const v2::RateLimitInitRequest& request, const std::string& labels,
    const std::string& client_id, int64_t now_ms,
    google::protobuf::RepeatedPtrField<v2::QuotaCounter>* out) {
  for (const v2::QuotaTotal& total : request.totals()) {
    const CounterId id{request.target().namespace_(), request.target().service(), labels,
                       total.duration()};
    auto found = counter_keys_.find(id);
    uint32_t index;
    if (found == counter_keys_.end()) {
      if (counters_.size() >= limits_.max_counters) return kLimiterExceedMaxCounter;
      counters_.emplace_back();
      index = static_cast<uint32_t>(counters_.size());
      counter_keys_[id] = index;
      counters_.back().duration_seconds = total.duration();
    } else {
      index = found->second;
    }
    Counter& counter = counters_[index - 1];
    counter.max_amount = total.maxamount();  // the latest rule wins, as upstream
    counter.quota_mode = total.mode();
    counter.clients.insert(client_id);
    Roll(&counter, now_ms);
    v2::QuotaCounter* answer = out->Add();
    answer->set_duration(total.duration());
    answer->set_counterkey(Box(index));
    answer->set_left(Left(counter));
    answer->set_mode(v2::BATCH_OCCUPY);  // the only allocator upstream
    answer->set_clientcount(static_cast<uint32_t>(counter.clients.size()));
  }
  return 0;
}

v2::RateLimitInitResponse QuotaRegistry::Init(const v2::RateLimitInitRequest& request) {
  v2::RateLimitInitResponse response;
  *response.mutable_target() = request.target();
  const int64_t now = NowMs();
  response.set_timestamp(now);
  if (uint32_t code = CheckInit(request, /*batch=*/false)) return Answer(response, code);
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t client_key = 0;
  if (uint32_t code = ClientKeyLocked(request.clientid(), &client_key)) {
    return Answer(response, code);
  }
  v2::RateLimitInitResponse answer = response;
  if (uint32_t code = InitLabelsLocked(request, request.target().labels(), request.clientid(), now,
                                       answer.mutable_counters())) {
    return Answer(response, code);
  }
  answer.set_clientkey(client_key);
  answer.set_slidecount(1);
  return Answer(answer, kLimiterSuccess);
}

v2::RateLimitBatchInitResponse QuotaRegistry::BatchInit(
    const v2::RateLimitBatchInitRequest& request) {
  v2::RateLimitBatchInitResponse response;
  const int64_t now = NowMs();
  response.set_timestamp(now);
  if (request.request_size() == 0) return Answer(response, kLimiterInvalidBatchInitReq);
  if (request.clientid().empty()) return Answer(response, kLimiterInvalidClientId);
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t client_key = 0;
  if (uint32_t code = ClientKeyLocked(request.clientid(), &client_key)) {
    return Answer(response, code);
  }
  response.set_clientkey(client_key);
  response.set_code(kLimiterSuccess);
  for (const v2::RateLimitInitRequest& one : request.request()) {
    v2::BatchInitResult* result = response.add_result();
    result->set_slidecount(one.slidecount());
    if (uint32_t code = CheckInit(one, /*batch=*/true)) {
      result->set_code(code);
      *result->mutable_target() = one.target();  // the whole target, to retry
      continue;
    }
    // Success answers name the service only; each window is found by the
    // label string of its LabeledQuotaCounter.
    result->mutable_target()->set_namespace_(one.target().namespace_());
    result->mutable_target()->set_service(one.target().service());
    result->set_code(kLimiterSuccess);
    for (const std::string& labels : one.target().labels_list()) {
      v2::LabeledQuotaCounter* labeled = result->add_counters();
      labeled->set_labels(labels);
      if (uint32_t code =
              InitLabelsLocked(one, labels, request.clientid(), now, labeled->mutable_counters())) {
        result->set_code(code);
        break;
      }
    }
  }
  return response;
}

QuotaRegistry::Counter* QuotaRegistry::FindLocked(uint32_t counter_key, uint32_t* code) {
  const uint32_t index = counter_key & kIndexMask;
  if ((counter_key >> kIndexBits) != kNodeId || index == 0 || index > limits_.max_counters) {
    *code = kLimiterInvalidCounterKey;
    return nullptr;
  }
  if (index > counters_.size()) {
    *code = kLimiterNotFoundLimiter;
    return nullptr;
  }
  return &counters_[index - 1];
}

v2::RateLimitReportResponse QuotaRegistry::Report(const v2::RateLimitReportRequest& request) {
  v2::RateLimitReportResponse response;
  const int64_t now = NowMs();
  response.set_timestamp(now);
  auto fail = [&](uint32_t code) {
    response.set_code(code);
    response.clear_quotalefts();
    return response;
  };
  if (request.clientkey() == 0) return fail(kLimiterInvalidClientKey);
  if (request.timestamp() == 0) return fail(kLimiterInvalidTimestamp);
  if (request.quotauses_size() == 0) return fail(kLimiterInvalidUsedLimit);
  std::lock_guard<std::mutex> lock(mu_);
  // Every key is checked before any counter is charged.
  std::vector<Counter*> counters;
  for (const v2::QuotaSum& use : request.quotauses()) {
    uint32_t code = 0;
    Counter* counter = FindLocked(use.counterkey(), &code);
    if (counter == nullptr) return fail(code);
    counters.push_back(counter);
  }
  for (int i = 0; i < request.quotauses_size(); ++i) {
    const v2::QuotaSum& use = request.quotauses(i);
    Counter& counter = *counters[static_cast<size_t>(i)];
    Roll(&counter, now);
    // Use reported for another window (a client whose clock is off) is not
    // counted: clients align with TimeAdjust.
    if (WindowStart(counter, request.timestamp()) == counter.window_start_ms) {
      counter.used += use.used();
    }
    v2::QuotaLeft* left = response.add_quotalefts();
    left->set_counterkey(use.counterkey());
    left->set_left(Left(counter));
    left->set_mode(v2::BATCH_OCCUPY);
    left->set_clientcount(static_cast<uint32_t>(counter.clients.size()));
  }
  response.set_code(kLimiterSuccess);
  return response;
}

int64_t QuotaRegistry::UsedInWindow(const std::string& name_space, const std::string& service,
                                    const std::string& labels, uint32_t duration_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counter_keys_.find(CounterId{name_space, service, labels, duration_seconds});
  if (it == counter_keys_.end()) return 0;
  Counter& counter = counters_[it->second - 1];
  Roll(&counter, NowMs());
  return counter.used;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
