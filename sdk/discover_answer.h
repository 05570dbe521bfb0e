// Decoding of one answer on the Discover stream, defensively: the answer is
// attributed to its service (from the small header fields that precede the
// instances on the wire) before it is decoded in full, so that an answer that
// is too large or malformed fails only the service it is about, with an
// error naming the limit or the field, and never the shared stream.
#ifndef GRPC_CPP_POLARIS_SDK_DISCOVER_ANSWER_H_
#define GRPC_CPP_POLARIS_SDK_DISCOVER_ANSWER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/v1/response.pb.h"

namespace grpc_cpp_polaris {

struct DiscoverAnswer {
  // True when the header fields (code, info, type, service) could be read:
  // only then is the answer attributable to a service.
  bool has_header = false;
  // The whole answer when `status` is OK; otherwise only its header fields.
  v1::DiscoverResponse response;
  // Why the answer cannot be used (too large, malformed field).
  absl::Status status;
};

// Decodes `bytes`, the serialized answer of `total_size` bytes. When
// `total_size` exceeds `max_bytes`, `bytes` may be a prefix: only the header
// is decoded and the status is ResourceExhausted naming the limit.
DiscoverAnswer DecodeDiscoverAnswer(absl::string_view bytes, size_t total_size,
                                    size_t max_bytes);

// How much of an oversized answer DecodeDiscoverAnswer needs to find its
// header (header fields are small and come first on the wire).
inline constexpr size_t kDiscoverHeaderPrefixBytes = 64 * 1024;

}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_SDK_DISCOVER_ANSWER_H_
