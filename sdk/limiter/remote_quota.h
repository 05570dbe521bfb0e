// GLOBAL rate limits: quotas shared by every instance of a service and kept
// by a rate-limit server (polaris-limiter, polaris.metric.v2), without a round
// trip per call.
//
// RemoteQuota is one amount ("max per duration") of one GLOBAL window. Its
// windows are fixed and aligned on the rate-limit server's clock (the window
// of time t is t / duration), as the server counts them. In each window this
// instance admits calls up to an allowance:
// - until the server has answered in this window: its local share,
//   ceil(max / instances) -- also all it gets while the server is
//   unreachable, upstream's fallback;
// - once the server has answered a report: what it had admitted when it
//   reported plus its part of what is left cluster-wide,
//   admitted_at_report + ceil(left' / clients), where left' takes off half
//   of what the others reported over the last interval (on average, that
//   much of their use is not reported yet).
// Each client taking at most 1/clients of the remainder between two reports
// keeps the total near the limit, while an instance with more demand than
// others takes what they leave at the next report.
//
// TryTake is the call path: one CAS, no lock, no allocation. Drain and Apply
// belong to the one thread that reports to the server (GlobalQuotaSync).
#ifndef GRPC_CPP_POLARIS_SDK_LIMITER_REMOTE_QUOTA_H_
#define GRPC_CPP_POLARIS_SDK_LIMITER_REMOTE_QUOTA_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sdk/clock.h"
#include "sdk/model.h"

namespace grpc_cpp_polaris {

class RemoteQuota {
 public:
  // `max` calls per `duration` (whole seconds, as the server counts them),
  // shared by `instances` (at least 1).
  RemoteQuota(uint32_t max, absl::Duration duration, uint32_t instances);

  RemoteQuota(const RemoteQuota&) = delete;
  RemoteQuota& operator=(const RemoteQuota&) = delete;

  // Admits one call at server time `server_ms` if the allowance of its
  // window has room; counts a refusal otherwise. `fresh`: whether the server
  // answered lately; when not, the local share caps the window whatever the
  // last answer allowed.
  bool TryTake(int64_t server_ms, bool fresh = true);
  // Undoes a TryTake of the same window (another amount or rule refused).
  void GiveBack(int64_t server_ms);

  // What to report: the window, calls admitted in it since the last report,
  // calls refused since the last report, and all admitted in the window.
  struct Usage {
    int64_t window = 0;
    uint32_t used = 0;
    uint32_t limited = 0;
    int64_t admitted = 0;
  };
  // Takes the usage to report at `server_ms`. One caller at a time.
  Usage Drain(int64_t server_ms);
  // Undoes Drain(): the report carrying `usage` was not delivered, so its
  // use goes into the next one.
  void Undrain(const Usage& usage);
  // The instances sharing the amount changed (a new local share).
  void SetInstances(uint32_t instances);
  // Applies the server's answer to the report `usage`: `left` in the window
  // after it, shared by `clients` (0: unknown). Ignored once the window is
  // over.
  void Apply(const Usage& usage, int64_t left, uint32_t clients, int64_t server_ms);

  uint32_t max() const { return max_; }
  absl::Duration duration() const { return absl::Milliseconds(duration_ms_); }
  int64_t WindowOf(int64_t server_ms) const { return server_ms / duration_ms_; }
  // Calls this instance may still admit in the window of `server_ms`.
  int64_t Remaining(int64_t server_ms) const;
  // Whether the server has answered in the window of `server_ms`.
  bool Synced(int64_t server_ms) const;
  // Whether nothing was admitted in the window of `server_ms`.
  bool Idle(int64_t server_ms) const;

 private:
  // Both atomics pack a window tag (its low 24 bits) above a 40-bit count.
  static constexpr int kCountBits = 40;
  static constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;
  static uint64_t Pack(int64_t window, int64_t count) {
    return (static_cast<uint64_t>(window) << kCountBits) | (static_cast<uint64_t>(count) & kCountMask);
  }
  static bool SameWindow(uint64_t packed, int64_t window) {
    return ((packed >> kCountBits) & 0xFFFFFF) == (static_cast<uint64_t>(window) & 0xFFFFFF);
  }
  static int64_t CountOf(uint64_t packed) { return static_cast<int64_t>(packed & kCountMask); }
  // The calls `admitted` (admitted_'s value) counts in `window`.
  static int64_t AdmittedIn(uint64_t admitted, int64_t window) {
    return SameWindow(admitted, window) ? CountOf(admitted) : 0;
  }
  int64_t AllowanceIn(int64_t window) const;

  const uint32_t max_;
  const int64_t duration_ms_;
  std::atomic<int64_t> share_;
  // Calls admitted in the tagged window.
  std::atomic<uint64_t> admitted_{0};
  // The allowance the server's last answer set for the tagged window.
  std::atomic<uint64_t> allowance_{0};
  std::atomic<bool> synced_once_{false};
  std::atomic<uint32_t> limited_{0};
  // The reporter's: what the last report covered.
  int64_t reported_window_ = -1;
  int64_t reported_admitted_ = 0;
  // The reporter's: the last answer's window and what it said was left.
  int64_t answered_window_ = -1;
  int64_t answered_left_ = 0;
};

// How long a window counts on the server's last answer.
inline constexpr int64_t kGlobalQuotaFreshMs = 1000;

// A GLOBAL window as the rate-limit server knows it: the rule's service,
// the label string naming the window, and one quota per amount.
struct GlobalQuotaTarget {
  ServiceKey service;
  // The rate-limit server's service named by the rule (empty: the default).
  ServiceKey cluster;
  std::string labels;
  // SHARE_EQUALLY: each amount is per instance, the server's total scales
  // with its clients (QuotaMode DIVIDE).
  bool share_equally = false;
  std::vector<std::unique_ptr<RemoteQuota>> quotas;
  // When the server last answered for this window (server ms): while it is
  // silent for a second, the window keeps to its share (or, FAILOVER_PASS,
  // lets calls through).
  std::atomic<int64_t> answered_ms{INT64_MIN / 2};
  // The reporter syncing it right now (null: none): a window whose server
  // changed is never drained by two reporters at once.
  std::atomic<const void*> reporter{nullptr};
  bool Fresh(int64_t server_ms) const {
    return server_ms - answered_ms.load(std::memory_order_relaxed) <= kGlobalQuotaFreshMs;
  }
};

// The rate-limit server as the limiter sees it: its clock, and the windows
// it keeps in sync. Implemented over the network by sdk/quota_client.h.
class GlobalQuotaSync {
 public:
  virtual ~GlobalQuotaSync() = default;
  // The server's time in ms since the epoch (call path: no lock).
  int64_t NowMs() const {
    return clock_->NowNanos() / 1000000 + offset_ms_.load(std::memory_order_relaxed);
  }
  // Keeps `target` in sync until it is destroyed (the sync holds it weakly).
  virtual void Track(const std::shared_ptr<GlobalQuotaTarget>& target) = 0;
  // Whether any rate-limit server answered within the last second before
  // `server_ms` (each window keeps its own: GlobalQuotaTarget::Fresh).
  bool Fresh(int64_t server_ms) const {
    return server_ms - last_answer_ms_.load(std::memory_order_relaxed) <= kGlobalQuotaFreshMs;
  }

 protected:
  void MarkAnswered(int64_t server_ms) {
    last_answer_ms_.store(server_ms, std::memory_order_relaxed);
  }
  // `clock` (not owned) is the limiter's; until SetOffsetMs, its time is
  // mapped onto the local wall clock.
  explicit GlobalQuotaSync(Clock* clock);
  void SetOffsetMs(int64_t offset_ms) { offset_ms_.store(offset_ms, std::memory_order_relaxed); }
  Clock* clock() const { return clock_; }

 private:
  Clock* const clock_;
  std::atomic<int64_t> offset_ms_;
  std::atomic<int64_t> last_answer_ms_{INT64_MIN / 2};
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_LIMITER_REMOTE_QUOTA_H_
