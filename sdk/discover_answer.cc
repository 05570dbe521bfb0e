#include "sdk/discover_answer.h"

#include <map>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include "absl/strings/str_cat.h"

namespace grpc_cpp_polaris {
namespace {

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

// Field numbers of the header, which real servers (and ours) write first.
constexpr int kCodeField = 1;
constexpr int kInfoField = 2;
constexpr int kTypeField = 3;
constexpr int kServiceField = 4;

std::string FieldName(int number) {
  const google::protobuf::FieldDescriptor* field =
      v1::DiscoverResponse::descriptor()->FindFieldByNumber(number);
  return field != nullptr ? field->name() : absl::StrCat("field ", number);
}

// Calls `visit(number, raw_field_bytes, offset)` for each top-level field of
// `bytes` until `visit` returns false. Returns false (and sets `*bad_offset`)
// when a field cannot even be delimited.
template <typename Visit>
bool ForEachField(absl::string_view bytes, Visit visit, size_t* bad_offset) {
  CodedInputStream input(reinterpret_cast<const uint8_t*>(bytes.data()),
                         static_cast<int>(bytes.size()));
  while (true) {
    const size_t start = static_cast<size_t>(input.CurrentPosition());
    const uint32_t tag = input.ReadTag();
    if (tag == 0) {
      if (start == bytes.size()) return true;
      *bad_offset = start;
      return false;
    }
    if (!WireFormatLite::SkipField(&input, tag)) {
      *bad_offset = start;
      return false;
    }
    const size_t end = static_cast<size_t>(input.CurrentPosition());
    if (!visit(WireFormatLite::GetTagFieldNumber(tag), bytes.substr(start, end - start), start)) {
      return true;
    }
  }
}

bool MergeField(absl::string_view raw, v1::DiscoverResponse* response) {
  CodedInputStream input(reinterpret_cast<const uint8_t*>(raw.data()),
                         static_cast<int>(raw.size()));
  return response->MergePartialFromCodedStream(&input) && input.ConsumedEntireMessage();
}

bool IsHeaderField(int number) {
  return number == kCodeField || number == kInfoField || number == kTypeField ||
         number == kServiceField;
}

// Reads only the header fields; stops at the first field past them.
void DecodeHeader(absl::string_view bytes, DiscoverAnswer* answer) {
  size_t bad_offset = 0;
  bool service_seen = false;
  ForEachField(
      bytes,
      [&](int number, absl::string_view raw, size_t) {
        if (!IsHeaderField(number)) return !service_seen;
        if (!MergeField(raw, &answer->response)) return false;
        if (number == kServiceField) service_seen = true;
        return true;
      },
      &bad_offset);
  answer->has_header = service_seen;
}

}  // namespace

DiscoverAnswer DecodeDiscoverAnswer(absl::string_view bytes, size_t total_size,
                                    size_t max_bytes) {
  DiscoverAnswer answer;
  if (total_size > max_bytes) {
    DecodeHeader(bytes, &answer);
    answer.response.clear_instances();
    answer.status = absl::ResourceExhaustedError(absl::StrCat(
        "Discover answer of ", total_size, " bytes exceeds the limit of ", max_bytes,
        " bytes (ControlPlaneOptions.max_discover_answer_bytes)"));
    return answer;
  }
  // Field by field, so that a malformed one is named and the header survives.
  std::map<int, int> occurrences;
  std::string error;
  size_t bad_offset = 0;
  const bool delimited = ForEachField(
      bytes,
      [&](int number, absl::string_view raw, size_t offset) {
        const int index = occurrences[number]++;
        if (MergeField(raw, &answer.response)) return true;
        error = absl::StrCat("DiscoverResponse.", FieldName(number), "[", index,
                             "] is malformed (at byte ", offset, ")");
        return false;
      },
      &bad_offset);
  if (!delimited && error.empty()) {
    error = absl::StrCat("DiscoverResponse is truncated or malformed at byte ", bad_offset,
                         " of ", bytes.size());
  }
  if (error.empty()) {
    answer.has_header = true;
    return answer;
  }
  // Keep what identifies the answer, drop the rest.
  answer.response.Clear();
  DecodeHeader(bytes, &answer);
  answer.status = absl::InvalidArgumentError(error);
  return answer;
}

}  // namespace grpc_cpp_polaris
