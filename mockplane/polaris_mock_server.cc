// A standalone mock Polaris control plane for local development: point any
// Polaris client (grpc-cpp-polaris, polaris-go, polaris-java, ...) at it.
//
//   tools/bazel run //mockplane:polaris_mock_server -- --naming_port=8091
//
// Flags:
//   --host=ADDRESS       listen address (default 127.0.0.1)
//   --naming_port=PORT   naming and config API, v1.PolarisGRPC and
//                        v1.PolarisConfigGRPC (default 8091, the real one's)
//   --ratelimit_port=PORT  rate-limit server, polaris.metric.v2 (default 8081)
//   --rules=FILE         JSON rules file to preload (proto/mockplane/rules_file.proto)
//   --mainline_types_only  answer Discover as upstream's mainline server does
//                        (no LANE, CUSTOM_ROUTE_RULE, NEARBY_ROUTE_RULE, ...)
//   --quiet              do not log each request to stderr
// Stops on SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "mockplane/control_plane.h"

namespace {

constexpr char kUsage[] =
    "usage: polaris_mock_server [--host=127.0.0.1] [--naming_port=8091] "
    "[--ratelimit_port=8081] [--rules=FILE] [--mainline_types_only] [--quiet]\n";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "polaris_mock_server: %s\n", problem.c_str());
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  grpc_cpp_polaris::mockplane::ControlPlaneOptions options;
  options.port = 8091;
  options.ratelimit_port = 8081;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (absl::StartsWith(arg, "--host=")) {
      options.host = arg.substr(7);
    } else if (absl::StartsWith(arg, "--naming_port=")) {
      if (!absl::SimpleAtoi(arg.substr(14), &options.port) || options.port < 0 ||
          options.port > 65535) {
        return Usage(absl::StrCat("--naming_port: '", arg.substr(14), "' is not a port"));
      }
    } else if (absl::StartsWith(arg, "--ratelimit_port=")) {
      if (!absl::SimpleAtoi(arg.substr(17), &options.ratelimit_port) ||
          options.ratelimit_port < 0 || options.ratelimit_port > 65535) {
        return Usage(absl::StrCat("--ratelimit_port: '", arg.substr(17), "' is not a port"));
      }
    } else if (absl::StartsWith(arg, "--rules=")) {
      options.rules_file = arg.substr(8);
    } else if (arg == "--mainline_types_only") {
      options.mainline_discover_types_only = true;
    } else if (arg == "--quiet") {
      quiet = true;
    } else {
      return Usage(absl::StrCat("unknown flag '", arg, "'"));
    }
  }
  if (!quiet) {
    options.request_log = [](const std::string& line) {
      std::fprintf(stderr, "%s %s\n",
                   absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()).c_str(),
                   line.c_str());
    };
  }
  // Block the stop signals before gRPC starts its threads, then wait for one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto plane = grpc_cpp_polaris::mockplane::ControlPlane::Start(options);
  if (!plane.ok()) {
    std::fprintf(stderr, "polaris_mock_server: %s\n", plane.status().ToString().c_str());
    return 1;
  }
  std::printf("polaris mock control plane: naming API on %s, rate limit on %s\n",
              (*plane)->address().c_str(), (*plane)->ratelimit_address().c_str());
  std::fflush(stdout);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::fprintf(stderr, "polaris_mock_server: stopping (signal %d)\n", signal);
  return 0;
}
