#include "mockplane/quota_registry.h"

#include <algorithm>

#include "absl/time/time.h"
#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

int64_t QuotaRegistry::NowMs() const { return absl::ToUnixMillis(clock_->Now()); }

void QuotaRegistry::RollLocked(Counter* counter, int64_t now_ms) {
  const int64_t length = int64_t{counter->duration_seconds} * 1000;
  const int64_t start = now_ms - now_ms % length;
  if (start != counter->window_start_ms) {
    counter->window_start_ms = start;
    counter->used = 0;
  }
}

uint32_t QuotaRegistry::ClientKeyLocked(const std::string& client_id) {
  auto it = client_keys_.find(client_id);
  if (it != client_keys_.end()) return it->second;
  const uint32_t key = static_cast<uint32_t>(client_keys_.size()) + 1;
  client_keys_[client_id] = key;
  return key;
}

v2::RateLimitInitResponse QuotaRegistry::Init(const v2::RateLimitInitRequest& request) {
  v2::RateLimitInitResponse response;
  *response.mutable_target() = request.target();
  const int64_t now = NowMs();
  response.set_timestamp(now);
  if (request.target().service().empty() || request.target().namespace_().empty() ||
      request.totals_size() == 0) {
    response.set_code(v1::BadRequest);
    return response;
  }
  std::lock_guard<std::mutex> lock(mu_);
  response.set_clientkey(ClientKeyLocked(request.clientid()));
  response.set_slidecount(1);
  for (const v2::QuotaTotal& total : request.totals()) {
    const uint32_t duration = std::max<uint32_t>(total.duration(), 1);
    auto index = std::make_tuple(request.target().namespace_(), request.target().service(),
                                 request.target().labels(), duration);
    auto found = counter_keys_.find(index);
    uint32_t key;
    if (found == counter_keys_.end()) {
      counters_.emplace_back();
      key = static_cast<uint32_t>(counters_.size());
      counter_keys_[index] = key;
      Counter& counter = counters_.back();
      counter.target = {request.target().namespace_(), request.target().service(),
                        request.target().labels()};
      counter.duration_seconds = duration;
    } else {
      key = found->second;
    }
    Counter& counter = counters_[key - 1];
    counter.max_amount = total.maxamount();  // the latest rule wins
    counter.mode = request.mode();
    counter.clients.insert(request.clientid());
    RollLocked(&counter, now);
    v2::QuotaCounter* out = response.add_counters();
    out->set_duration(duration);
    out->set_counterkey(key);
    out->set_left(counter.max_amount - counter.used);
    out->set_mode(counter.mode);
    out->set_clientcount(static_cast<uint32_t>(counter.clients.size()));
  }
  response.set_code(v1::ExecuteSuccess);
  return response;
}

v2::RateLimitBatchInitResponse QuotaRegistry::BatchInit(
    const v2::RateLimitBatchInitRequest& request) {
  v2::RateLimitBatchInitResponse response;
  response.set_code(v1::ExecuteSuccess);
  for (v2::RateLimitInitRequest one : request.request()) {
    if (one.clientid().empty()) one.set_clientid(request.clientid());
    v2::RateLimitInitResponse init = Init(one);
    response.set_clientkey(init.clientkey());
    response.set_timestamp(init.timestamp());
    v2::BatchInitResult* result = response.add_result();
    result->set_code(init.code());
    *result->mutable_target() = init.target();
    result->set_slidecount(init.slidecount());
    v2::LabeledQuotaCounter* labeled = result->add_counters();
    labeled->set_labels(init.target().labels());
    *labeled->mutable_counters() = init.counters();
  }
  return response;
}

v2::RateLimitReportResponse QuotaRegistry::Report(const v2::RateLimitReportRequest& request) {
  v2::RateLimitReportResponse response;
  const int64_t now = NowMs();
  response.set_timestamp(now);
  std::lock_guard<std::mutex> lock(mu_);
  for (const v2::QuotaSum& use : request.quotauses()) {
    if (use.counterkey() == 0 || use.counterkey() > counters_.size()) {
      response.set_code(v1::NotFoundResource);  // INIT first
      return response;
    }
    Counter& counter = counters_[use.counterkey() - 1];
    RollLocked(&counter, now);
    counter.used += use.used();
    v2::QuotaLeft* left = response.add_quotalefts();
    left->set_counterkey(use.counterkey());
    left->set_left(counter.max_amount - counter.used);
    left->set_mode(counter.mode);
    left->set_clientcount(static_cast<uint32_t>(counter.clients.size()));
  }
  response.set_code(v1::ExecuteSuccess);
  return response;
}

int64_t QuotaRegistry::UsedInWindow(const std::string& name_space, const std::string& service,
                                    const std::string& labels, uint32_t duration_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counter_keys_.find(std::make_tuple(name_space, service, labels, duration_seconds));
  if (it == counter_keys_.end()) return 0;
  Counter& counter = counters_[it->second - 1];
  RollLocked(&counter, NowMs());
  return counter.used;
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris
