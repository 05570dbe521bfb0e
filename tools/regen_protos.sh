#!/usr/bin/env bash
# Rewrites the generated proto/ files from the Polaris protocol facts; add a
# root message here when the project starts using another part of the API.
set -euo pipefail
cd "$(dirname "$0")/.."
facts=${POLARIS_WIRE_DIR:-../shared/polaris-wire}/polaris_reference.json
python3 tools/polaris_proto_gen.py "$facts" proto/v1 \
  model.proto routing.proto circuitbreaker.proto fault_detector.proto ratelimit.proto \
  config_file.proto config_file_response.proto grpc_config_api.proto namespace.proto \
  lane.proto lossless.proto block_allow_list.proto traffic_mirroring.proto fault_injection.proto \
  --roots v1.Location v1.Namespace v1.Routing v1.RouteRule v1.RuleRoutingConfig v1.NearbyRoutingConfig \
  v1.MetadataRoutingConfig v1.CircuitBreaker v1.FaultDetector v1.RateLimit \
  v1.ClientConfigFileInfo v1.ClientWatchConfigFileRequest v1.ConfigFile v1.ConfigFileRelease \
  v1.ConfigFilePublishInfo v1.ConfigClientResponse v1.ConfigDiscoverRequest \
  v1.ConfigDiscoverResponse v1.ConfigFileGroupRequest v1.ConfigClientListResponse \
  v1.LaneGroup v1.ServiceSelector v1.ServiceGatewaySelector v1.LosslessRule v1.BlockAllowListRule \
  v1.TrafficMirroring v1.FaultInjection
python3 tools/polaris_proto_gen.py "$facts" proto/metric/v2 \
  ratelimiter.proto grpcapi_ratelimiter.proto --import_prefix proto/metric/v2/ \
  --roots polaris.metric.v2.RateLimitRequest polaris.metric.v2.RateLimitResponse \
  polaris.metric.v2.TimeAdjustRequest polaris.metric.v2.TimeAdjustResponse
