// QuotaClient: keeps a server's GLOBAL rate-limit windows in sync with the
// rate-limit server (polaris-limiter, polaris.metric.v2.RateLimitGRPCV2),
// off the call path.
//
// One thread per client finds each window's rate-limit server; one thread
// per rate-limit server (so that one which hangs holds up only its own
// windows) reports every `report_interval` what each window admitted and
// refused since the last report, in one ACQUIRE message, and applies the answer (sdk/limiter/remote_quota.h):
// no round trip per call. Windows with nothing new are left out of all but
// one report in 400 ms. New windows are announced with INIT (their counter
// keys come back; a window the server refuses keeps its local share and is
// announced again 5 s later); TimeAdjust maps the limiter's clock onto the server's on
// connecting and every `time_adjust_interval`. A stream that fails, times
// out or answers with an error code is dropped and opened again after
// `reconnect_backoff`, announcing every window anew; meanwhile windows admit
// their local share.
//
// Which rate-limit server keeps a window is `locate`'s choice (the owner
// resolves the rule's cluster through naming); the client keeps one stream
// per address and closes those no window needs.
#ifndef GRPC_CPP_POLARIS_SDK_QUOTA_CLIENT_H_
#define GRPC_CPP_POLARIS_SDK_QUOTA_CLIENT_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sdk/clock.h"
#include "sdk/limiter/remote_quota.h"

namespace grpc_cpp_polaris {

struct QuotaClientOptions {
  // Required: this server instance's identity at the rate-limit server
  // (each instance counts as one client when amounts are split).
  std::string client_id;
  // Required: "host:port" of the rate-limit server keeping `target`, or
  // empty when none is known yet (the window keeps its local share). Called
  // on the client's thread.
  std::function<std::string(const GlobalQuotaTarget& target)> locate;
  // How often usage is reported (polaris-go: 30-50 ms).
  absl::Duration report_interval = absl::Milliseconds(40);
  absl::Duration time_adjust_interval = absl::Seconds(30);
  // The longest to wait for any answer before dropping the stream.
  absl::Duration answer_timeout = absl::Seconds(1);
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  // The limiter's clock (not owned): the windows' time is this clock plus
  // the offset TimeAdjust measures.
  Clock* clock = Clock::SteadyCoarse();

  absl::Status Validate() const;
};

class QuotaClient final : public GlobalQuotaSync {
 public:
  static absl::StatusOr<std::shared_ptr<QuotaClient>> Start(QuotaClientOptions options);
  // Stops the thread and closes the streams.
  ~QuotaClient() override;

  void Track(const std::shared_ptr<GlobalQuotaTarget>& target) override;
  // Stops reporting and closes the streams (the windows fall back to their
  // local shares). Idempotent; the destructor calls it.
  void Stop();

  struct Stats {
    uint64_t reports = 0;      // ACQUIRE messages answered
    uint64_t inits = 0;        // windows announced and accepted
    uint64_t connects = 0;     // streams opened
    uint64_t failures = 0;     // streams dropped (error, timeout, error code)
    uint64_t refused = 0;      // windows the server refused (retried after 5 s)
    uint64_t time_adjusts = 0;
  };
  Stats stats() const;
  // Windows being kept in sync.
  size_t tracked() const;

 private:
  class Connection;
  explicit QuotaClient(QuotaClientOptions options);
  void Run();
  // One round: every live window reported to its server.
  void Round();

  const QuotaClientOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<GlobalQuotaTarget>> targets_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  // The thread's own.
  std::map<std::string, std::unique_ptr<Connection>> connections_;
  std::mutex stop_mu_;  // one joiner at a time
  std::thread thread_;
};

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_QUOTA_CLIENT_H_
