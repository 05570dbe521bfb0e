// Helpers the mock services share for writing answers the way the real
// server does: a v1.Code plus its name (or a reason) in `info`, and the
// FNV-1a fingerprints the mock uses for ids and content checksums.
#ifndef GRPC_CPP_POLARIS_MOCKPLANE_WIRE_CODES_H_
#define GRPC_CPP_POLARIS_MOCKPLANE_WIRE_CODES_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "proto/v1/code.pb.h"

namespace grpc_cpp_polaris {
namespace mockplane {

// Sets `code`, and `info` (the code's name when no reason is given).
template <typename Message>
void SetCode(Message* message, v1::Code code, const std::string& info = "") {
  message->mutable_code()->set_value(code);
  message->mutable_info()->set_value(info.empty() ? v1::Code_Name(code) : info);
}

template <typename Message>
Message WithCode(v1::Code code, const std::string& info = "") {
  Message message;
  SetCode(&message, code, info);
  return message;
}

// 64-bit FNV-1a of `text` as 16 hex digits.
inline std::string Fnv1aHex(absl::string_view text) {
  uint64_t hash = 1469598103934665603ULL;
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return absl::StrFormat("%016x", hash);
}

}  // namespace mockplane
}  // namespace grpc_cpp_polaris

#endif  // GRPC_CPP_POLARIS_MOCKPLANE_WIRE_CODES_H_
