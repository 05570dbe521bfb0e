#include "sdk/governance_options.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {

absl::Status GovernanceOptions::Validate() const {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("GovernanceOptions.", field, " ", why));
  };
  std::set<std::string> seen;
  for (size_t i = 0; i < routers.size(); ++i) {
    if (routers[i].empty()) return bad(absl::StrCat("routers[", i, "]"), "is empty");
    if (!seen.insert(routers[i]).second) {
      return bad(absl::StrCat("routers[", i, "]"), absl::StrCat("repeats '", routers[i], "'"));
    }
  }
  if (balancer.empty()) return bad("balancer", "is empty");
  for (char c : hash_key_header) {
    if (c >= 'A' && c <= 'Z') return bad("hash_key_header", "must be lowercase (gRPC metadata keys are)");
  }
  if (nearby.max_match_level < nearby.match_level) {
    return bad("nearby.max_match_level", "is narrower than nearby.match_level");
  }
  if (nearby.unhealthy_percent_to_degrade == 0 || nearby.unhealthy_percent_to_degrade > 100) {
    return bad("nearby.unhealthy_percent_to_degrade", "must be in 1..100");
  }
  if (metadata.failover == MetadataRouterOptions::Failover::kCustom &&
      metadata.failover_metadata.empty()) {
    return bad("metadata.failover_metadata", "is empty but metadata.failover is kCustom");
  }
  if (absl::Status status = circuit_breaking.Validate("GovernanceOptions.circuit_breaking.");
      !status.ok()) {
    return status;
  }
  return warmup.Validate("GovernanceOptions.warmup.");
}

absl::Status WarmupOptions::Validate(absl::string_view prefix) const {
  auto bad = [prefix](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, field, " ", why));
  };
  if (window <= absl::ZeroDuration()) return bad("window", "must be positive");
  if (!(curvature > 0) || curvature > 100) return bad("curvature", "must be in (0, 100]");
  if (overload_threshold_percent == 0 || overload_threshold_percent > 100) {
    return bad("overload_threshold_percent", "must be in 1..100");
  }
  return absl::OkStatus();
}

std::string WarmupOptions::Key() const {
  return absl::StrCat(enabled, ",", absl::ToInt64Nanoseconds(window), ",", curvature, ",",
                      overload_protection, ",", overload_threshold_percent);
}

absl::Status CircuitBreakingOptions::Validate(absl::string_view prefix) const {
  auto bad = [prefix](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, field, " ", why));
  };
  if (absl::Status status = instance.Validate(absl::StrCat(prefix, "instance."));
      !status.ok()) {
    return status;
  }
  for (size_t i = 0; i < failure_codes.size(); ++i) {
    const int code = static_cast<int>(failure_codes[i]);
    if (failure_codes[i] == absl::StatusCode::kOk) {
      return bad(absl::StrCat("failure_codes[", i, "]"),
                 "is OK: a success never counts as a failure");
    }
    if (code < 0 || code > 16) return bad(absl::StrCat("failure_codes[", i, "]"), "is not a gRPC code");
  }
  if (slow_call < absl::ZeroDuration()) return bad("slow_call", "is negative");
  if (max_open_percent > 100) return bad("max_open_percent", "must be in 0..100");
  return active_probe.Validate(absl::StrCat(prefix, "active_probe."));
}

absl::Status ActiveProbeOptions::Validate(absl::string_view prefix) const {
  auto bad = [prefix](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(prefix, field, " ", why));
  };
  if (protocol.empty()) return bad("protocol", "is empty");
  if (interval < absl::Milliseconds(10)) return bad("interval", "must be at least 10ms");
  if (timeout <= absl::ZeroDuration() || timeout > absl::Minutes(1)) {
    return bad("timeout", "must be in (0, 1m]");
  }
  if (port > 65535) return bad("port", "must be in 0..65535");
  return absl::OkStatus();
}

std::string CircuitBreakingOptions::Key() const {
  std::string key = absl::StrCat(
      enabled, ",", instance.consecutive_failures, ",", instance.error_rate_percent, ",",
      instance.min_requests, ",", absl::ToInt64Nanoseconds(instance.window), ",",
      absl::ToInt64Nanoseconds(instance.sleep_window), ",",
      absl::ToInt64Nanoseconds(instance.max_sleep_window), ",", instance.half_open_probes, ",",
      absl::ToInt64Nanoseconds(slow_call), ",", max_open_percent, ",");
  for (absl::StatusCode code : failure_codes) absl::StrAppend(&key, static_cast<int>(code), ";");
  const ActiveProbeOptions& probe = active_probe;
  absl::StrAppend(&key, ",", probe.enabled, ",", probe.protocol.size(), ":", probe.protocol, ",",
                  absl::ToInt64Nanoseconds(probe.interval), ",",
                  absl::ToInt64Nanoseconds(probe.timeout), ",", probe.port, ",",
                  probe.service.size(), ":", probe.service, ",", probe.send.size(), ":",
                  probe.send, ",", probe.receive.size());
  for (const std::string& receive : probe.receive) {
    absl::StrAppend(&key, ";", receive.size(), ":", receive);
  }
  return key;
}

}  // namespace grpc_cpp_polaris
